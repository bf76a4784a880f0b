// A message with its detail: the sentence a person acts on, and behind a
// disclosure (<details>) what lies under it (the API's "detail": the error
// chain of an agent that could not be reached), for whoever debugs.

import { clear, h } from "./dom.js";
import { t } from "./i18n.js";

// showMessage fills el with message and, when detail is given and says
// more, a closed disclosure with the detail. A refresh that changes
// neither touches nothing, so an opened disclosure stays open.
export function showMessage(el, message, detail = "") {
  const more = detail && detail !== message ? detail : "";
  if (el.dataset.message === message && (el.dataset.detail || "") === more) return;
  el.dataset.message = message;
  el.dataset.detail = more;
  clear(el);
  el.append(h("span", { class: "message-text" }, message), disclosure(more));
}

// disclosure is a closed <details> that shows detail, or null for none.
export function disclosure(detail) {
  if (!detail) return null;
  return h("details", { class: "message-detail" },
    h("summary", {}, t("detail.summary")),
    h("p", { class: "mono" }, detail));
}
