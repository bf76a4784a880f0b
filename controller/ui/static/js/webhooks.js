// The webhooks page (/webhooks): the endpoints the controller tells about
// fleet events, each with its events, a test button and its delivery log
// (the newest deliveries: state, attempts, last status and error). The
// secret is write-only: the page never sees it again after creating.

import { h, clear, setText } from "./dom.js";
import { Poller } from "./poll.js";
import { formModal } from "./forms.js";
import { confirmDialog } from "./modal.js";
import { absoluteTime, relativeTime, untilTime } from "./format.js";
import { t } from "./i18n.js";

// LOG_ROWS is how many deliveries each webhook's log shows.
const LOG_ROWS = 10;

export class WebhooksView {
  constructor(ctx) {
    this.ctx = ctx;
    this.cards = new Map(); // webhook id -> WebhookCard
    this.tests = new Map(); // webhook id -> last test outcome, kept across refreshes
    this.events = [];
    this.poller = new Poller(() => this.refresh());
  }

  mount(main) {
    this.ctx.setTitle(t("webhooks.title"));
    const add = h("button", { type: "button", class: "btn btn-primary", id: "add-webhook" }, t("webhooks.add"));
    add.addEventListener("click", () => this.add());
    this.summary = h("p", { class: "summary", id: "webhooks-summary" });
    this.list = h("ul", { class: "webhook-list", id: "webhook-list", "aria-label": t("webhooks.title") });
    this.empty = h("div", { class: "empty", hidden: true },
      h("p", {}, t("webhooks.empty")));
    this.loading = h("p", { class: "loading" }, t("webhooks.loading"));
    main.append(h("section", { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("webhooks.title")), this.summary), add),
      this.loading, this.empty, this.list));
    this.poller.start();
  }

  unmount() {
    this.poller.stop();
  }

  async refresh() {
    try {
      const env = await this.ctx.api.get("/api/webhooks");
      const hooks = env.data || [];
      const logs = await Promise.all(hooks.map((w) => this.ctx.api.get(`/api/webhooks/${w.id}/deliveries?limit=${LOG_ROWS}`)
        .then((e) => e.data || []).catch(() => null)));
      if (this.poller.stopped) return;
      this.ctx.notify.banner(null);
      this.render(hooks, logs);
    } catch (err) {
      if (!err.unauthorized && !this.poller.stopped) this.ctx.notify.banner(t("webhooks.refreshFailed", { message: err.message }));
    }
  }

  render(hooks, logs) {
    this.loading.hidden = true;
    this.empty.hidden = hooks.length > 0;
    const now = Date.now();
    const seen = new Set();
    hooks.forEach((w, i) => {
      seen.add(w.id);
      let card = this.cards.get(w.id);
      if (!card) {
        card = new WebhookCard(this, w);
        this.cards.set(w.id, card);
        this.list.append(card.el);
      }
      card.update(w, logs[i], this.tests.get(w.id), now);
    });
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.el.remove();
        this.cards.delete(id);
        this.tests.delete(id);
      }
    }
    setText(this.summary, hooks.length ? t("webhooks.count", { count: hooks.length }) : "");
  }

  async add() {
    if (!this.events.length) {
      try {
        this.events = (await this.ctx.api.get("/api/webhooks/events")).data || [];
      } catch (err) {
        this.ctx.notify.error(err, t("webhooks.eventsFailed"));
        return;
      }
    }
    const created = await formModal({
      title: t("webhooks.add"),
      intro: t("webhooks.intro"),
      wide: true,
      fields: [
        { name: "url", label: t("webhooks.url"), type: "url", required: true, placeholder: "https://hooks.example.com/wgfleet" },
        { name: "secret", label: t("webhooks.secret"), type: "password", required: true, autocomplete: "new-password",
          help: t("webhooks.secretHelp") },
        ...this.events.map((e) => ({ name: `event:${e}`, label: e, type: "checkbox", value: e.startsWith("node.") })),
      ],
      submitLabel: t("webhooks.add"),
      onSubmit: async (v) => {
        const events = this.events.filter((e) => v[`event:${e}`]);
        const env = await this.ctx.api.post("/api/webhooks", { url: v.url, secret: v.secret, events });
        return env.data;
      },
    });
    if (created) {
      this.ctx.notify.success(t("webhooks.added", { url: created.url }));
      this.poller.now();
    }
  }
}

// WebhookCard is one webhook, made once and updated by each refresh.
class WebhookCard {
  constructor(view, w) {
    const ctx = view.ctx;
    this.hook = w;
    this.url = h("h2", { class: "mono webhook-url" });
    this.events = h("p", { class: "webhook-events" });
    this.meta = h("p", { class: "help" });
    this.testResult = h("p", { class: "test-result", role: "status", hidden: true });
    this.testBtn = h("button", { type: "button", class: "btn btn-small", dataset: { action: "test" } }, t("webhooks.test"));
    this.deleteBtn = h("button", { type: "button", class: "btn btn-small btn-danger-text", dataset: { action: "delete" } }, t("common.delete"));
    this.log = h("div", { class: "webhook-log" });
    this.el = h("li", { class: "card webhook-card", dataset: { webhookId: w.id } },
      h("div", { class: "card-head" }, this.url),
      this.events, this.meta, this.testResult,
      h("h3", { class: "webhook-log-title" }, t("webhooks.deliveries")),
      this.log,
      h("div", { class: "card-actions" }, this.testBtn, this.deleteBtn));

    this.testBtn.addEventListener("click", async () => {
      this.testBtn.disabled = true;
      setText(this.testResult, t("webhooks.testing"));
      this.testResult.hidden = false;
      try {
        const env = await ctx.api.post(`/api/webhooks/${this.hook.id}/test`);
        view.tests.set(this.hook.id, { ok: env.status, message: env.message });
      } catch (err) {
        view.tests.set(this.hook.id, { ok: false, message: err.message });
      } finally {
        this.testBtn.disabled = false;
      }
      view.poller.now();
    });
    this.deleteBtn.addEventListener("click", async () => {
      const yes = await confirmDialog({
        title: t("webhooks.deleteTitle"),
        message: h("p", {}, t("webhooks.deleteQuestion", { url: this.hook.url })),
        confirmLabel: t("webhooks.deleteTitle"),
        danger: true,
      });
      if (!yes) return;
      try {
        await ctx.api.delete(`/api/webhooks/${this.hook.id}`);
        ctx.notify.success(t("webhooks.deleted", { url: this.hook.url }));
        view.poller.now();
      } catch (err) {
        ctx.notify.error(err, t("webhooks.deleteFailed"));
      }
    });
  }

  update(w, log, test, now) {
    this.hook = w;
    setText(this.url, w.url);
    setText(this.events, t("webhooks.events", { events: w.events.join(", ") }));
    setText(this.meta, t("webhooks.addedBy", { who: w.created_by, when: relativeTime(w.created_at, now) }));
    this.testBtn.setAttribute("aria-label", t("webhooks.testNamed", { url: w.url }));
    this.deleteBtn.setAttribute("aria-label", t("webhooks.deleteNamed", { url: w.url }));
    if (test) {
      setText(this.testResult, test.message || (test.ok ? t("webhooks.delivered") : t("webhooks.notDelivered")));
      this.testResult.hidden = false;
      this.testResult.classList.toggle("failed", !test.ok);
      this.testResult.classList.toggle("ok", test.ok);
    }
    clear(this.log);
    if (log === null) {
      this.log.append(h("p", { class: "form-error" }, t("webhooks.logFailed")));
      return;
    }
    if (!log.length) {
      this.log.append(h("p", { class: "help" }, t("webhooks.noDeliveries")));
      return;
    }
    const cols = [t("audit.when"), t("webhooks.event"), t("webhooks.state"), t("webhooks.attempts"), t("webhooks.lastAnswer")];
    this.log.append(h("div", { class: "table-wrap" }, h("table", { class: "deliveries" },
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, log.map((d) => h("tr", { dataset: { deliveryId: d.id, state: d.state } },
        h("td", { title: absoluteTime(d.created_at) }, relativeTime(d.created_at, now)),
        h("td", { class: "mono" }, d.event),
        h("td", {}, h("span", { class: `badge delivery-${d.state}` }, t(`webhooks.stateName.${d.state}`)),
          d.state === "pending" && d.next_attempt_at ? h("span", { class: "help" }, " " + t("webhooks.next", { when: untilTime(d.next_attempt_at, now) })) : null),
        h("td", { class: "num" }, String(d.attempts)),
        h("td", {}, d.last_status ? `HTTP ${d.last_status}` : t("webhooks.noAnswer"), d.last_error ? h("span", { class: "help" }, ` (${d.last_error})`) : null)))))));
  }
}
