// The webhooks page (/webhooks): the endpoints the controller tells about
// fleet events, each with its events, a test button and its delivery log
// (the newest deliveries: state, attempts, last status and error). The
// secret is write-only: the page never sees it again after creating.

import { h, clear, setText } from "./dom.js";
import { Poller } from "./poll.js";
import { formModal } from "./forms.js";
import { confirmDialog } from "./modal.js";
import { absoluteTime, plural, relativeTime } from "./format.js";

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
    this.ctx.setTitle("Webhooks");
    const add = h("button", { type: "button", class: "btn btn-primary", id: "add-webhook" }, "Add webhook");
    add.addEventListener("click", () => this.add());
    this.summary = h("p", { class: "summary", id: "webhooks-summary" });
    this.list = h("ul", { class: "webhook-list", id: "webhook-list", "aria-label": "Webhooks" });
    this.empty = h("div", { class: "empty", hidden: true },
      h("p", {}, "No webhooks yet. A webhook is a URL the controller POSTs signed JSON to when a node goes offline or comes back, drifts, or a peer is created, deleted, expires or goes over its limit."));
    this.loading = h("p", { class: "loading" }, "Loading webhooks…");
    main.append(h("section", { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Webhooks"), this.summary), add),
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
      if (!err.unauthorized && !this.poller.stopped) this.ctx.notify.banner(`Cannot refresh the webhooks: ${err.message}`);
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
    setText(this.summary, hooks.length ? plural(hooks.length, "webhook") : "");
  }

  async add() {
    if (!this.events.length) {
      try {
        this.events = (await this.ctx.api.get("/api/webhooks/events")).data || [];
      } catch (err) {
        this.ctx.notify.error(err, "Cannot list the events");
        return;
      }
    }
    const created = await formModal({
      title: "Add webhook",
      intro: "The controller POSTs each event as JSON to the URL, signed with the secret (X-Wgfleet-Signature: sha256=HMAC of the body). A failed delivery is retried with backoff.",
      wide: true,
      fields: [
        { name: "url", label: "URL", type: "url", required: true, placeholder: "https://hooks.example.com/wgfleet" },
        { name: "secret", label: "Secret", type: "password", required: true, autocomplete: "new-password",
          help: "16 characters or more; your receiver checks the signature with it. It is not shown again." },
        ...this.events.map((e) => ({ name: `event:${e}`, label: e, type: "checkbox", value: e.startsWith("node.") })),
      ],
      submitLabel: "Add webhook",
      onSubmit: async (v) => {
        const events = this.events.filter((e) => v[`event:${e}`]);
        const env = await this.ctx.api.post("/api/webhooks", { url: v.url, secret: v.secret, events });
        return env.data;
      },
    });
    if (created) {
      this.ctx.notify.success(`Webhook to ${created.url} added.`);
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
    this.testBtn = h("button", { type: "button", class: "btn btn-small", dataset: { action: "test" } }, "Send test event");
    this.deleteBtn = h("button", { type: "button", class: "btn btn-small btn-danger-text", dataset: { action: "delete" } }, "Delete");
    this.log = h("div", { class: "webhook-log" });
    this.el = h("li", { class: "card webhook-card", dataset: { webhookId: w.id } },
      h("div", { class: "card-head" }, this.url),
      this.events, this.meta, this.testResult,
      h("h3", { class: "webhook-log-title" }, "Deliveries"),
      this.log,
      h("div", { class: "card-actions" }, this.testBtn, this.deleteBtn));

    this.testBtn.addEventListener("click", async () => {
      this.testBtn.disabled = true;
      setText(this.testResult, "Sending a test event…");
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
        title: "Delete webhook",
        message: h("p", {}, `Delete the webhook to ${this.hook.url}? It gets no more events, and its pending deliveries are dropped.`),
        confirmLabel: "Delete webhook",
        danger: true,
      });
      if (!yes) return;
      try {
        await ctx.api.delete(`/api/webhooks/${this.hook.id}`);
        ctx.notify.success(`Webhook to ${this.hook.url} deleted.`);
        view.poller.now();
      } catch (err) {
        ctx.notify.error(err, "Could not delete the webhook");
      }
    });
  }

  update(w, log, test, now) {
    this.hook = w;
    setText(this.url, w.url);
    setText(this.events, `Events: ${w.events.join(", ")}`);
    setText(this.meta, `Added by ${w.created_by} ${relativeTime(w.created_at, now)}`);
    this.testBtn.setAttribute("aria-label", `Send a test event to ${w.url}`);
    this.deleteBtn.setAttribute("aria-label", `Delete the webhook to ${w.url}`);
    if (test) {
      setText(this.testResult, test.message || (test.ok ? "Delivered." : "Not delivered."));
      this.testResult.hidden = false;
      this.testResult.classList.toggle("failed", !test.ok);
      this.testResult.classList.toggle("ok", test.ok);
    }
    clear(this.log);
    if (log === null) {
      this.log.append(h("p", { class: "form-error" }, "The delivery log could not be read."));
      return;
    }
    if (!log.length) {
      this.log.append(h("p", { class: "help" }, "No deliveries yet."));
      return;
    }
    this.log.append(h("div", { class: "table-wrap" }, h("table", { class: "deliveries" },
      h("thead", {}, h("tr", {}, ["When", "Event", "State", "Attempts", "Last answer"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, log.map((d) => h("tr", { dataset: { deliveryId: d.id, state: d.state } },
        h("td", { title: absoluteTime(d.created_at) }, relativeTime(d.created_at, now)),
        h("td", { class: "mono" }, d.event),
        h("td", {}, h("span", { class: `badge delivery-${d.state}` }, d.state),
          d.state === "pending" && d.next_attempt_at ? h("span", { class: "help" }, ` next ${relativeTime(d.next_attempt_at, now, "soon").replace(" ago", "")}`) : null),
        h("td", { class: "num" }, String(d.attempts)),
        h("td", {}, d.last_status ? `HTTP ${d.last_status}` : "no answer", d.last_error ? h("span", { class: "help" }, ` (${d.last_error})`) : null)))))));
  }
}
