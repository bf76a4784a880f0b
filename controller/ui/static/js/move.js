// Moving a peer to another node, and draining a node (moving all its
// peers away). Either way the client's config changes (endpoint, address,
// the node's public key), so the result offers the new config.

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog, openModal } from "./modal.js";
import { nodeStatus, statusText } from "./format.js";
import { t } from "./i18n.js";
import { downloadConfig, peerLabel } from "./peers.js";
import { regionOf } from "./labels.js";

// nodeNames maps node ids to names, for the results; an id it does not
// know reads as "#id".
function nodeNames(nodes) {
  const names = new Map(nodes.map((n) => [n.id, n.name]));
  return (id) => names.get(id) || `#${id}`;
}

// targetLabel names a node in the list of move targets: "edge-2: online,
// 3 peers" (", at most 10" with a limit).
function targetLabel(n) {
  const limit = n.max_peers > 0 ? t("move.atMost", { max: n.max_peers }) : "";
  return t("move.target", { name: n.name, status: statusText(nodeStatus(n)), peers: t("peers.count", { count: n.peer_count || 0 }) }) + limit;
}

async function listNodes(ctx) {
  return (await ctx.api.get("/api/nodes")).data || [];
}

// movePeer asks where to move peer, moves it (POST /api/peers/{id}/move)
// and shows the result, with the new config to download. It resolves to
// the move result, or null when cancelled or refused. fallbackFocus takes
// the focus when the dialogs close and the peer's row has gone (it moved
// off the page's node).
export async function movePeer(ctx, peer, { fallbackFocus = null } = {}) {
  const { api, notify } = ctx;
  let nodes;
  try {
    nodes = await listNodes(ctx);
  } catch (err) {
    notify.error(err, t("move.listFailed"));
    return null;
  }
  const label = peerLabel(peer);
  const targets = nodes.filter((n) => n.id !== peer.node_id && n.enabled).sort((a, b) => a.name.localeCompare(b.name));
  if (targets.length === 0) {
    openModal({
      title: t("move.title", { name: label }),
      content: h("p", {}, t("move.noTarget")),
      fallbackFocus,
    });
    return null;
  }
  const name = nodeNames(nodes);
  const result = await formModal({
    title: t("move.title", { name: label }),
    intro: (peer.address4
      ? t("move.whereAddress", { name: label, node: name(peer.node_id), address: peer.address4 })
      : t("move.where", { name: label, node: name(peer.node_id) })) + " " + t("move.explain"),
    fields: [{
      name: "node_id", label: t("move.to"), type: "select",
      options: targets.map((n) => ({ value: String(n.id), label: targetLabel(n) })),
      help: t("move.toHelp"),
    }],
    submitLabel: t("move.submit"),
    fallbackFocus,
    onSubmit: async (v) => {
      const env = await api.post(`/api/peers/${peer.id}/move`, { node_id: Number(v.node_id) });
      return { ...env.data, message: env.message || env.data.message };
    },
  });
  if (!result) return null;
  showMoveResult(ctx, result, name, fallbackFocus);
  return result;
}

// showMoveResult shows what a move changed and offers the new config.
function showMoveResult(ctx, r, name, fallbackFocus) {
  const p = r.peer;
  const close = h("button", { type: "button", class: "btn" }, t("modal.close"));
  const actions = h("div", { class: "form-actions" });
  let next;
  let download = null;
  if (p.has_private_key) {
    download = h("button", { type: "button", class: "btn btn-primary", dataset: { action: "download-moved" } }, t("move.download"));
    download.addEventListener("click", () => downloadConfig(ctx, p));
    actions.append(close, download);
    next = h("p", {}, t("move.nextConfig"));
  } else {
    actions.append(close);
    next = h("p", {}, t("move.nextOwnKey"));
  }
  const m = openModal({
    title: t("move.moved", { name: peerLabel(p) }),
    content: h("div", { class: "move-result" },
      h("p", { class: "notice", role: "status" }, r.message),
      changes(r, name),
      next,
      actions),
    fallbackFocus,
  });
  close.addEventListener("click", () => m.close());
  if (download) download.focus(); // what the operator most likely does next
  return m;
}

// changes lists what a move changed, before → after.
function changes(r, name) {
  const arrow = (a, b) => `${a || t("move.none")} → ${b || t("move.none")}`;
  const rows = [
    [t("peerForm.node"), arrow(name(r.from_node_id), name(r.to_node_id))],
    [t("peerForm.address"), arrow(r.previous_address4, r.address4)],
  ];
  if (r.previous_address6 || r.address6) rows.push([t("move.address6"), arrow(r.previous_address6, r.address6)]);
  rows.push([t("node.endpoint"), arrow(r.previous_endpoint, r.endpoint)]);
  return h("dl", { class: "facts move-facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v)]));
}

// drainNode asks, then moves every peer of node to other nodes (POST
// /api/nodes/{id}/drain) and shows what moved. It resolves to true when
// the drain ran (even if some peers could not move), false when declined.
export async function drainNode(ctx, node, { fallbackFocus = null } = {}) {
  const { api, notify } = ctx;
  const n = node.peer_count || 0;
  const region = regionOf(node);
  const answer = await confirmDialog({
    title: t("drain.title", { name: node.name }),
    message: h("div", {},
      h("p", {}, t("drain.question", { count: n, name: node.name })),
      h("p", {}, t("drain.explain")),
      region ? h("p", {}, t("drain.region", { region })) : null,
      h("p", {}, t("drain.staysEnabled", { name: node.name }))),
    confirmLabel: t("drain.confirm", { count: n }),
    option: region ? { label: t("drain.anyRegion", { region }) } : null,
  });
  if (!answer) return false;
  let res;
  try {
    res = await api.post(`/api/nodes/${node.id}/drain`, region ? { any_region: answer.option } : undefined);
  } catch (err) {
    notify.error(err, t("drain.stopped", { name: node.name }));
    return true;
  }
  let name = (id) => (id === node.id ? node.name : `#${id}`);
  try {
    name = nodeNames(await listNodes(ctx));
  } catch {
    // ids will do
  }
  showDrainResult(ctx, node, res, name, fallbackFocus);
  return true;
}

function showDrainResult(ctx, node, env, name, fallbackFocus) {
  const r = env.data || {};
  const moved = r.moved || [];
  const close = h("button", { type: "button", class: "btn btn-primary" }, t("modal.close"));
  const list = moved.length === 0 ? null : h("ul", { class: "moved-list" }, moved.map((m) => {
    const p = m.peer;
    const item = h("li", {},
      h("span", {}, h("strong", {}, peerLabel(p)), ` → ${name(m.to_node_id)}, `, h("span", { class: "mono" }, m.address4)));
    if (p.has_private_key) {
      const b = h("button", { type: "button", class: "btn btn-small", dataset: { action: "download-moved" }, "aria-label": t("move.downloadNamed", { name: peerLabel(p) }) }, t("peers.config"));
      b.addEventListener("click", () => downloadConfig(ctx, p));
      item.append(b);
    }
    return item;
  }));
  const m = openModal({
    title: t("drain.done", { name: node.name }),
    content: h("div", { class: "move-result" },
      h("p", { class: "notice", role: "status" }, env.message || r.message || t("drain.drained")),
      list,
      moved.length ? h("p", {}, t("drain.next")) : null,
      h("div", { class: "form-actions" }, close)),
    fallbackFocus,
  });
  close.addEventListener("click", () => m.close());
}
