// "My account" (/account), for every signed-in user: who they are and
// their role, a password change (the current password is asked; the
// user's other sessions end), and the second factor: set it up (a QR code
// for an authenticator app, confirmed with a code, then ten recovery
// codes shown once) or turn it off with a code.

import { h, clear } from "./dom.js";
import { buildForm } from "./forms.js";
import { qrCanvas } from "./qr.js";
import { t } from "./i18n.js";

export class AccountView {
  constructor(ctx) {
    this.ctx = ctx;
  }

  mount(main) {
    this.ctx.setTitle(t("account.title"));
    this.who = h("p", { class: "summary", id: "account-who" });
    this.totpBox = h("div", { class: "account-totp", id: "account-totp" });
    main.append(h("section", { class: "page narrow account" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("account.title")), this.who)),
      h("section", { class: "account-section", "aria-labelledby": "account-password-title" },
        h("h2", { id: "account-password-title" }, t("account.changePassword")),
        this.passwordForm()),
      h("section", { class: "account-section", "aria-labelledby": "account-totp-title" },
        h("h2", { id: "account-totp-title" }, t("account.twoFactor")),
        this.totpBox)));
    this.load();
  }

  unmount() {}

  async load() {
    try {
      this.me = await this.ctx.api.me();
    } catch (err) {
      this.ctx.notify.error(err, t("account.loadFailed"));
      return;
    }
    this.who.textContent = t("account.who", { name: this.me.username, role: t(`users.roleName.${this.me.role}`) });
    this.showTOTP();
  }

  passwordForm() {
    const f = buildForm({
      fields: [
        { name: "current_password", label: t("account.currentPassword"), type: "password", required: true, autocomplete: "current-password" },
        { name: "new_password", label: t("users.newPassword"), type: "password", required: true, autocomplete: "new-password", help: t("users.passwordRule") },
        { name: "repeat", label: t("account.repeatPassword"), type: "password", required: true, autocomplete: "new-password" },
      ],
      submitLabel: t("account.changePassword"),
    });
    f.form.id = "password-form";
    f.cancel.hidden = true;
    f.form.addEventListener("submit", async (e) => {
      e.preventDefault();
      f.clearErrors();
      const current = f.input("current_password").value;
      const next = f.input("new_password").value;
      if (next !== f.input("repeat").value) {
        f.setError("repeat", t("account.passwordsDiffer"));
        f.input("repeat").focus();
        return;
      }
      f.setBusy(true);
      try {
        await this.ctx.api.post("/api/me/password", { current_password: current, new_password: next });
        f.form.reset();
        this.ctx.notify.success(t("account.passwordChanged"));
      } catch (err) {
        if (!err.unauthorized) f.showError(err);
      } finally {
        f.setBusy(false);
      }
    });
    return f.form;
  }

  showTOTP() {
    clear(this.totpBox);
    if (this.me.kind !== "user") {
      this.totpBox.append(h("p", {}, t("account.tokenNoTOTP")));
      return;
    }
    if (this.me.totp_enabled) {
      this.totpBox.append(h("p", { id: "totp-status" }, t("account.totpOn")));
      this.totpBox.append(this.codeForm({
        label: t("login.code"), submitLabel: t("users.resetTOTP"), id: "totp-disable-form", danger: true,
        send: (code) => this.ctx.api.post("/api/me/totp/disable", { code }),
        done: () => {
          this.ctx.notify.success(t("account.totpOffDone"));
          this.me.totp_enabled = false;
          this.showTOTP();
        },
      }));
      return;
    }
    const start = h("button", { type: "button", class: "btn btn-primary", id: "totp-start" }, t("account.totpStart"));
    start.addEventListener("click", () => this.enrol(start));
    this.totpBox.append(h("p", { id: "totp-status" }, t("account.totpOff")), start);
  }

  async enrol(start) {
    start.disabled = true;
    let en;
    try {
      en = (await this.ctx.api.post("/api/me/totp")).data;
    } catch (err) {
      start.disabled = false;
      this.ctx.notify.error(err, t("account.totpStartFailed"));
      return;
    }
    clear(this.totpBox);
    let qr;
    try {
      qr = await qrCanvas(en.qr_png, t("account.qrLabel"), { id: "totp-qr", cls: "totp-qr" });
    } catch {
      qr = h("p", { class: "form-error" }, t("account.qrFailed"));
    }
    this.totpBox.append(
      h("ol", { class: "totp-steps" },
        h("li", {}, t("account.totpStep1")),
        h("li", {}, t("account.totpStep2"))),
      qr,
      h("p", {}, t("account.key"), " ", h("code", { class: "mono totp-secret", id: "totp-secret" }, en.secret)),
      this.codeForm({
        label: t("account.codeFromApp"), submitLabel: t("account.confirm"), id: "totp-confirm-form",
        send: (code) => this.ctx.api.post("/api/me/totp/confirm", { code }),
        done: (env) => this.showRecoveryCodes(env.data.recovery_codes || []),
      }));
  }

  showRecoveryCodes(codes) {
    this.me.totp_enabled = true;
    clear(this.totpBox);
    const list = h("ol", { class: "recovery-codes mono", id: "recovery-codes" }, codes.map((c) => h("li", {}, c)));
    const done = h("button", { type: "button", class: "btn btn-primary", id: "recovery-done" }, t("account.recoverySaved"));
    done.addEventListener("click", () => this.showTOTP());
    this.totpBox.append(
      h("p", { class: "notice", role: "status" }, t("account.recoveryIntro")),
      list, done);
    done.focus();
  }

  // codeForm is a one-field form that sends a code and calls done with the
  // answer; a wrong code is shown beside the field.
  codeForm({ label, submitLabel, id, send, done, danger = false }) {
    const f = buildForm({
      fields: [{ name: "code", label, required: true, autocomplete: "one-time-code" }],
      submitLabel,
    });
    f.form.id = id;
    f.cancel.hidden = true;
    f.input("code").setAttribute("inputmode", "text");
    if (danger) f.submit.className = "btn btn-danger";
    f.form.addEventListener("submit", async (e) => {
      e.preventDefault();
      f.clearErrors();
      const code = f.values().code;
      if (!code) {
        f.setError("code", t("account.enterCode"));
        f.input("code").focus();
        return;
      }
      f.setBusy(true);
      try {
        done(await send(code));
      } catch (err) {
        if (!err.unauthorized) f.showError(err);
      } finally {
        f.setBusy(false);
      }
    });
    return f.form;
  }
}
