// A peer's lifecycle in the UI: why it is off its node (status), its
// expiry, and its usage against its data limit; the form fields for them
// and the reset-usage action. Pure helpers take the current time as a
// parameter, like format.js.

import { h, setText } from "./dom.js";
import { bytes, handshakeStatus, toDate } from "./format.js";
import { t } from "./i18n.js";

export { statusText } from "./format.js";

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const GIB = 1024 ** 3;

// OFF_STATUSES are the API's statuses of a peer that is off its node.
export const OFF_STATUSES = ["restricted", "expired", "over_limit"];

// peerStatus is what a peer row's badge says: why the peer is off its
// node (the API's status: restricted, expired, over_limit), or, when it
// is on it, the age of its last handshake (active, idle, never).
export function peerStatus(peer, now = Date.now()) {
  if (OFF_STATUSES.includes(peer.status)) return peer.status;
  if (!peer.status && !peer.enabled) return "restricted"; // an API from before statuses
  return handshakeStatus(peer.latest_handshake, now);
}


// hasLimit reports whether the peer has a data limit.
export function hasLimit(peer) {
  return Number(peer.data_limit_bytes) > 0;
}

// usageText is the peer's usage against its limit, "1.2 GiB / 5 GiB", or
// "" when it has none.
export function usageText(peer) {
  if (!hasLimit(peer)) return "";
  return `${bytes(peer.usage_bytes)} / ${bytes(peer.data_limit_bytes)}`;
}

// usageFraction is how much of its limit the peer used, 0 to 1 (0 when it
// has no limit).
export function usageFraction(peer) {
  if (!hasLimit(peer)) return 0;
  return Math.min(1, Math.max(0, (Number(peer.usage_bytes) || 0) / Number(peer.data_limit_bytes)));
}

// expiryText says when the peer expires or expired: "expires in 3 days",
// "expires in 5 h", "expired 2 h ago"; "" when it never does.
export function expiryText(peer, now = Date.now()) {
  const d = toDate(peer.expires_at);
  if (!d) return "";
  const left = d.getTime() - now;
  const span = (ms) => {
    if (ms < MINUTE) return t("lifecycle.underAMinute");
    if (ms < HOUR) return t("lifecycle.minutes", { count: Math.floor(ms / MINUTE) });
    if (ms < DAY) return t("lifecycle.hours", { count: Math.floor(ms / HOUR) });
    return t("lifecycle.days", { count: Math.floor(ms / DAY) });
  };
  return left > 0 ? t("lifecycle.expiresIn", { span: span(left) }) : t("lifecycle.expiredAgo", { span: span(-left) });
}

// toLocalInput writes an API time as a datetime-local input's value (the
// browser's time zone, to the minute); "" for none.
export function toLocalInput(value) {
  const d = toDate(value);
  if (!d) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// fromLocalInput reads a datetime-local value as the API's RFC 3339 time,
// or null for an empty one (never). A value the browser cannot read goes
// to the API as it is, which says what is wrong beside the field.
export function fromLocalInput(s) {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

// gibToBytes reads the form's limit in GiB (decimals allowed) as bytes;
// empty or 0 is no limit (null). A non-number goes to the API as it is.
export function gibToBytes(v) {
  if (v === undefined || v === "" || v === 0) return null;
  const n = Number(v);
  return Number.isFinite(n) ? Math.round(n * GIB) : v;
}

// bytesToGib is a limit in bytes as the form's GiB, "" for none.
export function bytesToGib(n) {
  if (!(Number(n) > 0)) return "";
  return String(Math.round((Number(n) / GIB) * 1000) / 1000);
}

// lifecycleFields are the peer form's fields for expiry and limits.
export function lifecycleFields(peer) {
  return [
    {
      name: "expires_at", label: t("lifecycle.expires"), type: "datetime-local", value: toLocalInput(peer?.expires_at),
      help: t("lifecycle.expiresHelp"),
    },
    {
      name: "data_limit_gib", label: t("lifecycle.limit"), type: "number", step: "any", value: bytesToGib(peer?.data_limit_bytes), placeholder: t("lifecycle.noLimit"),
      help: t("lifecycle.limitHelp"),
    },
    {
      name: "limit_action", label: t("lifecycle.atLimit"), type: "select", value: peer?.limit_action || "restrict",
      options: [{ value: "restrict", label: t("lifecycle.actionRestrict") }, { value: "delete", label: t("lifecycle.actionDelete") }],
    },
  ];
}

// lifecycleBody is the API's fields from the form's values.
export function lifecycleBody(v) {
  return { expires_at: fromLocalInput(v.expires_at), data_limit_bytes: gibToBytes(v.data_limit_gib), limit_action: v.limit_action };
}

// resetUsage starts counting the peer's usage again (and brings back a
// peer its limit restricted). It resolves to the peer, or null after
// showing why it failed.
export async function resetUsage(ctx, peer, label) {
  try {
    const env = await ctx.api.post(`/api/peers/${peer.id}/reset-usage`);
    ctx.notify.success(t("common.labelled", { label, message: env.message || t("lifecycle.usageReset") }));
    return env.data;
  } catch (err) {
    ctx.notify.error(err, t("lifecycle.resetFailed", { label }));
    return null;
  }
}

// UsageMeter is the lifecycle line of a peer's row: its usage against its
// data limit ("1.2 GiB / 5 GiB" beside a meter; hidden without a limit)
// and its expiry ("expires in 3 days"; hidden when it never does).
export class UsageMeter {
  constructor() {
    this.text = h("span", { class: "usage-text" });
    this.meter = h("meter", { class: "usage-meter", min: "0", max: "1", low: "0.75", high: "0.9", optimum: "0" });
    this.usage = h("span", { class: "usage", hidden: true }, this.meter, this.text);
    this.expiry = h("span", { class: "expiry", hidden: true });
    this.el = h("span", { class: "lifecycle" }, this.usage, this.expiry);
  }

  update(peer, now) {
    const text = usageText(peer);
    this.usage.hidden = !text;
    setText(this.text, text);
    const fraction = usageFraction(peer);
    this.meter.value = fraction;
    this.meter.setAttribute("aria-label", t("lifecycle.dataUsed", { usage: text }));
    this.meter.title = t("lifecycle.percentOfLimit", { percent: Math.round(fraction * 100) });
    this.usage.classList.toggle("over", peer.status === "over_limit");
    const exp = expiryText(peer, now);
    this.expiry.hidden = !exp;
    setText(this.expiry, exp);
    this.expiry.title = peer.expires_at ? new Date(peer.expires_at).toLocaleString() : "";
    this.expiry.classList.toggle("past", peer.status === "expired");
  }
}
