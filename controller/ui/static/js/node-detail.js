// A node's page: its state, its actions, and its peers in a table with
// search and sort. Everything refreshes in place while the page is shown.

import { h, setText, setClass, clear } from "./dom.js";
import { Poller } from "./poll.js";
import { openModal } from "./modal.js";
import {
  absoluteTime, agentVersion, apiPaths, bytes, driftSummary, nodeStatus, peerCapacity, plural, relativeTime, toDate,
} from "./format.js";
import { showDrift } from "./drift.js";
import { drainNode, movePeer } from "./move.js";
import { deleteNode, openNodeForm, showTest, testNode, toggleNode } from "./node-form.js";
import { deletePeer, downloadConfig, openPeerForm, peerLabel, setPeerEnabled, showQR } from "./peers.js";
import { openShares } from "./peer-shares.js";
import { formatLabels, labelList, showLabels } from "./labels.js";
import { isHTTPS, repinNode, tlsText } from "./tls.js";
import { hasLimit, peerStatus, resetUsage, statusText, UsageMeter } from "./lifecycle.js";
import { rotateSecret, rotationNote, showRotation } from "./rotate-secret.js";

// COLUMNS of the peers table; key is what a column sorts by.
const COLUMNS = [
  { key: "name", label: "Name" },
  { key: "address", label: "Address" },
  { key: "status", label: "Status" },
  { key: "rx", label: "Received", numeric: true },
  { key: "tx", label: "Sent", numeric: true },
  { key: "handshake", label: "Last handshake" },
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
  }

  mount(main) {
    this.main = main;
    this.ctx.setTitle("Node");
    this.title = h("span", {}, "Node");
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
    this.noLabels = h("span", { class: "labels-none" }, "none");
    this.driftLine = h("p", { class: "drift", hidden: true });
    this.syncLine = h("p", { class: "syncing", hidden: true });
    this.error = h("p", { class: "last-error", hidden: true });
    this.testResult = h("p", { class: "test-result", role: "status", hidden: true });
    this.rotation = rotationNote();

    const btn = (label, action, cls = "btn") => h("button", { type: "button", class: cls, dataset: { action } }, label);
    this.addBtn = btn("Add peer", "add-peer", "btn btn-primary");
    this.reconcileBtn = btn("Reconcile now", "reconcile");
    this.driftBtn = btn("Show drift", "drift");
    this.drainBtn = btn("Drain…", "drain");
    this.testBtn = btn("Test", "test");
    this.repinBtn = btn("Re-pin…", "repin");
    this.rotateBtn = btn("Rotate secret", "rotate-secret");
    this.editBtn = btn("Edit", "edit");
    this.toggleBtn = btn("Disable", "toggle");
    this.deleteBtn = btn("Delete", "delete", "btn btn-danger-text");

    this.search = h("input", { type: "search", id: "peer-search", placeholder: "Name, address or key", autocomplete: "off", spellcheck: "false" });
    this.count = h("p", { class: "summary", id: "peer-count", "aria-live": "polite" });
    this.headers = new Map();
    const headRow = h("tr", {}, COLUMNS.map((c) => {
      const b = h("button", { type: "button", class: "sort", dataset: { sort: c.key } }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
      b.addEventListener("click", () => this.setSort(c.key));
      const th = h("th", { scope: "col", class: c.numeric ? "num" : null }, b);
      this.headers.set(c.key, th);
      return th;
    }), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")));
    this.tbody = h("tbody", {});
    this.table = h("table", { class: "peers", id: "peers-table" },
      h("caption", { class: "visually-hidden" }, "Peers of this node; the column buttons sort"),
      h("thead", {}, headRow), this.tbody);
    this.emptyPeers = h("p", { class: "empty", hidden: true });

    main.append(h("section", { class: "page" },
      h("p", { class: "crumbs" }, h("a", { href: "/nodes", "data-link": true }, "← All nodes")),
      h("div", { class: "page-head" },
        this.heading,
        h("div", { class: "actions" }, this.addBtn, this.reconcileBtn, this.drainBtn, this.testBtn, this.repinBtn, this.rotateBtn, this.editBtn, this.toggleBtn, this.deleteBtn)),
      h("dl", { class: "facts facts-wide" },
        h("div", {}, h("dt", {}, "Agent"), this.facts.agent),
        h("div", {}, h("dt", {}, "Endpoint"), this.facts.endpoint),
        h("div", {}, h("dt", {}, "Interface"), this.facts.iface),
        h("div", {}, h("dt", {}, "Agent paths"), this.facts.paths),
        h("div", {}, h("dt", {}, "TLS"), this.facts.tls),
        h("div", {}, h("dt", {}, "Pool"), this.facts.pool),
        h("div", {}, h("dt", {}, "Peers"), this.facts.peers),
        h("div", {}, h("dt", {}, "Last seen"), this.facts.seen),
        h("div", {}, h("dt", {}, "Agent version"), this.facts.version),
        h("div", {}, h("dt", {}, "Drift policy"), this.facts.policy),
        h("div", { class: "wide" }, h("dt", {}, "Drift"), this.facts.drift),
        h("div", { class: "wide" }, h("dt", {}, "Labels"), h("dd", {}, this.labels, this.noLabels))),
      h("div", { class: "notes" }, h("div", { class: "drift-row" }, this.driftLine, this.syncLine, this.driftBtn), this.error, this.testResult, this.rotation),
      h("section", { class: "peers-section", "aria-labelledby": "peers-heading" },
        h("div", { class: "section-head" },
          h("h2", { id: "peers-heading" }, "Peers"),
          h("div", { class: "search" }, h("label", { for: this.search.id }, "Search"), this.search)),
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
  }

  unmount() {
    this.poller.stop();
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
        this.gone();
        return;
      }
      notify.banner(`Cannot refresh this node: ${err.message}`);
    }
  }

  gone() {
    clear(this.main);
    this.ctx.setTitle("Node not found");
    this.main.append(h("section", { class: "page narrow" },
      h("h1", {}, "Node not found"),
      h("p", {}, `There is no node #${this.id}; it may have been deleted.`),
      h("p", {}, h("a", { href: "/nodes", "data-link": true }, "Back to the nodes"))));
  }

  renderNode(node) {
    this.node = node;
    const now = Date.now();
    const status = nodeStatus(node);
    this.ctx.setTitle(node.name);
    setText(this.title, node.name);
    setText(this.badge, status);
    setClass(this.badge, "status-", status);
    setText(this.facts.agent, node.agent_url);
    setText(this.facts.endpoint, node.endpoint || "not set");
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
    setText(this.facts.policy, node.drift_policy === "report" ? "report only" : "repair");
    showLabels(this.labels, node.labels);
    this.noLabels.hidden = !!formatLabels(node.labels);
    showDrift(this.driftLine, this.syncLine, node, now);
    setText(this.facts.drift, driftSummary(node));
    this.facts.drift.title = node.drift_checked_at ? `Last checked ${relativeTime(node.drift_checked_at, now)}` : "";
    const showError = node.enabled && node.last_error && (status === "offline" || status === "error");
    this.error.hidden = !showError;
    setText(this.error, showError ? node.last_error : "");
    showRotation(this.rotation, node);
    setText(this.toggleBtn, node.enabled ? "Disable" : "Enable");
    this.reconcileBtn.disabled = !node.enabled;
    this.reconcileBtn.title = node.enabled ? "" : "The node is disabled";
    this.drainBtn.disabled = !node.peer_count;
    this.drainBtn.title = node.peer_count ? "Move every peer of this node to other nodes" : "The node has no peers";
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
    if (total === 0) setText(this.emptyPeers, "No peers on this node yet. Add one: the controller makes its keys and address.");
    else if (shown === 0) setText(this.emptyPeers, `No peers match “${this.search.value.trim()}”.`);
    setText(this.count, this.query ? `${shown} of ${plural(total, "peer")}` : plural(total, "peer"));
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
        ? `not needed: ${r.skipped}`
        : `${r.added || 0} added, ${r.updated || 0} updated, ${r.removed || 0} removed${r.refused ? `, ${r.refused} refused` : ""}`;
      this.ctx.notify.success(`${this.node ? this.node.name : "Node"} reconciled: ${summary}.`);
    } catch (err) {
      this.ctx.notify.error(err, "Reconcile failed");
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
      this.ctx.notify.error(err, "Cannot read the drift");
      return;
    }
    const content = list.length === 0
      ? h("p", {}, "The agent matches the desired state.")
      : h("ul", { class: "drift-list" }, list.map((d) => h("li", {},
        h("strong", {}, d.kind.replaceAll("_", " ")), " ",
        d.peer_name || (d.peer_id ? `peer #${d.peer_id}` : h("span", { class: "mono" }, d.public_key)),
        d.fields && d.fields.length ? ` (${d.fields.join(", ")})` : "",
        d.pending ? " — pending" : "")));
    openModal({ title: `Drift of ${this.node ? this.node.name : "node"}`, content });
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
    this.addr = h("td", { class: "mono", dataset: { label: "Address" } });
    this.status = h("span", { class: "badge" });
    this.rx = h("td", { class: "num", dataset: { label: "Received" } });
    this.tx = h("td", { class: "num", dataset: { label: "Sent" } });
    this.handshake = h("td", { dataset: { label: "Last handshake" } });
    const btn = (label, action, cls = "btn btn-small") => h("button", { type: "button", class: cls, dataset: { action } }, label);
    this.configBtn = btn("Config", "config");
    this.qrBtn = btn("QR", "qr");
    this.shareBtn = btn("Share…", "share");
    this.editBtn = btn("Edit", "edit");
    this.moveBtn = btn("Move…", "move");
    this.toggleBtn = btn("Restrict", "toggle");
    this.resetBtn = btn("Reset usage", "reset-usage");
    this.deleteBtn = btn("Delete", "delete", "btn btn-small btn-danger-text");
    this.el = h("tr", { dataset: { peerId: peer.id } },
      h("td", { class: "name-cell", dataset: { label: "Name" } }, this.name, this.tags, this.life.el),
      this.addr,
      h("td", { dataset: { label: "Status" } }, this.status),
      this.rx, this.tx, this.handshake,
      h("td", { class: "row-actions" }, h("div", {}, this.configBtn, this.qrBtn, this.shareBtn, this.editBtn, this.moveBtn, this.toggleBtn, this.resetBtn, this.deleteBtn)));

    this.configBtn.addEventListener("click", () => downloadConfig(ctx, this.peer));
    this.qrBtn.addEventListener("click", () => showQR(ctx, this.peer));
    this.shareBtn.addEventListener("click", () => openShares(ctx, this.peer));
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
    setText(this.name, p.name || "(no name)");
    this.name.classList.toggle("unnamed", !p.name);
    this.name.title = `Public key ${p.public_key}`;
    const tags = [];
    if (p.sync_state === "pending") tags.push(["pending", "Not yet applied on the node"]);
    if (p.sync_state === "error") tags.push(["sync error", p.sync_error || "The node refused this peer"]);
    const tagText = tags.map((t) => t[0]).join(" ");
    if (this.tags.dataset.text !== tagText) {
      this.tags.dataset.text = tagText;
      clear(this.tags);
      for (const [text, title] of tags) this.tags.append(h("span", { class: `tag tag-${text.replace(" ", "-")}`, title }, text));
    }
    setText(this.addr, [p.address4, p.address6].filter(Boolean).join(" "));
    const status = peerStatus(p, now);
    setText(this.status, statusText(status));
    setClass(this.status, "status-", status);
    this.life.update(p, now);
    this.resetBtn.hidden = !hasLimit(p);
    setText(this.rx, bytes(received(p)));
    this.rx.title = `${received(p).toLocaleString()} bytes`;
    setText(this.tx, bytes(sent(p)));
    this.tx.title = `${sent(p).toLocaleString()} bytes`;
    setText(this.handshake, relativeTime(p.latest_handshake, now));
    this.handshake.title = absoluteTime(p.latest_handshake);
    setText(this.toggleBtn, p.enabled ? "Restrict" : "Allow");
    this.configBtn.setAttribute("aria-label", `Download the config of ${label}`);
    this.qrBtn.setAttribute("aria-label", `Show the QR code of ${label}`);
    this.shareBtn.setAttribute("aria-label", `Share links of ${label}`);
    this.editBtn.setAttribute("aria-label", `Edit ${label}`);
    this.moveBtn.setAttribute("aria-label", `Move ${label} to another node`);
    this.toggleBtn.setAttribute("aria-label", `${p.enabled ? "Restrict" : "Allow"} ${label}`);
    this.resetBtn.setAttribute("aria-label", `Reset the data usage of ${label}`);
    this.deleteBtn.setAttribute("aria-label", `Delete ${label}`);
  }
}
