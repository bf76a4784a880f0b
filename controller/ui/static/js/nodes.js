// The nodes page: a grid of cards, one per node, refreshed in place.

import { h, setText, setClass } from "./dom.js";
import { Poller } from "./poll.js";
import { absoluteTime, agentVersion, nodeStatus, peerCapacity, relativeTime, statusText } from "./format.js";
import { t } from "./i18n.js";
import { showMessage } from "./detail.js";
import { showDrift } from "./drift.js";
import { deleteNode, openNodeForm, showTest, testNode, toggleNode } from "./node-form.js";
import { RegionGroups, labelList, showLabels } from "./labels.js";
import { CHART_REFRESH_MS, TOTALS_RANGE, trafficTotals } from "./charts.js";

export class NodesView {
  constructor(ctx) {
    this.ctx = ctx;
    this.cards = new Map(); // node id -> NodeCard
    this.tests = new Map(); // node id -> last test outcome, kept across refreshes
    this.poller = new Poller(() => this.refresh());
    this.totals = null; // node id -> {rx, tx} over TOTALS_RANGE; null until read
    this.totalsAt = 0;
  }

  mount(main) {
    this.ctx.setTitle(t("nodes.title"));
    const add = h("button", { type: "button", class: "btn btn-primary", id: "add-node" }, t("nodes.add"));
    add.addEventListener("click", () => this.add());
    this.summary = h("p", { class: "summary", id: "nodes-summary" });
    // One group of cards per region (see labels.js).
    this.grid = h("div", { class: "region-groups", id: "node-cards", "aria-label": t("nodes.title") });
    this.groups = new RegionGroups(this.grid);
    this.empty = h("div", { class: "empty", hidden: true },
      h("p", {}, t("nodes.empty")));
    this.loading = h("p", { class: "loading" }, t("nodes.loading"));
    main.append(h("section", { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, t("nodes.title")), this.summary), add),
      this.loading, this.empty, this.grid));
    this.poller.start();
  }

  unmount() {
    this.poller.stop();
  }

  async refresh() {
    try {
      const [env] = await Promise.all([this.ctx.api.get("/api/nodes"), this.refreshTotals()]);
      if (this.poller.stopped) return; // the page was left while this ran
      this.ctx.notify.banner(null);
      this.render(env.data || []);
    } catch (err) {
      if (!err.unauthorized && !this.poller.stopped) this.ctx.notify.banner(t("nodes.refreshFailed", { message: err.message }));
    }
  }

  // refreshTotals reads every node's traffic totals, at most once a
  // minute (they move by the minute). Without them the cards say nothing
  // of traffic; a failure is not worth a banner.
  async refreshTotals() {
    if (Date.now() - this.totalsAt < CHART_REFRESH_MS) return;
    this.totalsAt = Date.now();
    try {
      const env = await this.ctx.api.get(`/api/traffic/nodes?range=${TOTALS_RANGE}`);
      this.totals = new Map(((env.data && env.data.nodes) || []).map((n) => [n.node_id, n]));
    } catch {
      this.totals = null;
    }
  }

  render(nodes) {
    this.loading.hidden = true;
    this.empty.hidden = nodes.length > 0;
    const now = Date.now();
    const seen = new Set();
    nodes.sort((a, b) => a.name.localeCompare(b.name));
    const placed = [];
    for (const node of nodes) {
      seen.add(node.id);
      let card = this.cards.get(node.id);
      if (!card) {
        card = new NodeCard(this, node);
        this.cards.set(node.id, card);
      }
      card.update(node, this.tests.get(node.id), now);
      card.showTraffic(this.totals);
      placed.push({ el: card.el, node });
    }
    // By region, in name order within each, moving only what is out of place.
    this.groups.place(placed);
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) {
        card.el.remove();
        this.cards.delete(id);
        this.tests.delete(id);
      }
    }
    const online = nodes.filter((n) => nodeStatus(n) === "online").length;
    const peers = nodes.reduce((sum, n) => sum + (n.peer_count || 0), 0);
    setText(this.summary, nodes.length
      ? t("nodes.summary", { nodes: t("nodes.count", { count: nodes.length }), online, peers: t("peers.count", { count: peers }) })
      : "");
  }

  async add() {
    const node = await openNodeForm(this.ctx);
    if (node) this.poller.now();
  }
}

// NodeCard is one node's card. Its elements are made once and updated by
// every refresh, so focus and selection survive refreshes.
class NodeCard {
  constructor(view, node) {
    this.view = view;
    this.node = node;
    const ctx = view.ctx;
    this.link = h("a", { href: `/nodes/${node.id}`, "data-link": true });
    this.badge = h("span", { class: "badge" });
    this.lastSeen = h("p", { class: "last-seen" });
    this.labels = labelList();
    this.agent = h("dd", { class: "mono" });
    this.version = h("dd", { class: "mono agent-version" });
    this.endpoint = h("dd", { class: "mono" });
    this.peers = h("dd", { class: "peer-count" });
    this.pool = h("dd", { class: "mono" });
    this.trafficTerm = h("dt", { hidden: true }, t("traffic.cardTerm"));
    this.traffic = h("dd", { class: "node-traffic", hidden: true });
    this.drift = h("p", { class: "drift", hidden: true });
    this.syncing = h("p", { class: "syncing", hidden: true });
    this.error = h("div", { class: "last-error", hidden: true });
    // The outcome is a live region; its age is outside it, so that the
    // refresh that updates the age does not announce it again.
    this.test = h("div", { class: "test-result", role: "status", hidden: true });
    this.testAt = h("p", { class: "test-at", hidden: true });
    this.edit = h("button", { type: "button", class: "btn btn-small", dataset: { action: "edit" } }, t("common.edit"));
    this.testBtn = h("button", { type: "button", class: "btn btn-small", dataset: { action: "test" } }, t("common.test"));
    this.toggle = h("button", { type: "button", class: "btn btn-small", dataset: { action: "toggle" } });
    this.del = h("button", { type: "button", class: "btn btn-small btn-danger-text", dataset: { action: "delete" } }, t("common.delete"));
    this.el = h("li", { class: "card node-card", dataset: { nodeId: node.id } },
      h("div", { class: "card-head" }, h("h2", {}, this.link), this.badge),
      this.labels,
      this.lastSeen,
      h("dl", { class: "facts" },
        h("dt", {}, t("node.agent")), this.agent,
        h("dt", {}, t("node.version")), this.version,
        h("dt", {}, t("node.endpoint")), this.endpoint,
        h("dt", {}, t("node.peers")), this.peers,
        h("dt", {}, t("node.pool")), this.pool,
        this.trafficTerm, this.traffic),
      this.drift, this.syncing, this.error, this.test, this.testAt,
      h("div", { class: "card-actions" }, this.edit, this.testBtn, this.toggle, this.del));

    this.edit.addEventListener("click", async () => {
      if (await openNodeForm(ctx, this.node)) view.poller.now();
    });
    this.testBtn.addEventListener("click", () => this.runTest());
    this.toggle.addEventListener("click", async () => {
      this.toggle.disabled = true;
      const node = await toggleNode(ctx, this.node);
      this.toggle.disabled = false;
      if (node) {
        this.update(node, view.tests.get(node.id), Date.now());
        view.poller.now();
      }
    });
    this.del.addEventListener("click", async () => {
      if (await deleteNode(ctx, this.node)) view.poller.now();
    });
  }

  async runTest() {
    const id = this.node.id;
    this.testBtn.disabled = true;
    showTest(this.test, { pending: true });
    const outcome = await testNode(this.view.ctx.api, this.node);
    this.testBtn.disabled = false;
    if (outcome.unauthorized) return;
    this.view.tests.set(id, { ...outcome, at: Date.now() });
    this.update(this.node, this.view.tests.get(id), Date.now());
    this.view.poller.now(); // the test also refreshes the node's status
  }

  // showTraffic shows the node's totals; totals null hides them (not read).
  showTraffic(totals) {
    this.trafficTerm.hidden = this.traffic.hidden = !totals;
    if (totals) setText(this.traffic, trafficTotals(totals.get(this.node.id)));
  }

  update(node, test, now) {
    this.node = node;
    const status = nodeStatus(node);
    setText(this.link, node.name);
    setText(this.badge, statusText(status));
    setClass(this.badge, "status-", status);
    setClass(this.el, "is-", status);
    const seen = relativeTime(node.last_seen, now);
    setText(this.lastSeen, t("node.lastSeen", { seen }));
    showLabels(this.labels, node.labels);
    this.lastSeen.title = absoluteTime(node.last_seen);
    setText(this.agent, node.agent_url);
    setText(this.version, agentVersion(node));
    setText(this.endpoint, node.endpoint || t("node.notSet"));
    setText(this.peers, peerCapacity(node));
    setText(this.pool, [node.ip_pool_cidr, node.ip_pool6_cidr].filter(Boolean).join(", "));
    showDrift(this.drift, this.syncing, node, now);
    const showError = node.enabled && node.last_error && (status === "offline" || status === "error");
    this.error.hidden = !showError;
    showMessage(this.error, showError ? node.last_error : "", showError ? node.last_error_detail : "");
    if (test && !this.testBtn.disabled) {
      showTest(this.test, test);
      this.testAt.hidden = false;
      setText(this.testAt, t("node.tested", { when: relativeTime(test.at, now) }));
    }
    setText(this.toggle, node.enabled ? t("common.disable") : t("common.enable"));
    this.toggle.setAttribute("aria-label", node.enabled ? t("node.disableNamed", { name: node.name }) : t("node.enableNamed", { name: node.name }));
    this.edit.setAttribute("aria-label", t("common.editNamed", { name: node.name }));
    this.testBtn.setAttribute("aria-label", t("node.testNamed", { name: node.name }));
    this.del.setAttribute("aria-label", t("common.deleteNamed", { name: node.name }));
  }
}
