// A node's page: its state, its actions, and its peers in a table with
// search and sort. Everything refreshes in place while the page is shown.

import { h, setText, setClass, clear } from "./dom.js";
import { Poller } from "./poll.js";
import { openModal } from "./modal.js";
import {
  absoluteTime, agentVersion, apiPaths, bytes, driftSummary, nodeStatus, peerCapacity, relativeTime, toDate,
} from "./format.js";
import { t } from "./i18n.js";
import { showMessage } from "./detail.js";
import { showDrift } from "./drift.js";
import { drainNode, movePeer } from "./move.js";
import { deleteNode, openNodeForm, showTest, testNode, toggleNode } from "./node-form.js";
import { deletePeer, downloadConfig, openPeerForm, peerLabel, setPeerEnabled, showQR } from "./peers.js";
import { openShares } from "./peer-shares.js";
import { formatLabels, labelList, showLabels } from "./labels.js";
import { isHTTPS, repinNode, tlsText } from "./tls.js";
import { hasLimit, peerStatus, resetUsage, statusText, UsageMeter } from "./lifecycle.js";
import { rotateSecret, rotationNote, showRotation } from "./rotate-secret.js";
import { CHART_REFRESH_MS, TrafficChart, openTrafficChart } from "./charts.js";

// COLUMNS of the peers table; key is what a column sorts by.
const COLUMNS = [
  { key: "name", label: t("peers.col.name") },
  { key: "address", label: t("peers.col.address") },
  { key: "status", label: t("peers.col.status") },
  { key: "rx", label: t("peers.col.rx"), numeric: true },
  { key: "tx", label: t("peers.col.tx"), numeric: true },
  { key: "handshake", label: t("peers.col.handshake") },
];

const STATUS_ORDER = { active: 0, idle: 1, never: 2, restricted: 3, expired: 4, over_limit: 5 };

function received(p) { return Math.max(p.total_rx || 0, p.transfer_rx || 0); }
function sent(p) { return Math.max(p.total_tx || 0, p.transfer_tx || 0); }

function ip4Number(s) {
  const parts = (s || "").split(".").map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n))) return Number.MAX_SAFE_INTEGER;
  return ((parts[0] * 256 + parts[1]) * 256 + parts[2]) * 256 + parts[3];
}

// sortValue is a peer's value in a column, comparable with <.
function sortValue(p, key, now) {
  switch (key) {
    case "address": return ip4Number(p.address4);
    case "status": return STATUS_ORDER[peerStatus(p, now)];
    case "rx": return received(p);
    case "tx": return sent(p);
    case "handshake": { const d = toDate(p.latest_handshake); return d ? d.getTime() : -Infinity; }
    default: return peerLabel(p).toLowerCase();
  }
}

export class NodeDetailView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = id;
    this.node = null;
    this.peers = [];
    this.rows = new Map(); // peer id -> PeerRow
    this.sort = { key: "name", dir: 1 };
    this.query = "";
    this.test = null; // last connection test outcome
    this.poller = new Poller(() => this.refresh());
    this.chart = new TrafficChart(ctx, "node", id, t("traffic.thisNode"));
    this.chartPoller = new Poller(() => this.chart.load(), CHART_REFRESH_MS);
  }

  mount(main) {
    this.main = main;
    this.ctx.setTitle(t("node.title"));
    this.title = h("span", {}, t("node.title"));
    this.badge = h("span", { class: "badge" });
    this.heading = h("h1", {}, this.title, " ", this.badge);
    this.facts = {
      agent: h("dd", { class: "mono" }), endpoint: h("dd", { class: "mono" }), iface: h("dd", { class: "mono" }),
      version: h("dd", { class: "mono agent-version" }),
      pool: h("dd", { class: "mono" }), peers: h("dd", { class: "peer-count" }), seen: h("dd", {}),
      policy: h("dd", {}), drift: h("dd", { class: "drift-summary" }), paths: h("dd", { class: "api-paths" }),
      tls: h("dd", { class: "mono tls-pin" }),
    };
    this.labels = labelList();
    this.noLabels = h("span", { class: "labels-none" }, t("node.labelsNone"));
    this.driftLine = h("p", { class: "drift", hidden: true });
    this.syncLine = h("p", { class: "syncing", hidden: true });
    this.error = h("div", { class: "last-error", hidden: true });
    this.testResult = h("div", { class: "test-result", role: "status", hidden: true });
    this.rotation = rotationNote();

    const btn = (label, action, cls = "btn") => h("button", { type: "button", class: cls, dataset: { action } }, label);
    this.addBtn = btn(t("peers.add"), "add-peer", "btn btn-primary");
    this.reconcileBtn = btn(t("node.reconcile"), "reconcile");
    this.driftBtn = btn(t("node.showDrift"), "drift");
    this.drainBtn = btn(t("node.drain"), "drain");
    this.testBtn = btn(t("common.test"), "test");
    this.repinBtn = btn(t("node.repin"), "repin");
    this.rotateBtn = btn(t("rotate.title"), "rotate-secret");
    this.editBtn = btn(t("common.edit"), "edit");
    this.toggleBtn = btn(t("common.disable"), "toggle");
    this.deleteBtn = btn(t("common.delete"), "delete", "btn btn-danger-text");

    this.search = h("input", { type: "search", id: "peer-search", placeholder: t("peers.searchPlaceholder"), autocomplete: "off", spellcheck: "false" });
    this.count = h("p", { class: "summary", id: "peer-count", "aria-live": "polite" });
    this.headers = new Map();
    const headRow = h("tr", {}, COLUMNS.map((c) => {
      const b = h("button", { type: "button", class: "sort", dataset: { sort: c.key } }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
      b.addEventListener("click", () => this.setSort(c.key));
      const th = h("th", { scope: "col", class: c.numeric ? "num" : null }, b);
      this.headers.set(c.key, th);
      return th;
    }), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("peers.col.actions"))));
    this.tbody = h("tbody", {});
    this.table = h("table", { class: "peers", id: "peers-table" },
      h("caption", { class: "visually-hidden" }, t("peers.caption")),
      h("thead", {}, headRow), this.tbody);
    this.emptyPeers = h("p", { class: "empty", hidden: true });

    main.append(h("section", { class: "page" },
      h("p", { class: "crumbs" }, h("a", { href: "/nodes", "data-link": true }, t("node.allNodes"))),
      h("div", { class: "page-head" },
        this.heading,
        h("div", { class: "actions" }, this.addBtn, this.reconcileBtn, this.drainBtn, this.testBtn, this.repinBtn, this.rotateBtn, this.editBtn, this.toggleBtn, this.deleteBtn)),
      h("dl", { class: "facts facts-wide" },
        h("div", {}, h("dt", {}, t("node.agent")), this.facts.agent),
        h("div", {}, h("dt", {}, t("node.endpoint")), this.facts.endpoint),
        h("div", {}, h("dt", {}, t("node.iface")), this.facts.iface),
        h("div", {}, h("dt", {}, t("node.paths")), this.facts.paths),
        h("div", {}, h("dt", {}, t("node.tls")), this.facts.tls),
        h("div", {}, h("dt", {}, t("node.pool")), this.facts.pool),
        h("div", {}, h("dt", {}, t("node.peers")), this.facts.peers),
        h("div", {}, h("dt", {}, t("node.lastSeenFact")), this.facts.seen),
        h("div", {}, h("dt", {}, t("node.agentVersion")), this.facts.version),
        h("div", {}, h("dt", {}, t("node.driftPolicy")), this.facts.policy),
        h("div", { class: "wide" }, h("dt", {}, t("node.drift")), this.facts.drift),
        h("div", { class: "wide" }, h("dt", {}, t("labels.title")), h("dd", {}, this.labels, this.noLabels))),
      h("div", { class: "notes" }, h("div", { class: "drift-row" }, this.driftLine, this.syncLine, this.driftBtn), this.error, this.testResult, this.rotation),
      h("section", { class: "traffic-section", "aria-labelledby": "traffic-heading" },
        h("h2", { id: "traffic-heading" }, t("traffic.heading")), this.chart.el),
      h("section", { class: "peers-section", "aria-labelledby": "peers-heading" },
        h("div", { class: "section-head" },
          h("h2", { id: "peers-heading" }, t("node.peers")),
          h("div", { class: "search" }, h("label", { for: this.search.id }, t("peers.search")), this.search)),
        this.count,
        h("div", { class: "table-wrap" }, this.table),
        this.emptyPeers)));

    this.search.addEventListener("input", () => {
      this.query = this.search.value.trim().toLowerCase();
      this.renderPeers();
    });
    this.addBtn.addEventListener("click", async () => {
      if (this.node && await openPeerForm(this.ctx, this.node)) this.poller.now();
    });
    this.reconcileBtn.addEventListener("click", () => this.reconcile());
    this.drainBtn.addEventListener("click", async () => {
      if (this.node && await drainNode(this.ctx, this.node, { fallbackFocus: this.heading })) this.poller.now();
    });
    this.driftBtn.addEventListener("click", () => this.showDrift());
    this.testBtn.addEventListener("click", () => this.runTest());
    this.repinBtn.addEventListener("click", async () => {
      if (this.node && await repinNode(this.ctx, this.node)) this.poller.now();
    });
    this.rotateBtn.addEventListener("click", async () => {
      if (!this.node) return;
      this.rotateBtn.disabled = true;
      const done = await rotateSecret(this.ctx, this.node);
      this.rotateBtn.disabled = false;
      if (done) this.poller.now();
    });
    this.editBtn.addEventListener("click", async () => {
      if (this.node && await openNodeForm(this.ctx, this.node)) this.poller.now();
    });
    this.toggleBtn.addEventListener("click", async () => {
      if (!this.node) return;
      this.toggleBtn.disabled = true;
      const node = await toggleNode(this.ctx, this.node);
      this.toggleBtn.disabled = false;
      if (node) this.poller.now();
    });
    this.deleteBtn.addEventListener("click", async () => {
      if (this.node && await deleteNode(this.ctx, this.node)) this.ctx.navigate("/nodes");
    });
    this.poller.start();
    this.chartPoller.start();
  }

  unmount() {
    this.poller.stop();
    this.chartPoller.stop();
    this.chart.stop();
  }

  async refresh() {
    const { api, notify } = this.ctx;
    try {
      const [node, peers] = await Promise.all([api.get(`/api/nodes/${this.id}`), api.get(`/api/nodes/${this.id}/peers`)]);
      if (this.poller.stopped) return; // the page was left while this ran
      notify.banner(null);
      this.renderNode(node.data);
      this.peers = peers.data || [];
      this.renderPeers();
    } catch (err) {
      if (err.unauthorized || this.poller.stopped) return;
      if (err.status === 404) {
        this.poller.stop();
        this.chartPoller.stop();
        this.gone();
        return;
      }
      notify.banner(t("node.refreshFailed", { message: err.message }));
    }
  }

  gone() {
    clear(this.main);
    this.ctx.setTitle(t("node.notFound"));
    this.main.append(h("section", { class: "page narrow" },
      h("h1", {}, t("node.notFound")),
      h("p", {}, t("node.notFoundText", { id: this.id })),
      h("p", {}, h("a", { href: "/nodes", "data-link": true }, t("node.backToNodes")))));
  }

  renderNode(node) {
    this.node = node;
    const now = Date.now();
    const status = nodeStatus(node);
    this.ctx.setTitle(node.name);
    this.chart.setName(node.name);
    setText(this.title, node.name);
    setText(this.badge, statusText(status));
    setClass(this.badge, "status-", status);
    setText(this.facts.agent, node.agent_url);
    setText(this.facts.endpoint, node.endpoint || t("node.notSet"));
    setText(this.facts.iface, node.wg_interface);
    setText(this.facts.paths, apiPaths(node.api_paths));
    setText(this.facts.tls, tlsText(node));
    this.facts.tls.title = node.tls_fingerprint || "";
    this.repinBtn.hidden = !isHTTPS(node);
    setText(this.facts.pool, [node.ip_pool_cidr, node.ip_pool6_cidr].filter(Boolean).join(", "));
    setText(this.facts.peers, peerCapacity(node));
    setText(this.facts.seen, relativeTime(node.last_seen, now));
    this.facts.seen.title = absoluteTime(node.last_seen);
    setText(this.facts.version, agentVersion(node));
    setText(this.facts.policy, node.drift_policy === "report" ? t("node.policyReport") : t("node.policyRepair"));
    showLabels(this.labels, node.labels);
    this.noLabels.hidden = !!formatLabels(node.labels);
    showDrift(this.driftLine, this.syncLine, node, now);
    setText(this.facts.drift, driftSummary(node));
    this.facts.drift.title = node.drift_checked_at ? t("node.lastChecked", { when: relativeTime(node.drift_checked_at, now) }) : "";
    const showError = node.enabled && node.last_error && (status === "offline" || status === "error");
    this.error.hidden = !showError;
    showMessage(this.error, showError ? node.last_error : "", showError ? node.last_error_detail : "");
    showRotation(this.rotation, node);
    setText(this.toggleBtn, node.enabled ? t("common.disable") : t("common.enable"));
    this.reconcileBtn.disabled = !node.enabled;
    this.reconcileBtn.title = node.enabled ? "" : t("node.isDisabled");
    this.drainBtn.disabled = !node.peer_count;
    this.drainBtn.title = node.peer_count ? t("node.drainTitle") : t("node.noPeers");
  }

  renderPeers() {
    const now = Date.now();
    const seen = new Set();
    for (const p of this.peers) {
      seen.add(p.id);
      let row = this.rows.get(p.id);
      if (!row) {
        row = new PeerRow(this, p);
        this.rows.set(p.id, row);
      }
      row.update(p, now);
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }

    const { key, dir } = this.sort;
    const sorted = [...this.peers].sort((a, b) => {
      const va = sortValue(a, key, now);
      const vb = sortValue(b, key, now);
      if (va < vb) return -dir;
      if (va > vb) return dir;
      return a.id - b.id;
    });
    // Reorder rows, moving only what is out of place, and give focus back
    // if a moved row held it.
    const focused = document.activeElement;
    let prev = null;
    let shown = 0;
    for (const p of sorted) {
      const row = this.rows.get(p.id);
      const match = this.matches(p);
      row.el.hidden = !match;
      if (match) shown++;
      const want = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== row.el) this.tbody.insertBefore(row.el, want);
      prev = row.el;
    }
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });

    for (const [k, th] of this.headers) {
      th.setAttribute("aria-sort", k === key ? (dir > 0 ? "ascending" : "descending") : "none");
    }
    const total = this.peers.length;
    this.table.hidden = total === 0;
    this.emptyPeers.hidden = total > 0 && shown > 0;
    if (total === 0) setText(this.emptyPeers, t("peers.empty"));
    else if (shown === 0) setText(this.emptyPeers, t("peers.noMatch", { query: this.search.value.trim() }));
    const all = t("peers.count", { count: total });
    setText(this.count, this.query ? t("peers.shownOf", { shown, total: all }) : all);
  }

  matches(p) {
    if (!this.query) return true;
    return [p.name, p.address4, p.address6, p.public_key].some((s) => (s || "").toLowerCase().includes(this.query));
  }

  setSort(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: 1 };
    this.renderPeers();
  }

  async runTest() {
    if (!this.node) return;
    this.testBtn.disabled = true;
    showTest(this.testResult, { pending: true });
    const outcome = await testNode(this.ctx.api, this.node);
    this.testBtn.disabled = false;
    if (outcome.unauthorized) return;
    showTest(this.testResult, outcome);
    this.poller.now();
  }

  async reconcile() {
    this.reconcileBtn.disabled = true;
    try {
      const env = await this.ctx.api.post(`/api/nodes/${this.id}/reconcile`);
      const r = env.data || {};
      const summary = r.skipped
        ? t("reconcile.skipped", { why: r.skipped })
        : t("reconcile.counts", { added: r.added || 0, updated: r.updated || 0, removed: r.removed || 0 }) +
          (r.refused ? t("reconcile.refused", { refused: r.refused }) : "");
      this.ctx.notify.success(t("reconcile.done", { name: this.node ? this.node.name : t("node.title"), summary }));
    } catch (err) {
      this.ctx.notify.error(err, t("reconcile.failed"));
    } finally {
      this.reconcileBtn.disabled = !(this.node && this.node.enabled);
      this.poller.now();
    }
  }

  async showDrift() {
    let list;
    try {
      list = (await this.ctx.api.get(`/api/nodes/${this.id}/drift`)).data || [];
    } catch (err) {
      this.ctx.notify.error(err, t("drift.readFailed"));
      return;
    }
    const content = list.length === 0
      ? h("p", {}, t("drift.none"))
      : h("ul", { class: "drift-list" }, list.map((d) => h("li", {},
        h("strong", {}, d.kind.replaceAll("_", " ")), " ",
        d.peer_name || (d.peer_id ? t("drift.peerID", { id: d.peer_id }) : h("span", { class: "mono" }, d.public_key)),
        d.fields && d.fields.length ? ` (${d.fields.join(", ")})` : "",
        d.pending ? t("drift.pending") : "")));
    openModal({ title: t("drift.of", { name: this.node ? this.node.name : t("node.title") }), content });
  }
}

// PeerRow is one peer's table row, made once and updated by each refresh.
class PeerRow {
  constructor(view, peer) {
    const ctx = view.ctx;
    this.peer = peer;
    this.name = h("span", { class: "peer-name" });
    this.tags = h("span", { class: "tags" });
    this.life = new UsageMeter();
    this.addr = h("td", { class: "mono", dataset: { label: t("peers.col.address") } });
    this.status = h("span", { class: "badge" });
    this.rx = h("td", { class: "num", dataset: { label: t("peers.col.rx") } });
    this.tx = h("td", { class: "num", dataset: { label: t("peers.col.tx") } });
    this.handshake = h("td", { dataset: { label: t("peers.col.handshake") } });
    const btn = (label, action, cls = "btn btn-small") => h("button", { type: "button", class: cls, dataset: { action } }, label);
    this.configBtn = btn(t("peers.config"), "config");
    this.qrBtn = btn(t("peers.qr"), "qr");
    this.shareBtn = btn(t("peers.share"), "share");
    this.trafficBtn = btn(t("traffic.button"), "traffic");
    this.editBtn = btn(t("common.edit"), "edit");
    this.moveBtn = btn(t("peers.move"), "move");
    this.toggleBtn = btn(t("peers.restrict"), "toggle");
    this.resetBtn = btn(t("peers.resetUsage"), "reset-usage");
    this.deleteBtn = btn(t("common.delete"), "delete", "btn btn-small btn-danger-text");
    this.el = h("tr", { dataset: { peerId: peer.id } },
      h("td", { class: "name-cell", dataset: { label: t("peers.col.name") } }, this.name, this.tags, this.life.el),
      this.addr,
      h("td", { dataset: { label: t("peers.col.status") } }, this.status),
      this.rx, this.tx, this.handshake,
      h("td", { class: "row-actions" }, h("div", {}, this.configBtn, this.qrBtn, this.shareBtn, this.trafficBtn, this.editBtn, this.moveBtn, this.toggleBtn, this.resetBtn, this.deleteBtn)));

    this.configBtn.addEventListener("click", () => downloadConfig(ctx, this.peer));
    this.qrBtn.addEventListener("click", () => showQR(ctx, this.peer));
    this.shareBtn.addEventListener("click", () => openShares(ctx, this.peer));
    this.trafficBtn.addEventListener("click", () => openTrafficChart(ctx, this.peer, peerLabel(this.peer)));
    this.editBtn.addEventListener("click", async () => {
      if (await openPeerForm(ctx, view.node, this.peer)) view.poller.now();
    });
    this.moveBtn.addEventListener("click", async () => {
      // The row leaves this page with the peer: focus then goes to the search.
      if (await movePeer(ctx, this.peer, { fallbackFocus: view.search })) view.poller.now();
    });
    this.toggleBtn.addEventListener("click", async () => {
      this.toggleBtn.disabled = true;
      const p = await setPeerEnabled(ctx, this.peer, !this.peer.enabled);
      this.toggleBtn.disabled = false;
      if (p) view.poller.now();
    });
    this.resetBtn.addEventListener("click", async () => {
      this.resetBtn.disabled = true;
      const p = await resetUsage(ctx, this.peer, peerLabel(this.peer));
      this.resetBtn.disabled = false;
      if (p) view.poller.now();
    });
    this.deleteBtn.addEventListener("click", async () => {
      if (await deletePeer(ctx, this.peer)) view.poller.now();
    });
  }

  update(p, now) {
    this.peer = p;
    const label = peerLabel(p);
    setText(this.name, p.name || t("peers.noName"));
    this.name.classList.toggle("unnamed", !p.name);
    this.name.title = t("peers.publicKey", { key: p.public_key });
    const tags = [];
    if (p.sync_state === "pending") tags.push(["pending", t("peers.tagPending"), t("peers.tagPendingTitle")]);
    if (p.sync_state === "error") tags.push(["sync-error", t("peers.tagError"), p.sync_error || t("peers.tagErrorTitle")]);
    const tagText = tags.map((tag) => tag[0]).join(" ");
    if (this.tags.dataset.text !== tagText) {
      this.tags.dataset.text = tagText;
      clear(this.tags);
      for (const [kind, text, title] of tags) this.tags.append(h("span", { class: `tag tag-${kind}`, title }, text));
    }
    setText(this.addr, [p.address4, p.address6].filter(Boolean).join(" "));
    const status = peerStatus(p, now);
    setText(this.status, statusText(status));
    setClass(this.status, "status-", status);
    this.life.update(p, now);
    this.resetBtn.hidden = !hasLimit(p);
    setText(this.rx, bytes(received(p)));
    this.rx.title = t("peers.bytes", { n: received(p).toLocaleString() });
    setText(this.tx, bytes(sent(p)));
    this.tx.title = t("peers.bytes", { n: sent(p).toLocaleString() });
    setText(this.handshake, relativeTime(p.latest_handshake, now));
    this.handshake.title = absoluteTime(p.latest_handshake);
    setText(this.toggleBtn, p.enabled ? t("peers.restrict") : t("peers.allow"));
    this.configBtn.setAttribute("aria-label", t("peers.configNamed", { name: label }));
    this.qrBtn.setAttribute("aria-label", t("peers.qrNamed", { name: label }));
    this.shareBtn.setAttribute("aria-label", t("peers.shareNamed", { name: label }));
    this.trafficBtn.setAttribute("aria-label", t("traffic.buttonNamed", { name: label }));
    this.editBtn.setAttribute("aria-label", t("common.editNamed", { name: label }));
    this.moveBtn.setAttribute("aria-label", t("peers.moveNamed", { name: label }));
    this.toggleBtn.setAttribute("aria-label", p.enabled ? t("peers.restrictNamed", { name: label }) : t("peers.allowNamed", { name: label }));
    this.resetBtn.setAttribute("aria-label", t("peers.resetNamed", { name: label }));
    this.deleteBtn.setAttribute("aria-label", t("common.deleteNamed", { name: label }));
  }
}
