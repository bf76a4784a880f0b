// How a node's drift shows on its card and on its page: out-of-band
// differences the agent still had after the last reconcile, and the
// controller's own changes on their way to the agent.

import { setText } from "./dom.js";
import { driftNow, relativeTime, syncing } from "./format.js";
import { t } from "./i18n.js";

// showDrift fills a node's drift line (driftEl) and sync line (syncEl);
// each is hidden when there is nothing to say.
export function showDrift(driftEl, syncEl, node, now) {
  const d = driftNow(node);
  driftEl.hidden = !d;
  setText(driftEl, d);
  driftEl.title = d ? t("drift.title", { checked: relativeTime(node.drift_checked_at, now) }) : "";
  const s = syncing(node);
  syncEl.hidden = !s;
  setText(syncEl, s);
  syncEl.title = s ? t("drift.syncTitle", { acked: node.acked_generation, desired: node.desired_generation }) : "";
}
