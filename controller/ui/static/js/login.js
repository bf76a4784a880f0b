// The sign-in page.

import { h } from "./dom.js";
import { t } from "./i18n.js";

export class LoginView {
  // options: message (shown above the form: why the operator is here),
  // onSignedIn(me) once a session exists.
  constructor(ctx, { message = null, onSignedIn }) {
    this.ctx = ctx;
    this.message = message;
    this.onSignedIn = onSignedIn;
  }

  mount(main) {
    this.ctx.setTitle(t("login.title"));
    const user = h("input", { id: "login-username", name: "username", autocomplete: "username", required: true, autocapitalize: "off", spellcheck: "false" });
    const pass = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const code = h("input", { id: "login-code", name: "totp_code", autocomplete: "one-time-code", autocapitalize: "off", spellcheck: "false" });
    const codeField = h("div", { class: "field", id: "login-code-field", hidden: true },
      h("label", { for: code.id }, t("login.code")), code);
    const error = h("p", { class: "form-error", id: "login-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("login.submit"));
    const form = h("form", { class: "form login-form", novalidate: true },
      this.message ? h("p", { class: "notice", id: "login-message" }, this.message) : null,
      error,
      h("div", { class: "field" }, h("label", { for: user.id }, t("login.username")), user),
      h("div", { class: "field" }, h("label", { for: pass.id }, t("login.password")), pass),
      codeField,
      submit);
    main.append(h("section", { class: "page login" },
      h("div", { class: "login-card" }, h("h1", {}, t("login.heading")), form)));

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      if (!user.value.trim() || !pass.value) {
        error.textContent = t("login.missing");
        error.hidden = false;
        (user.value.trim() ? pass : user).focus();
        return;
      }
      submit.disabled = true;
      try {
        const me = await this.ctx.api.signIn(user.value.trim(), pass.value, codeField.hidden ? "" : code.value.trim());
        pass.value = "";
        code.value = "";
        this.onSignedIn(me);
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
        if (err.data && err.data.totp_required) {
          // The password was right: ask for the second factor.
          codeField.hidden = false;
          code.select();
          code.focus();
          return;
        }
        pass.select();
        pass.focus();
      } finally {
        submit.disabled = false;
      }
    });
    setTimeout(() => user.focus(), 0);
  }

  unmount() {}
}
