// The audit page: the audit log newest first (GET /api/audit), filtered by
// actor and target, with older entries on demand. The filters live in the
// page's query (/audit?actor=user:alice&target=peer:12), so a filtered
// view can be linked to.

import { h, clear } from "./dom.js";
import { absoluteTime, relativeTime } from "./format.js";
import { t } from "./i18n.js";

const PAGE = 50;

export class AuditView {
  constructor(ctx) {
    this.ctx = ctx;
    this.left = false;
    this.next = null; // next_before of the last page loaded
  }

  mount(main) {
    this.ctx.setTitle(t("audit.title"));
    const q = new URLSearchParams(location.search);
    this.actor = h("input", { id: "audit-actor", name: "actor", value: q.get("actor") || "", placeholder: "user:admin", autocomplete: "off", spellcheck: "false" });
    this.target = h("input", { id: "audit-target", name: "target", value: q.get("target") || "", placeholder: "peer:12", autocomplete: "off", spellcheck: "false" });
    this.error = h("p", { class: "form-error", role: "alert", hidden: true });
    const form = h("form", { class: "audit-filters", id: "audit-filters", role: "search", "aria-label": t("audit.filterLabel") },
      h("div", { class: "field" }, h("label", { for: "audit-actor" }, t("audit.actor")), this.actor,
        h("p", { class: "help" }, t("audit.actorHelp"))),
      h("div", { class: "field" }, h("label", { for: "audit-target" }, t("audit.target")), this.target,
        h("p", { class: "help" }, t("audit.targetHelp"))),
      h("div", { class: "audit-filter-actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, t("audit.filter")),
        h("button", { type: "button", class: "btn", dataset: { action: "clear-filters" } }, t("audit.clear"))));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.applyFilters();
    });
    form.querySelector("[data-action=clear-filters]").addEventListener("click", () => {
      this.actor.value = "";
      this.target.value = "";
      this.applyFilters();
    });
    this.rows = h("tbody", { id: "audit-rows" });
    this.table = h("table", { class: "peers audit", id: "audit-table", hidden: true },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("audit.when")), h("th", { scope: "col" }, t("audit.actor")), h("th", { scope: "col" }, t("audit.action")),
        h("th", { scope: "col" }, t("audit.target")), h("th", { scope: "col" }, t("audit.details")))),
      this.rows);
    this.empty = h("div", { class: "empty", hidden: true }, h("p", {}, t("audit.empty")));
    this.loading = h("p", { class: "loading" }, t("audit.loading"));
    this.more = h("button", { type: "button", class: "btn", id: "audit-more", hidden: true }, t("audit.more"));
    this.more.addEventListener("click", () => this.load(false));
    main.append(h("section", { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("audit.title")),
        h("p", { class: "summary" }, t("audit.summary")))),
      form, this.error, this.loading, this.empty,
      h("div", { class: "table-wrap" }, this.table),
      h("div", { class: "audit-more" }, this.more)));
    this.load(true);
  }

  unmount() {
    this.left = true;
  }

  applyFilters() {
    const q = new URLSearchParams();
    if (this.actor.value.trim()) q.set("actor", this.actor.value.trim());
    if (this.target.value.trim()) q.set("target", this.target.value.trim());
    const s = q.toString();
    history.replaceState(null, "", s ? `/audit?${s}` : "/audit");
    this.load(true);
  }

  // load fetches the first page (fresh) or the next older one.
  async load(fresh) {
    const q = new URLSearchParams(location.search);
    const params = new URLSearchParams({ limit: String(PAGE) });
    for (const k of ["actor", "target"]) if (q.get(k)) params.set(k, q.get(k));
    if (!fresh && this.next !== null) params.set("before", String(this.next));
    this.more.disabled = true;
    try {
      const env = await this.ctx.api.get(`/api/audit?${params}`);
      if (this.left) return;
      this.error.hidden = true;
      if (fresh) clear(this.rows);
      const page = env.data || { entries: [], next_before: null };
      const now = Date.now();
      for (const e of page.entries) this.rows.append(entryRow(e, now));
      this.next = page.next_before;
      this.more.hidden = page.next_before === null;
    } catch (err) {
      if (err.unauthorized || this.left) return;
      this.error.textContent = t("audit.readFailed", { message: err.message });
      this.error.hidden = false;
      if (fresh) clear(this.rows);
    } finally {
      this.more.disabled = false;
      this.loading.hidden = true;
      const n = this.rows.childElementCount;
      this.table.hidden = n === 0;
      this.empty.hidden = n > 0 || !this.error.hidden;
    }
  }
}

// entryRow is one entry's row; every value goes in as text.
function entryRow(e, now) {
  let target = "";
  if (e.target_type) {
    const text = e.target_id ? `${e.target_type}:${e.target_id}` : e.target_type;
    target = e.target_type === "node" && /^\d+$/.test(e.target_id)
      ? h("a", { href: `/nodes/${e.target_id}`, "data-link": true }, text)
      : text;
  }
  return h("tr", { dataset: { id: String(e.id) } },
    h("td", { class: "audit-when" }, h("time", { datetime: e.at, title: absoluteTime(e.at) }, relativeTime(e.at, now))),
    h("td", { class: "audit-actor" }, e.actor),
    h("td", { class: "audit-action" }, e.action),
    h("td", { class: "audit-target" }, target),
    h("td", { class: "audit-details" }, detailsText(e.details)));
}

// detailsText writes an entry's details as "key: value" pairs.
export function detailsText(details) {
  if (!details || typeof details !== "object") return "";
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}
