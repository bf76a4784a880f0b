// The users page (/users, admins only): every user with their role and
// whether they have a second factor; add a user, change a role, reset a
// password, turn off a lost second factor, delete. The API refuses what
// would leave no admin, and says so.

import { h, clear, setText } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog } from "./modal.js";
import { absoluteTime } from "./format.js";
import { t } from "./i18n.js";

// ROLES are the roles a user may have, least first.
const ROLES = ["viewer", "operator", "admin"];

const roleOptions = () => ROLES.map((r) => ({ value: r, label: t(`users.roleOption.${r}`) }));

// name is the parameters of a message about user u.
const name = (u) => ({ name: u.username });

// passwordOf reads a password field as typed: unlike other fields, it is
// not trimmed.
const passwordOf = (f, name) => f.input(name).value;

export class UsersView {
  constructor(ctx) {
    this.ctx = ctx;
  }

  mount(main) {
    this.ctx.setTitle(t("users.title"));
    const add = h("button", { type: "button", class: "btn btn-primary", id: "add-user", "data-min-role": "admin" }, t("users.add"));
    add.addEventListener("click", () => this.add());
    this.summary = h("p", { class: "summary", id: "users-summary" });
    this.body = h("tbody", {});
    this.table = h("table", { class: "peers users-table", id: "users-table" },
      h("caption", { class: "visually-hidden" }, t("users.title")),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("users.username")), h("th", { scope: "col" }, t("users.role")),
        h("th", { scope: "col" }, t("users.twoFactor")), h("th", { scope: "col" }, t("users.created")),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("users.actions"))))),
      this.body);
    this.loading = h("p", { class: "loading" }, t("users.loading"));
    main.append(h("section", { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("users.title")), this.summary), add),
      h("p", { class: "intro" }, t("users.intro")),
      this.loading, h("div", { class: "table-wrap" }, this.table)));
    this.refresh();
  }

  unmount() {}

  async refresh() {
    try {
      const users = (await this.ctx.api.get("/api/users")).data || [];
      this.render(users);
    } catch (err) {
      if (err.status === 403) {
        // Not an admin (the page was reached by its address).
        this.loading.textContent = t("users.adminOnly");
        return;
      }
      this.ctx.notify.error(err, t("users.listFailed"));
    }
  }

  render(users) {
    this.loading.hidden = true;
    clear(this.body);
    for (const u of users) this.body.append(this.row(u));
    setText(this.summary, t("users.count", { count: users.length }));
  }

  row(u) {
    const btn = (label, named, action, cls = "btn btn-small") =>
      h("button", { type: "button", class: cls, dataset: { action }, "aria-label": named }, label);
    const role = btn(t("users.changeRole"), t("users.changeRoleNamed", name(u)), "role");
    const reset = btn(t("users.resetPassword"), t("users.resetPasswordNamed", name(u)), "reset-password");
    const totp = u.totp_enabled ? btn(t("users.resetTOTP"), t("users.resetTOTPNamed", name(u)), "reset-totp") : null;
    const del = btn(t("common.delete"), t("common.deleteNamed", name(u)), "delete", "btn btn-small btn-danger-text");
    role.addEventListener("click", () => this.changeRole(u));
    reset.addEventListener("click", () => this.resetPassword(u));
    if (totp) totp.addEventListener("click", () => this.resetTOTP(u));
    del.addEventListener("click", () => this.remove(u));
    return h("tr", { dataset: { userId: u.id, username: u.username } },
      h("th", { scope: "row", dataset: { label: t("users.username") } }, u.username),
      h("td", { class: "user-role", dataset: { label: t("users.role") } }, h("span", { class: `badge role-${u.role}` }, t(`users.roleName.${u.role}`))),
      h("td", { dataset: { label: t("users.twoFactor") } }, u.totp_enabled ? t("users.on") : t("users.off")),
      h("td", { dataset: { label: t("users.created") } }, absoluteTime(u.created_at)),
      h("td", { class: "row-actions" }, h("div", {}, role, reset, totp, del)));
  }

  async add() {
    const created = await formModal({
      title: t("users.add"),
      fields: [
        { name: "username", label: t("users.username"), required: true, autocomplete: "off" },
        { name: "password", label: t("users.password"), type: "password", required: true, autocomplete: "new-password",
          help: t("users.passwordHelp") },
        { name: "role", label: t("users.role"), type: "select", options: roleOptions(), value: "viewer" },
      ],
      submitLabel: t("users.add"),
      onSubmit: async (v, f) => {
        const env = await this.ctx.api.post("/api/users", { username: v.username, password: passwordOf(f, "password"), role: v.role });
        return env.data;
      },
    });
    if (created) {
      this.ctx.notify.success(t("users.added", { name: created.username, role: t(`users.roleName.${created.role}`) }));
      this.refresh();
    }
  }

  async changeRole(u) {
    const done = await formModal({
      title: t("users.roleTitle", name(u)),
      intro: t("users.roleIntro"),
      fields: [{ name: "role", label: t("users.role"), type: "select", options: roleOptions(), value: u.role }],
      submitLabel: t("users.changeRole"),
      onSubmit: async (v) => (await this.ctx.api.request("PATCH", `/api/users/${u.id}`, { role: v.role })).data,
    });
    if (done) {
      this.ctx.notify.success(t("users.roleChanged", { name: done.username, role: t(`users.roleName.${done.role}`) }));
      this.refresh();
    }
  }

  async resetPassword(u) {
    const done = await formModal({
      title: t("users.passwordTitle", name(u)),
      intro: t("users.passwordIntro"),
      fields: [{ name: "password", label: t("users.newPassword"), type: "password", required: true, autocomplete: "new-password", help: t("users.passwordRule") }],
      submitLabel: t("users.setPassword"),
      onSubmit: async (v, f) => (await this.ctx.api.request("PATCH", `/api/users/${u.id}`, { password: passwordOf(f, "password") })).data,
    });
    if (done) this.ctx.notify.success(t("users.passwordChanged", name(u)));
  }

  async resetTOTP(u) {
    const ok = await confirmDialog({
      title: t("users.resetTOTPTitle"),
      message: t("users.resetTOTPMessage", name(u)),
      confirmLabel: t("users.turnOff"),
      danger: true,
    });
    if (!ok) return;
    try {
      await this.ctx.api.delete(`/api/users/${u.id}/totp`);
      this.ctx.notify.success(t("users.resetTOTPDone", name(u)));
      this.refresh();
    } catch (err) {
      this.ctx.notify.error(err, t("users.resetTOTPFailed"));
    }
  }

  async remove(u) {
    const ok = await confirmDialog({
      title: t("users.deleteTitle", name(u)),
      message: t("users.deleteMessage"),
      confirmLabel: t("common.delete"),
      danger: true,
    });
    if (!ok) return;
    try {
      await this.ctx.api.delete(`/api/users/${u.id}`);
      this.ctx.notify.success(t("users.deleted", name(u)));
      this.refresh();
    } catch (err) {
      this.ctx.notify.error(err, t("users.deleteFailed"));
    }
  }
}
