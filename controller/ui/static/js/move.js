// Moving a peer to another node, and draining a node (moving all its
// peers away). Either way the client's config changes (endpoint, address,
// the node's public key), so the result offers the new config.

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog, openModal } from "./modal.js";
import { nodeStatus, plural } from "./format.js";
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
  const limit = n.max_peers > 0 ? `, at most ${n.max_peers}` : "";
  return `${n.name}: ${nodeStatus(n)}, ${plural(n.peer_count || 0, "peer")}${limit}`;
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
    notify.error(err, "Cannot list the nodes");
    return null;
  }
  const label = peerLabel(peer);
  const targets = nodes.filter((n) => n.id !== peer.node_id && n.enabled).sort((a, b) => a.name.localeCompare(b.name));
  if (targets.length === 0) {
    openModal({
      title: `Move ${label}`,
      content: h("p", {}, "There is no other enabled node to move this peer to. Add a node, or enable one, first."),
      fallbackFocus,
    });
    return null;
  }
  const name = nodeNames(nodes);
  const result = await formModal({
    title: `Move ${label}`,
    intro: `${label} is on ${name(peer.node_id)}${peer.address4 ? ` with address ${peer.address4}` : ""}. ` +
      "On the new node it gets an address from that node's pool, so its client needs its new config afterwards.",
    fields: [{
      name: "node_id", label: "Move to", type: "select",
      options: targets.map((n) => ({ value: String(n.id), label: targetLabel(n) })),
      help: "Enabled nodes other than this peer's. An offline node takes the peer when its agent answers again.",
    }],
    submitLabel: "Move peer",
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
  const close = h("button", { type: "button", class: "btn" }, "Close");
  const actions = h("div", { class: "form-actions" });
  let next;
  let download = null;
  if (p.has_private_key) {
    download = h("button", { type: "button", class: "btn btn-primary", dataset: { action: "download-moved" } }, "Download the new config");
    download.addEventListener("click", () => downloadConfig(ctx, p));
    actions.append(close, download);
    next = h("p", {}, "Give the client its new config (or show it the QR code from its new node's page).");
  } else {
    actions.append(close);
    next = h("p", {}, "The client keeps its own private key: give it the new endpoint and address, and the new node's public key.");
  }
  const m = openModal({
    title: `${peerLabel(p)} moved`,
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
  const arrow = (a, b) => `${a || "none"} → ${b || "none"}`;
  const rows = [
    ["Node", arrow(name(r.from_node_id), name(r.to_node_id))],
    ["Address", arrow(r.previous_address4, r.address4)],
  ];
  if (r.previous_address6 || r.address6) rows.push(["IPv6 address", arrow(r.previous_address6, r.address6)]);
  rows.push(["Endpoint", arrow(r.previous_endpoint, r.endpoint)]);
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
    title: `Drain ${node.name}`,
    message: h("div", {},
      h("p", {}, n === 1
        ? `Move the 1 peer of ${node.name} to another node?`
        : `Move all ${n} peers of ${node.name} to other nodes?`),
      h("p", {}, "Each goes to the enabled, online node with the most room. A moved peer gets a new address and endpoint: " +
        "its client needs its new config."),
      region ? h("p", {}, `Each peer stays in region ${region}, unless you allow other regions below.`) : null,
      h("p", {}, `${node.name} stays enabled: give it weight 0 or disable it to keep new peers away.`)),
    confirmLabel: `Move ${plural(n, "peer")}`,
    option: region ? { label: `Also move peers to other regions when ${region} has no room` } : null,
  });
  if (!answer) return false;
  let res;
  try {
    res = await api.post(`/api/nodes/${node.id}/drain`, region ? { any_region: answer.option } : undefined);
  } catch (err) {
    notify.error(err, `Draining ${node.name} stopped`);
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
  const close = h("button", { type: "button", class: "btn btn-primary" }, "Close");
  const list = moved.length === 0 ? null : h("ul", { class: "moved-list" }, moved.map((m) => {
    const p = m.peer;
    const item = h("li", {},
      h("span", {}, h("strong", {}, peerLabel(p)), ` → ${name(m.to_node_id)}, `, h("span", { class: "mono" }, m.address4)));
    if (p.has_private_key) {
      const b = h("button", { type: "button", class: "btn btn-small", dataset: { action: "download-moved" }, "aria-label": `Download the new config of ${peerLabel(p)}` }, "Config");
      b.addEventListener("click", () => downloadConfig(ctx, p));
      item.append(b);
    }
    return item;
  }));
  const m = openModal({
    title: `${node.name} drained`,
    content: h("div", { class: "move-result" },
      h("p", { class: "notice", role: "status" }, env.message || r.message || "Drained."),
      list,
      moved.length ? h("p", {}, "Each moved peer's client needs its new config.") : null,
      h("div", { class: "form-actions" }, close)),
    fallbackFocus,
  });
  close.addEventListener("click", () => m.close());
}
