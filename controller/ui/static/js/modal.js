// Modal dialogs on the native <dialog> element: the rest of the page is
// inert while one is open, Tab and Shift+Tab cycle inside it, Escape
// closes it, and focus goes back to where it was.

import { h, focusable } from "./dom.js";
import { t } from "./i18n.js";

let serial = 0; // ids for aria-labelledby; only ever increases

// openModal shows a dialog with a title and content (a node). It returns
// {dialog, body, close(result), closed}: closed is a promise of the result
// given to close (undefined when dismissed with Escape or the × button).
// onClose runs once after the dialog has closed. Focus goes back to the
// element that had it when the dialog opened; when that one has left the
// page meanwhile (its row was removed) or is disabled now, to
// fallbackFocus, if given.
export function openModal({ title, content, wide = false, onClose = () => {}, fallbackFocus = null }) {
  const titleId = `modal-title-${++serial}`;
  const opener = document.activeElement;
  const closeButton = h("button", { type: "button", class: "btn btn-icon", "aria-label": t("modal.close") }, "×");
  const body = h("div", { class: "modal-body" }, content);
  const dialog = h("dialog", { class: wide ? "modal modal-wide" : "modal", "aria-labelledby": titleId },
    h("div", { class: "modal-head" }, h("h2", { id: titleId }, title), closeButton),
    body);

  let result;
  let resolve;
  const closed = new Promise((r) => { resolve = r; });
  const close = (value) => {
    result = value;
    if (dialog.open) dialog.close();
  };
  closeButton.addEventListener("click", () => close(undefined));
  dialog.addEventListener("keydown", (e) => {
    if (e.key === "Tab") trapTab(dialog, e);
  });
  // A click on the backdrop (the dialog element itself, outside its box)
  // dismisses it, like Escape.
  dialog.addEventListener("click", (e) => {
    if (e.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
    if (!inside) close(undefined);
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && opener.isConnected && !opener.disabled && typeof opener.focus === "function") opener.focus();
    else if (fallbackFocus && fallbackFocus.isConnected) fallbackFocus.focus();
    onClose(result);
    resolve(result);
  });

  document.body.append(dialog);
  dialog.showModal();
  // Focus the first field, else the first action, else the dialog's close
  // button: never leave focus behind the modal.
  const first = focusable(body)[0] || closeButton;
  first.focus();
  return { dialog, body, close, closed };
}

function trapTab(dialog, e) {
  const items = focusable(dialog);
  if (items.length === 0) {
    e.preventDefault();
    return;
  }
  const first = items[0];
  const last = items[items.length - 1];
  if (e.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
}

// confirmDialog asks a yes/no question. message is a string or a node;
// option, when given ({label, required}), adds a checkbox (e.g. "also
// delete its peers"); a required one must be ticked before the confirm
// button works. It resolves to null when declined, else {option: boolean}.
export function confirmDialog({ title, message, confirmLabel = t("modal.ok"), danger = false, option = null }) {
  const box = option ? h("input", { type: "checkbox", id: `confirm-option-${++serial}` }) : null;
  const yes = h("button", { type: "submit", class: danger ? "btn btn-danger" : "btn btn-primary" }, confirmLabel);
  const no = h("button", { type: "button", class: "btn" }, t("modal.cancel"));
  const form = h("form", { class: "confirm", method: "dialog" },
    h("div", { class: "confirm-message" }, message),
    box && h("div", { class: "check" }, box, h("label", { for: box.id }, option.label)),
    h("div", { class: "form-actions" }, no, yes));
  if (box && option.required) {
    yes.disabled = true;
    box.addEventListener("change", () => { yes.disabled = !box.checked; });
  }
  const m = openModal({ title, content: form });
  no.addEventListener("click", () => m.close(null));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (yes.disabled) return;
    m.close({ option: box ? box.checked : false });
  });
  // Focus the safe choice first.
  no.focus();
  return m.closed.then((r) => r || null);
}
