// The fleet's peers (/peers): every node's peers in one table, searched
// and filtered by the API (GET /api/peers?q=&node_id=&status=&label=),
// a page of 100 at a time with more loaded as the list scrolls, and bulk
// actions on the peers ticked (POST /api/peers/bulk-action), and several
// peers created at once (bulk-create.js). The filters
// live in the page's address, so a filtered view can be linked to. Only
// the pages loaded are in the page, so it stays fast at 100k peers.

import { h, clear, setText, setClass } from "./dom.js";
import { Poller } from "./poll.js";
import { absoluteTime, bytes, relativeTime } from "./format.js";
import { t } from "./i18n.js";
import { peerStatus, statusText, usageText } from "./lifecycle.js";
import { confirmDialog } from "./modal.js";
import { peerLabel } from "./peers.js";
import { createSeveral } from "./bulk-create.js";

const PAGE = 100;
// MAX_IDS is the most ids one bulk request takes (fleet.MaxBulk).
const MAX_IDS = 1000;
// DEBOUNCE_MS is how long typing pauses before the search is sent.
export const DEBOUNCE_MS = 250;
const STATUSES = ["active", "restricted", "expired", "over_limit"];
// FILTERS are the query parameters the page keeps in its address.
const FILTERS = ["q", "node_id", "status", "label"];

// peerQuery is the API query for the filters and a cursor: only the
// filters given, trimmed.
export function peerQuery(filters, cursor = "", limit = PAGE) {
  const params = new URLSearchParams();
  for (const k of FILTERS) {
    const v = String(filters[k] ?? "").trim();
    if (v) params.set(k, v);
  }
  params.set("limit", String(limit));
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

// bulkSummary sums up the answers of bulk requests: what succeeded and
// the failures, each "label: message".
export function bulkSummary(results, labelOf = (id) => `#${id}`) {
  const ok = results.filter((r) => r.ok).length;
  const failures = results.filter((r) => !r.ok).map((r) => `${labelOf(r.id)}: ${r.message}`);
  return { ok, failed: failures.length, failures };
}

export class FleetPeersView {
  constructor(ctx) {
    this.ctx = ctx;
    this.rows = new Map(); // peer id -> FleetRow, in table order
    this.selected = new Set(); // ids ticked, kept while the filters stay
    this.nodes = new Map(); // node id -> node
    this.next = null; // next_cursor of the last page loaded
    this.generation = 0; // of the current query; older answers are dropped
    this.loadingMore = false;
    this.timer = null;
    this.left = false;
    this.poller = new Poller(() => this.refresh());
  }

  mount(main) {
    this.ctx.setTitle(t("fleetPeers.title"));
    const q = new URLSearchParams(location.search);
    const field = (id, label, control, help) => h("div", { class: "field" }, h("label", { for: id }, label), control,
      help && h("p", { class: "help" }, help));
    this.search = h("input", { type: "search", id: "fleet-q", name: "q", value: q.get("q") || "",
      placeholder: t("fleetPeers.searchPlaceholder"), autocomplete: "off", spellcheck: "false" });
    this.nodeSel = h("select", { id: "fleet-node", name: "node_id" }, h("option", { value: "" }, t("fleetPeers.allNodes")));
    this.nodeSel.dataset.want = q.get("node_id") || "";
    this.statusSel = h("select", { id: "fleet-status", name: "status" }, h("option", { value: "" }, t("fleetPeers.anyStatus")),
      STATUSES.map((s) => h("option", { value: s, selected: q.get("status") === s }, statusText(s))));
    this.label = h("input", { id: "fleet-label", name: "label", value: q.get("label") || "", placeholder: "region=eu-west",
      autocomplete: "off", spellcheck: "false" });
    const form = h("form", { class: "fleet-filters", id: "fleet-filters", role: "search", "aria-label": t("fleetPeers.searchLabel") },
      field("fleet-q", t("fleetPeers.search"), this.search),
      field("fleet-node", t("fleetPeers.node"), this.nodeSel),
      field("fleet-status", t("fleetPeers.status"), this.statusSel),
      field("fleet-label", t("fleetPeers.label"), this.label, t("fleetPeers.labelHelp")));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.applyFilters();
    });
    this.search.addEventListener("input", () => this.debounce());
    this.label.addEventListener("input", () => this.debounce());
    this.nodeSel.addEventListener("change", () => this.applyFilters());
    this.statusSel.addEventListener("change", () => this.applyFilters());

    this.error = h("p", { class: "form-error", role: "alert", hidden: true });
    this.bulk = this.bulkBar();
    this.result = h("div", { class: "fleet-result", id: "fleet-result", role: "status", hidden: true });
    this.all = h("input", { type: "checkbox", id: "fleet-select-all", "aria-label": t("fleetPeers.selectAll") });
    this.all.addEventListener("change", () => this.selectAll(this.all.checked));
    this.tbody = h("tbody", { id: "fleet-rows" });
    this.table = h("table", { class: "peers fleet-peers", id: "fleet-table", hidden: true },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "select-cell" }, this.all),
        [t("fleetPeers.colName"), t("fleetPeers.colNode"), t("fleetPeers.colAddress"), t("fleetPeers.colStatus"), t("fleetPeers.colTraffic"),
          t("fleetPeers.colHandshake")].map((c) => h("th", { scope: "col" }, c)))),
      this.tbody);
    this.empty = h("div", { class: "empty", hidden: true }, h("p", {}, t("fleetPeers.empty")));
    this.loading = h("p", { class: "loading" }, t("fleetPeers.loading"));
    this.more = h("button", { type: "button", class: "btn", id: "fleet-more", hidden: true }, t("fleetPeers.more"));
    this.more.addEventListener("click", () => this.loadMore());
    this.sentinel = h("div", { class: "fleet-sentinel", "aria-hidden": "true" });
    this.summary = h("p", { class: "summary", id: "fleet-summary" });
    const several = h("button", { type: "button", class: "btn btn-primary", id: "fleet-create-several", dataset: { minRole: "operator" } },
      t("bulkCreate.open"));
    several.addEventListener("click", async () => {
      if (await createSeveral(this.ctx, [...this.nodes.values()])) this.load();
    });
    this.section = h("section", { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("fleetPeers.title")), this.summary),
        h("div", { class: "fleet-actions" }, several)),
      form, this.error, this.bulk, this.result, this.loading, this.empty,
      h("div", { class: "table-wrap" }, this.table),
      h("div", { class: "fleet-more" }, this.more), this.sentinel);
    main.append(this.section);
    // Infinite scroll: the next page loads as the end of the list comes
    // into view; "Load more" does the same by hand.
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }, { rootMargin: "400px" });
    this.observer.observe(this.sentinel);
    this.loadNodes();
    this.load();
    this.poller.start();
  }

  unmount() {
    this.left = true;
    this.poller.stop();
    this.observer.disconnect();
    clearTimeout(this.timer);
  }

  filters() {
    return { q: this.search.value, node_id: this.nodeSel.value || this.nodeSel.dataset.want, status: this.statusSel.value, label: this.label.value };
  }

  debounce() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.applyFilters(), DEBOUNCE_MS);
  }

  // applyFilters keeps the filters in the address and lists from the
  // first page; the selection is dropped, since it may not be listed.
  applyFilters() {
    clearTimeout(this.timer);
    const f = this.filters();
    const q = new URLSearchParams();
    for (const k of FILTERS) if (String(f[k] || "").trim()) q.set(k, String(f[k]).trim());
    const s = q.toString();
    history.replaceState(null, "", s ? `/peers?${s}` : "/peers");
    this.selected.clear();
    this.load();
  }

  async loadNodes() {
    try {
      const env = await this.ctx.api.get("/api/nodes");
      if (this.left) return;
      const nodes = (env.data || []).sort((a, b) => a.name.localeCompare(b.name));
      this.nodes = new Map(nodes.map((n) => [n.id, n]));
      const want = this.nodeSel.value || this.nodeSel.dataset.want;
      clear(this.nodeSel);
      this.nodeSel.append(h("option", { value: "" }, t("fleetPeers.allNodes")),
        ...nodes.map((n) => h("option", { value: String(n.id), selected: String(n.id) === want }, n.name)));
      this.nodeSel.dataset.want = "";
      clear(this.moveSel);
      this.moveSel.append(h("option", { value: "" }, t("fleetPeers.moveTo")), h("option", { value: "auto" }, t("fleetPeers.moveAuto")),
        ...nodes.filter((n) => n.enabled).map((n) => h("option", { value: String(n.id) }, n.name)));
      for (const row of this.rows.values()) row.update(row.peer, Date.now());
    } catch (err) {
      if (!err.unauthorized && !this.left) this.ctx.notify.error(err, t("fleetPeers.nodesFailed"));
    }
  }

  // load lists the first page for the current filters.
  async load() {
    const gen = ++this.generation;
    this.next = null;
    this.more.disabled = true;
    performance.mark("fleet-peers:request");
    try {
      const env = await this.ctx.api.get(`/api/peers?${peerQuery(this.filters())}`);
      if (this.left || gen !== this.generation) return;
      this.error.hidden = true;
      this.render(env.data, true);
    } catch (err) {
      if (err.unauthorized || this.left || gen !== this.generation) return;
      this.error.textContent = t("fleetPeers.listFailed", { message: err.message });
      this.error.hidden = false;
      this.render({ peers: [], next_cursor: null }, true);
    }
  }

  // loadMore appends the next page, once at a time.
  async loadMore() {
    if (!this.next || this.loadingMore) return;
    const gen = this.generation;
    this.loadingMore = true;
    this.more.disabled = true;
    try {
      const env = await this.ctx.api.get(`/api/peers?${peerQuery(this.filters(), this.next)}`);
      if (this.left || gen !== this.generation) return;
      this.render(env.data, false);
    } catch (err) {
      if (!err.unauthorized && !this.left) this.ctx.notify.error(err, t("fleetPeers.moreFailed"));
    } finally {
      this.loadingMore = false;
      this.more.disabled = false;
    }
  }

  // refresh updates the rows listed (up to MAX_IDS of them) in place, so
  // statuses and traffic stay current without losing the place.
  async refresh() {
    if (this.rows.size === 0 || this.loadingMore) return;
    const gen = this.generation;
    const limit = Math.min(Math.max(this.rows.size, PAGE), MAX_IDS);
    try {
      const env = await this.ctx.api.get(`/api/peers?${peerQuery(this.filters(), "", limit)}`);
      if (this.left || gen !== this.generation || this.loadingMore) return;
      const page = env.data || { peers: [], next_cursor: null };
      const seen = new Set(page.peers.map((p) => p.id));
      const last = page.peers.length ? page.peers[page.peers.length - 1].id : 0;
      const covered = (id) => id <= last || !page.next_cursor; // within what this answer lists
      let loadedTo = 0;
      for (const id of this.rows.keys()) loadedTo = Math.max(loadedTo, id);
      const now = Date.now();
      for (const p of page.peers) {
        let row = this.rows.get(p.id);
        if (row) {
          row.update(p, now);
        } else {
          // A peer new to the range listed: in its place, by id.
          row = new FleetRow(this, p);
          row.update(p, now);
          this.rows.set(p.id, row);
          const after = [...this.tbody.children].find((tr) => Number(tr.dataset.peerId) > p.id);
          this.tbody.insertBefore(row.el, after || null);
        }
      }
      for (const [id, row] of this.rows) {
        if (covered(id) && !seen.has(id)) this.dropRow(id, row);
      }
      if (loadedTo <= last || !page.next_cursor) this.next = page.next_cursor;
      this.afterRender();
    } catch (err) {
      if (!err.unauthorized && !this.left) this.ctx.notify.banner(t("fleetPeers.refreshFailed", { message: err.message }));
    }
  }

  render(page, fresh) {
    page = page || { peers: [], next_cursor: null };
    const now = Date.now();
    if (fresh) {
      this.rows.clear();
      clear(this.tbody);
    }
    const frag = document.createDocumentFragment();
    for (const p of page.peers) {
      if (this.rows.has(p.id)) continue;
      const row = new FleetRow(this, p);
      row.update(p, now);
      this.rows.set(p.id, row);
      frag.append(row.el);
    }
    this.tbody.append(frag);
    this.next = page.next_cursor;
    this.loading.hidden = true;
    this.afterRender();
    performance.mark("fleet-peers:rendered");
    this.section.dispatchEvent(new CustomEvent("fleet-peers-rendered", { bubbles: true }));
    // A short first page may not fill the screen: keep loading.
    if (this.next && this.sentinel.getBoundingClientRect().top < window.innerHeight + 400) this.loadMore();
  }

  afterRender() {
    const n = this.rows.size;
    this.table.hidden = n === 0;
    this.empty.hidden = n > 0 || !this.error.hidden;
    this.more.hidden = !this.next;
    this.more.disabled = false;
    setText(this.summary, n === 0 ? "" : this.next ? t("fleetPeers.listedMore", { count: n }) : t("fleetPeers.listed", { count: n }));
    this.updateSelection();
  }

  dropRow(id, row) {
    row.el.remove();
    this.rows.delete(id);
    this.selected.delete(id);
  }

  // Selection.

  select(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.updateSelection();
  }

  selectAll(on) {
    for (const [id, row] of this.rows) {
      row.check.checked = on;
      if (on) this.selected.add(id);
      else this.selected.delete(id);
    }
    this.updateSelection();
  }

  updateSelection() {
    const n = this.selected.size;
    let listed = 0;
    for (const [id, row] of this.rows) {
      const on = this.selected.has(id);
      if (row.check.checked !== on) row.check.checked = on;
      if (on) listed++;
    }
    this.all.checked = listed > 0 && listed === this.rows.size;
    this.all.indeterminate = listed > 0 && listed < this.rows.size;
    setText(this.count, n ? t("fleetPeers.selected", { count: n }) : t("fleetPeers.noneSelected"));
    for (const b of this.bulkButtons) b.disabled = n === 0 || this.busy;
    this.moveBtn.disabled = n === 0 || this.busy || !this.moveSel.value;
  }

  // Bulk actions.

  bulkBar() {
    this.count = h("span", { class: "fleet-count", id: "fleet-count", "aria-live": "polite" });
    const btn = (label, action, cls = "btn btn-small") => h("button", { type: "button", class: cls, dataset: { bulk: action } }, label);
    const restrict = btn(t("fleetPeers.restrict"), "restrict");
    const allow = btn(t("fleetPeers.allow"), "allow");
    const del = btn(t("fleetPeers.delete"), "delete", "btn btn-small btn-danger-text");
    const clearBtn = btn(t("fleetPeers.clear"), "clear");
    this.moveSel = h("select", { id: "fleet-move-target", "aria-label": t("fleetPeers.moveTarget") }, h("option", { value: "" }, t("fleetPeers.moveTo")));
    this.moveBtn = btn(t("fleetPeers.move"), "move");
    this.bulkButtons = [restrict, allow, del, clearBtn];
    restrict.addEventListener("click", () => this.runBulk("restrict"));
    allow.addEventListener("click", () => this.runBulk("allow"));
    del.addEventListener("click", () => this.runBulk("delete"));
    this.moveBtn.addEventListener("click", () => this.runBulk("move"));
    this.moveSel.addEventListener("change", () => this.updateSelection());
    clearBtn.addEventListener("click", () => {
      this.selected.clear();
      this.updateSelection();
    });
    return h("div", { class: "fleet-bulk", id: "fleet-bulk", role: "toolbar", "aria-label": t("fleetPeers.toolbar") },
      this.count, restrict, allow, h("span", { class: "fleet-move" }, this.moveSel, this.moveBtn), del, clearBtn);
  }

  labelOf(id) {
    const row = this.rows.get(id);
    return row ? peerLabel(row.peer) : `#${id}`;
  }

  // runBulk asks first where it must (delete, move), then sends the
  // selection in requests of at most MAX_IDS ids and shows the outcome:
  // rows updated or removed, failures listed by peer.
  async runBulk(action) {
    const ids = [...this.selected];
    if (ids.length === 0) return;
    // Named now: a refresh may drop a row while the question is open.
    const labels = new Map(ids.map((id) => [id, this.labelOf(id)]));
    const body = { action, ids: [] };
    if (action === "move") {
      const target = this.moveSel.value;
      if (!target) return;
      body.target_node_id = target === "auto" ? "auto" : Number(target);
      const count = ids.length;
      const node = this.nodes.get(Number(target))?.name || t("fleetPeers.nodeFallback", { id: target });
      const ok = await confirmDialog({
        title: t("fleetPeers.moveTitle"),
        message: h("p", {}, target === "auto" ? t("fleetPeers.moveAutoQuestion", { count }) : t("fleetPeers.moveQuestion", { count, node })),
        confirmLabel: t("fleetPeers.moveConfirm", { count }),
      });
      if (!ok) return;
    }
    if (action === "delete") {
      const count = ids.length;
      const ok = await confirmDialog({
        title: t("fleetPeers.deleteTitle"),
        message: h("p", {}, t("fleetPeers.deleteQuestion", { count })),
        confirmLabel: t("fleetPeers.deleteConfirm", { count }),
        danger: true,
      });
      if (!ok) return;
    }
    this.busy = true;
    this.updateSelection();
    const results = [];
    let failedRequest = null;
    try {
      for (let i = 0; i < ids.length; i += MAX_IDS) {
        body.ids = ids.slice(i, i + MAX_IDS);
        const env = await this.ctx.api.post("/api/peers/bulk-action", body);
        results.push(...((env.data && env.data.results) || []));
      }
    } catch (err) {
      failedRequest = err;
    } finally {
      this.busy = false;
    }
    if (this.left) return;
    const now = Date.now();
    for (const r of results) {
      const row = this.rows.get(r.id);
      if (!r.ok) continue;
      this.selected.delete(r.id);
      if (!row) continue;
      if (action === "delete") this.dropRow(r.id, row);
      else if (r.peer) row.update(r.peer, now);
    }
    this.showResult(action, bulkSummary(results, (id) => labels.get(id) || `#${id}`), failedRequest);
    this.afterRender();
    this.poller.now();
  }

  showResult(action, sum, failedRequest) {
    const done = t(`fleetPeers.done.${action}`, { count: sum.ok });
    clear(this.result);
    const head = sum.failed ? t("fleetPeers.resultFailed", { done, failed: sum.failed }) : t("fleetPeers.resultOk", { done });
    this.result.append(h("p", {}, head));
    if (sum.failures.length) this.result.append(h("ul", { class: "fleet-failures" }, sum.failures.map((f) => h("li", {}, f))));
    if (failedRequest) {
      this.result.append(h("p", { class: "form-error" }, t("fleetPeers.requestFailed", { message: failedRequest.fieldMessage || failedRequest.message })));
    }
    setClass(this.result, "fleet-result-", sum.failed || failedRequest ? "partial" : "ok");
    this.result.hidden = false;
    if (!sum.failed && !failedRequest) this.ctx.notify.success(head);
  }
}

// FleetRow is one peer's row: a checkbox and the peer's facts.
class FleetRow {
  constructor(view, peer) {
    this.view = view;
    this.peer = peer;
    this.check = h("input", { type: "checkbox", class: "fleet-select" });
    this.check.addEventListener("change", () => view.select(this.peer.id, this.check.checked));
    this.name = h("span", { class: "peer-name" });
    this.node = h("a", { "data-link": true });
    this.addr = h("td", { class: "mono", dataset: { label: t("fleetPeers.colAddress") } });
    this.status = h("span", { class: "badge" });
    this.usage = h("td", { class: "num", dataset: { label: t("fleetPeers.colTraffic") } });
    this.handshake = h("td", { dataset: { label: t("fleetPeers.colHandshake") } });
    this.el = h("tr", { dataset: { peerId: peer.id } },
      h("td", { class: "select-cell" }, this.check),
      h("td", { class: "name-cell", dataset: { label: t("fleetPeers.colName") } }, this.name),
      h("td", { dataset: { label: t("fleetPeers.colNode") } }, this.node),
      this.addr,
      h("td", { dataset: { label: t("fleetPeers.colStatus") } }, this.status),
      this.usage, this.handshake);
  }

  update(p, now) {
    this.peer = p;
    setText(this.name, p.name || t("fleetPeers.noName"));
    this.name.classList.toggle("unnamed", !p.name);
    this.name.title = t("fleetPeers.publicKey", { key: p.public_key });
    this.check.setAttribute("aria-label", t("fleetPeers.select", { name: peerLabel(p) }));
    const node = this.view.nodes.get(p.node_id);
    setText(this.node, node ? node.name : t("fleetPeers.nodeFallback", { id: p.node_id }));
    const href = `/nodes/${p.node_id}`;
    if (this.node.getAttribute("href") !== href) this.node.setAttribute("href", href);
    setText(this.addr, [p.address4, p.address6].filter(Boolean).join(" "));
    const status = peerStatus(p, now);
    setText(this.status, statusText(status));
    setClass(this.status, "status-", status);
    const traffic = (Number(p.total_rx) || 0) + (Number(p.total_tx) || 0);
    setText(this.usage, usageText(p) || bytes(traffic));
    this.usage.title = t("fleetPeers.trafficTitle", { bytes: traffic.toLocaleString() });
    setText(this.handshake, relativeTime(p.latest_handshake, now));
    this.handshake.title = absoluteTime(p.latest_handshake);
  }
}
