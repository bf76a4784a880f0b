// Peer forms and actions: add, edit, restrict/allow, delete, the config
// download and the QR code. The page never holds a peer's private key
// except in the config file or QR image the operator asks for.

import { h, saveFile } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog, openModal } from "./modal.js";
import { lifecycleBody, lifecycleFields } from "./lifecycle.js";
import { placementOptions, placementBody } from "./labels.js";
import { t } from "./i18n.js";

// peerLabel names a peer for messages: its name, else its address.
export function peerLabel(peer) {
  return peer.name || peer.address4 || peer.address6 || `#${peer.id}`;
}

// openPeerForm adds a peer to node (peer null) or edits peer. It resolves
// to the saved peer, or undefined when cancelled.
export function openPeerForm(ctx, node, peer = null) {
  const { api, notify } = ctx;
  const editing = !!peer;
  const fields = [{ name: "name", label: t("peerForm.name"), required: true, value: peer?.name, placeholder: "alice-laptop", help: t("peerForm.nameHelp") }];
  if (!editing) {
    fields.push(
      {
        name: "node_id", label: t("peerForm.node"), type: "select", value: "this",
        options: [{ value: "this", label: t("peerForm.thisNode", { name: node.name }) }, ...placementOptions(node)],
        help: t("peerForm.nodeHelp"),
      },
      { name: "address", label: t("peerForm.address"), placeholder: t("peerForm.addressPlaceholder"), help: t("peerForm.addressHelp", { pool: node.ip_pool_cidr }) },
      {
        name: "public_key", label: t("peerForm.publicKey"),
        help: t("peerForm.publicKeyHelp"),
      },
      { name: "preshared_key", label: t("peerForm.psk"), type: "checkbox", value: true },
    );
  }
  fields.push(
    {
      name: "client_allowed_ips", label: t("peerForm.routes"), list: true,
      value: peer?.client_allowed_ips ?? ["0.0.0.0/0", "::/0"],
      help: t("peerForm.routesHelp"),
    },
    { name: "dns", label: t("peerForm.dns"), value: peer?.dns, placeholder: node.dns || "1.1.1.1" },
    { name: "persistent_keepalive", label: t("peerForm.clientKeepalive"), type: "number", value: peer?.persistent_keepalive ?? "", placeholder: t("peerForm.off"),
      help: t("peerForm.clientKeepaliveHelp") },
    { name: "node_keepalive", label: t("peerForm.nodeKeepalive"), type: "number", value: peer?.node_keepalive ?? "", placeholder: t("peerForm.off"),
      help: t("peerForm.nodeKeepaliveHelp") },
    ...lifecycleFields(peer),
  );
  return formModal({
    title: editing ? t("peerForm.editTitle", { name: peerLabel(peer) }) : t("peerForm.addTitle"),
    wide: !editing,
    fields,
    submitLabel: editing ? t("forms.save") : t("peers.add"),
    setup: (f) => {
      // An address belongs to this node's pool: not with automatic placement.
      const placement = f.input("node_id");
      if (placement) {
        placement.addEventListener("change", () => {
          f.input("address").disabled = placement.value !== "this";
          if (placement.value !== "this") f.input("address").value = "";
        });
      }
    },
    onSubmit: async (v) => {
      const body = {
        name: v.name,
        client_allowed_ips: v.client_allowed_ips,
        dns: v.dns,
        persistent_keepalive: v.persistent_keepalive,
        node_keepalive: v.node_keepalive,
        ...lifecycleBody(v),
      };
      if (editing) {
        const env = await api.put(`/api/peers/${peer.id}`, body);
        notify.success(t("common.savedNamed", { message: env.message || t("common.saved"), name: peerLabel(env.data) }));
        return env.data;
      }
      if (v.address) body.address = v.address;
      if (v.public_key) body.public_key = v.public_key;
      if (v.preshared_key) body.preshared_key = "auto";
      let env;
      if (v.node_id !== "this") {
        env = await api.post("/api/peers", { ...body, ...placementBody(v.node_id) });
      } else {
        env = await api.post(`/api/nodes/${node.id}/peers`, body);
      }
      // The message names the node the peer went to, and whether it is
      // being applied now or waits for the agent.
      notify.success(t("common.labelled", { label: peerLabel(env.data), message: env.message || t("peers.created") }));
      return env.data;
    },
  });
}

// setPeerEnabled restricts (off the node, kept) or allows a peer; a
// restriction is asked first, since the peer's client stops working. It
// resolves to the peer, or null when declined or after showing why it
// failed.
export async function setPeerEnabled(ctx, peer, enabled) {
  if (!enabled) {
    const yes = await confirmDialog({
      title: t("peers.restrictTitle", { name: peerLabel(peer) }),
      message: h("p", {}, t("peers.restrictQuestion", { name: peerLabel(peer) })),
      confirmLabel: t("peers.restrict"),
      danger: true,
    });
    if (!yes) return null;
  }
  try {
    const env = await ctx.api.post(`/api/peers/${peer.id}/${enabled ? "allow" : "restrict"}`);
    const done = enabled ? t("peers.allowed") : t("peers.restricted");
    ctx.notify.success(t("common.labelled", { label: peerLabel(peer), message: env.message || done }));
    return env.data;
  } catch (err) {
    ctx.notify.error(err, enabled ? t("peers.allowFailed", { name: peerLabel(peer) }) : t("peers.restrictFailed", { name: peerLabel(peer) }));
    return null;
  }
}

// deletePeer asks, then deletes a peer. It resolves to true when it is gone.
export async function deletePeer(ctx, peer) {
  const answer = await confirmDialog({
    title: t("peers.deleteTitle"),
    message: h("p", {}, t("peers.deleteQuestion", { name: peer.address4 ? `${peerLabel(peer)} (${peer.address4})` : peerLabel(peer) })),
    confirmLabel: t("peers.deleteTitle"),
    danger: true,
  });
  if (!answer) return false;
  try {
    await ctx.api.delete(`/api/peers/${peer.id}`);
    ctx.notify.success(t("peers.deleted", { name: peerLabel(peer) }));
    return true;
  } catch (err) {
    ctx.notify.error(err, t("common.deleteFailed", { name: peerLabel(peer) }));
    return false;
  }
}

// downloadConfig saves the peer's wg-quick file. It is fetched first so
// that a failure shows as a message rather than as a downloaded error.
export async function downloadConfig(ctx, peer) {
  try {
    const { blob, filename } = await ctx.api.download(`/api/peers/${peer.id}/config`);
    saveFile(blob, filename);
    ctx.notify.success(t("peers.savedFile", { file: filename }));
  } catch (err) {
    ctx.notify.error(err, t("peers.noConfig", { name: peerLabel(peer) }));
  }
}

// showQR shows the peer's config as a QR code, for the WireGuard app.
export function showQR(ctx, peer) {
  const src = `/api/peers/${peer.id}/qr`;
  const status = h("p", { class: "qr-status", role: "status" }, t("qr.making"));
  const img = h("img", { class: "qr", src, alt: t("qr.alt", { name: peerLabel(peer) }), width: 320, height: 320, hidden: true });
  img.addEventListener("load", () => {
    img.hidden = false;
    status.textContent = t("qr.scan");
  });
  img.addEventListener("error", async () => {
    status.classList.add("form-error");
    status.textContent = (await ctx.api.problem(src)) || t("qr.failed");
  });
  const m = openModal({
    title: t("qr.title", { name: peerLabel(peer) }),
    content: h("div", { class: "qr-box" }, img, status,
      h("p", { class: "help" }, t("qr.secret"))),
  });
  // Free the image (and its key) as soon as the dialog closes.
  m.closed.then(() => img.removeAttribute("src"));
  return m;
}
