// Creating several peers at once (POST /api/peers/bulk): how many, the
// prefix of their names (the API numbers them on from the highest number
// the prefix has), the node or automatic placement, and the expiry and
// data limit they all get. The API makes all of them or none; the result
// lists each peer made, where it went and its address, with its config.

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { openModal } from "./modal.js";
import { t } from "./i18n.js";
import { lifecycleBody, lifecycleFields } from "./lifecycle.js";
import { downloadConfig, peerLabel } from "./peers.js";

// MAX_COUNT is the most peers one request makes (fleet.MaxBulk).
export const MAX_COUNT = 1000;

// bulkCreateBody is the API's body from the form's values: node_id a
// node's id or "auto".
export function bulkCreateBody(v) {
  const body = {
    count: v.count,
    name_prefix: v.name_prefix,
    node_id: v.node_id === "auto" ? "auto" : Number(v.node_id),
    ...lifecycleBody(v),
  };
  if (v.preshared_key) body.preshared_key = "auto";
  return body;
}

// createSeveral asks for the batch, creates it and shows what was made.
// nodes are the nodes to offer (the disabled ones are left out); node,
// when given, is chosen first. It resolves to the API's answer (data:
// ids, peers, nodes), or undefined when cancelled.
export async function createSeveral(ctx, nodes, { node = null } = {}) {
  const targets = nodes.filter((n) => n.enabled).sort((a, b) => a.name.localeCompare(b.name));
  const names = new Map(nodes.map((n) => [n.id, n.name]));
  const result = await formModal({
    title: t("bulkCreate.title"),
    intro: t("bulkCreate.intro"),
    wide: true,
    fields: [
      { name: "count", label: t("bulkCreate.count"), type: "number", min: 1, max: MAX_COUNT, value: 5, required: true,
        help: t("bulkCreate.countHelp", { max: MAX_COUNT }) },
      { name: "name_prefix", label: t("bulkCreate.prefix"), placeholder: "laptop-", required: true, help: t("bulkCreate.prefixHelp") },
      {
        name: "node_id", label: t("bulkCreate.node"), type: "select", value: node ? String(node.id) : "auto",
        options: [{ value: "auto", label: t("bulkCreate.auto") }, ...targets.map((n) => ({ value: String(n.id), label: n.name }))],
        help: t("bulkCreate.nodeHelp"),
      },
      { name: "preshared_key", label: t("peerForm.psk"), type: "checkbox", value: true },
      ...lifecycleFields(null),
    ],
    submitLabel: t("bulkCreate.submit"),
    onSubmit: async (v) => {
      const env = await ctx.api.post("/api/peers/bulk", bulkCreateBody(v));
      return { ...env.data, message: env.message };
    },
  });
  if (!result) return undefined;
  showCreated(ctx, result, (id) => names.get(id) || t("fleetPeers.nodeFallback", { id }));
  return result;
}

// showCreated lists the peers made: name, node and address, and a button
// for each one's config.
function showCreated(ctx, r, nodeName) {
  const peers = r.peers || [];
  const close = h("button", { type: "button", class: "btn btn-primary" }, t("modal.close"));
  const list = h("ul", { class: "moved-list", id: "bulk-created" }, peers.map((p) => {
    const item = h("li", { dataset: { peerId: p.id } },
      h("span", { class: "bulk-created-peer" }, h("strong", {}, peerLabel(p)), ` → ${nodeName(p.node_id)}, `,
        h("span", { class: "mono" }, [p.address4, p.address6].filter(Boolean).join(" "))));
    if (p.has_private_key) {
      const b = h("button", { type: "button", class: "btn btn-small", dataset: { action: "download-created" },
        "aria-label": t("bulkCreate.downloadNamed", { name: peerLabel(p) }) }, t("peers.config"));
      b.addEventListener("click", () => downloadConfig(ctx, p));
      item.append(b);
    }
    return item;
  }));
  const m = openModal({
    title: t("bulkCreate.done", { count: peers.length }),
    content: h("div", { class: "move-result" },
      h("p", { class: "notice", role: "status" }, r.message || t("bulkCreate.created", { count: peers.length })),
      list,
      h("div", { class: "form-actions" }, close)),
  });
  close.addEventListener("click", () => m.close());
  close.focus();
  return m;
}
