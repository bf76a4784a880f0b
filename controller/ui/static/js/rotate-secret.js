// Rotating a node's agent secret from its page: POST
// /api/nodes/{id}/rotate-secret behind a confirmation, and the note that
// shows while a rotation is unfinished.

import { h, setText } from "./dom.js";
import { confirmDialog } from "./modal.js";

// rotateSecret asks, then rotates the node's secret; it resolves to true
// when the controller answered (done or failed), false when the user
// cancelled.
export async function rotateSecret(ctx, node) {
  const answer = await confirmDialog({
    title: "Rotate secret",
    message: h("div", {},
      h("p", {}, `Give ${node.name}'s agent a new secret?`),
      h("p", {}, "The controller makes the secret and hands it to the agent over the signed channel; "
        + "requests keep working throughout and the old secret is refused afterwards. "
        + "Agents of the older design cannot take one this way (see the operations guide).")),
    confirmLabel: "Rotate secret",
  });
  if (!answer) return false;
  try {
    const env = await ctx.api.post(`/api/nodes/${node.id}/rotate-secret`);
    ctx.notify.success(env.message ? `${node.name}: ${env.message}.` : `${node.name}: secret rotated.`);
  } catch (err) {
    ctx.notify.error(err, `Could not rotate the secret of ${node.name}`);
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
    ? "A secret rotation is unfinished: the agent may accept the old and the new secret. Rotate again to finish it."
    : "");
}
