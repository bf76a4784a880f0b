// Rotating a node's agent secret from its page: POST
// /api/nodes/{id}/rotate-secret behind a confirmation, and the note that
// shows while a rotation is unfinished.

import { h, setText } from "./dom.js";
import { confirmDialog } from "./modal.js";
import { t } from "./i18n.js";

// rotateSecret asks, then rotates the node's secret; it resolves to true
// when the controller answered (done or failed), false when the user
// cancelled.
export async function rotateSecret(ctx, node) {
  const answer = await confirmDialog({
    title: t("rotate.title"),
    message: h("div", {},
      h("p", {}, t("rotate.question", { name: node.name })),
      h("p", {}, t("rotate.explain"))),
    confirmLabel: t("rotate.title"),
  });
  if (!answer) return false;
  try {
    const env = await ctx.api.post(`/api/nodes/${node.id}/rotate-secret`);
    ctx.notify.success(t("common.labelled", { label: node.name, message: env.message ? `${env.message}.` : t("rotate.done") }));
  } catch (err) {
    ctx.notify.error(err, t("rotate.failed", { name: node.name }));
  }
  return true;
}

// rotationNote is the element that says a rotation is unfinished;
// showRotation fills it for node.
export function rotationNote() {
  return h("p", { class: "drift rotation-note", hidden: true });
}

export function showRotation(el, node) {
  const unfinished = Boolean(node.secret_rotating);
  el.hidden = !unfinished;
  setText(el, unfinished
    ? t("rotate.unfinished")
    : "");
}
