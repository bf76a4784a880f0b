// Formatting of times, sizes and statuses for people. Pure functions: the
// current time is a parameter so that they are easy to reason about. The
// words are the catalog's (i18n.js), in the page's language.

import { t } from "./i18n.js";

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ACTIVE_HANDSHAKE is how recent a peer's last handshake must be for it to
// count as active. WireGuard renews a session every 2 minutes while
// traffic flows, so an active peer's handshake is never much older.
export const ACTIVE_HANDSHAKE = 3 * MINUTE;

// toDate parses an API timestamp; null, "" and the zero time are null.
export function toDate(value) {
  if (!value) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return null;
  return d;
}

// relativeTime says how long ago value was: "just now", "42 s ago",
// "5 min ago", "3 h ago", "2 days ago", then the date. never is what a
// missing time reads as.
export function relativeTime(value, now = Date.now(), never = t("format.never")) {
  const d = toDate(value);
  if (!d) return never;
  const ago = now - d.getTime();
  if (ago < 10 * 1000) return t("format.justNow"); // also a clock slightly ahead of ours
  if (ago < MINUTE) return t("format.secondsAgo", { count: Math.floor(ago / 1000) });
  if (ago < HOUR) return t("format.minutesAgo", { count: Math.floor(ago / MINUTE) });
  if (ago < DAY) return t("format.hoursAgo", { count: Math.floor(ago / HOUR) });
  const days = Math.floor(ago / DAY);
  if (days < 30) return t("format.daysAgo", { count: days });
  return d.toISOString().slice(0, 10);
}

// untilTime says how long until value: "in under a minute", "in 5 min",
// "in 3 h", "in 2 days"; "now" once it has passed.
export function untilTime(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return "";
  const ms = d.getTime() - now;
  if (ms <= 0) return t("format.now");
  if (ms < MINUTE) return t("format.inUnderAMinute");
  if (ms < HOUR) return t("format.inMinutes", { count: Math.round(ms / MINUTE) });
  if (ms < 48 * HOUR) return t("format.inHours", { count: Math.round(ms / HOUR) });
  return t("format.inDays", { count: Math.round(ms / DAY) });
}

// absoluteTime is the full local date and time, for tooltips.
export function absoluteTime(value) {
  const d = toDate(value);
  return d ? d.toLocaleString() : "";
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

// bytes writes a byte count in binary units: "0 B", "512 B", "1.5 KiB",
// "23 MiB" (one decimal below 10, none above).
export function bytes(n) {
  let v = Number(n) || 0;
  if (v < 0) v = 0;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  const s = v < 10 ? v.toFixed(1) : Math.round(v).toString();
  return `${s.replace(/\.0$/, "")} ${UNITS[i]}`;
}

// handshakeStatus is a peer's liveness from its last handshake: "active"
// (within ACTIVE_HANDSHAKE), "idle" (older) or "never".
export function handshakeStatus(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return "never";
  return now - d.getTime() < ACTIVE_HANDSHAKE ? "active" : "idle";
}

// nodeStatus is the badge a node shows: a disabled node is "disabled"
// whatever its last poll said; a status the UI does not know is "unknown".
export function nodeStatus(node) {
  if (!node.enabled) return "disabled";
  const known = ["online", "offline", "error", "disabled", "unknown"];
  return known.includes(node.status) ? node.status : "unknown";
}

// peerCapacity is "3 / 100", or "3 (no limit)" when max_peers is 0.
export function peerCapacity(node) {
  const n = node.peer_count ?? 0;
  return node.max_peers > 0 ? t("format.capacity", { count: n, max: node.max_peers }) : t("format.capacityNoLimit", { count: n });
}

// driftNow describes the out-of-band drift a node's agent still had
// after its last reconcile (drift_current), or "" when it had none.
export function driftNow(node) {
  const n = node.drift_current || 0;
  return n > 0 ? t("format.driftNow", { count: n }) : "";
}

// syncing says that an enabled node's agent has not acknowledged the
// controller's latest changes yet (desired and acknowledged generations
// differ): "Syncing…", or "Waiting for the agent…" while the node is
// offline or failing. "" when there is nothing on its way.
export function syncing(node) {
  if (!node.enabled || node.desired_generation === node.acked_generation) return "";
  return node.status === "offline" || node.status === "error" ? t("format.waitingForAgent") : t("format.syncing");
}

// driftSummary is a node's drift now and in all (drift_count only grows):
// "none", "2 differences now; seen 3 times in all", or "not checked yet".
export function driftSummary(node) {
  if (!toDate(node.drift_checked_at)) return t("format.driftNotChecked");
  const n = node.drift_current || 0;
  const now = n > 0 ? t("format.differences", { count: n }) : t("format.driftNone");
  const count = node.drift_count || 0;
  return count > 0 ? t("format.driftHistory", { now, times: t("format.times", { count }) }) : now;
}

// apiPaths says where a node's agent serves its peer endpoints (api_paths):
// "bare" (/wg/…), "v1" (/v1/wg/… only), or "" before the controller found out.
export function apiPaths(paths) {
  switch (paths) {
    case "bare": return t("format.pathsBare");
    case "v1": return t("format.pathsV1");
  }
  return t("format.pathsUnknown");
}

// agentVersion is the version the node's agent reported, or "unknown"
// before it answered /health.
export function agentVersion(node) {
  return node.agent_version || t("format.unknown");
}

// statusText is a status of the API (a node's online, offline…, a peer's
// active, over_limit…) for people, in the page's language: "over limit"
// rather than "over_limit".
export function statusText(status) {
  return t(`status.${status}`);
}
