// Messages for the operator: short-lived toasts for the outcome of an
// action, and one banner for a lasting problem (the controller cannot be
// reached). Both are live regions, so screen readers announce them.

import { h } from "./dom.js";
import { t } from "./i18n.js";
import { disclosure } from "./detail.js";

const SUCCESS_MS = 5000;
const ERROR_MS = 12000;

export class Notifier {
  constructor(toasts, banner) {
    this.toasts = toasts;
    this.bannerEl = banner;
  }

  success(message) {
    this.toast(message, "success", SUCCESS_MS);
  }

  // error shows an error's message. An ApiError for a session that ended
  // is skipped: the sign-in page already says so.
  error(err, prefix = "") {
    if (err && err.unauthorized) return;
    let msg = t("notify.unknownError");
    if (typeof err === "string") msg = err;
    else if (err && (err.fieldMessage || err.message)) msg = err.fieldMessage || err.message;
    const detail = (err && typeof err === "object" && err.detail) || "";
    this.toast(prefix ? t("notify.prefixed", { prefix, message: msg }) : msg, "error", ERROR_MS, detail);
  }

  // toast shows message (with detail behind a disclosure, if any) for ms.
  toast(message, kind, ms, detail = "") {
    const close = h("button", { type: "button", class: "btn btn-icon", "aria-label": t("notify.dismiss") }, "×");
    const body = h("div", { class: "toast-body" }, h("p", {}, message), disclosure(detail !== message ? detail : ""));
    const el = h("div", { class: `toast toast-${kind}` }, body, close);
    const remove = () => el.remove();
    close.addEventListener("click", remove);
    this.toasts.append(el);
    setTimeout(remove, ms);
    // Keep a handful at most.
    while (this.toasts.children.length > 4) this.toasts.firstChild.remove();
  }

  // banner shows message until it is called again with null.
  banner(message) {
    if (!message) {
      this.bannerEl.hidden = true;
      this.bannerEl.textContent = "";
      return;
    }
    if (this.bannerEl.textContent !== message) this.bannerEl.textContent = message;
    this.bannerEl.hidden = false;
  }

  clear() {
    this.banner(null);
    while (this.toasts.firstChild) this.toasts.firstChild.remove();
  }
}
