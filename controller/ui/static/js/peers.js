// Peer forms and actions: add, edit, restrict/allow, delete, the config
// download and the QR code. The page never holds a peer's private key
// except in the config file or QR image the operator asks for.

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog, openModal } from "./modal.js";
import { lifecycleBody, lifecycleFields } from "./lifecycle.js";
import { placementOptions, placementBody } from "./labels.js";

// peerLabel names a peer for messages: its name, else its address.
export function peerLabel(peer) {
  return peer.name || peer.address4 || peer.address6 || `#${peer.id}`;
}

// openPeerForm adds a peer to node (peer null) or edits peer. It resolves
// to the saved peer, or undefined when cancelled.
export function openPeerForm(ctx, node, peer = null) {
  const { api, notify } = ctx;
  const editing = !!peer;
  const fields = [{ name: "name", label: "Name", value: peer?.name, placeholder: "alice-laptop" }];
  if (!editing) {
    fields.push(
      {
        name: "node_id", label: "Node", type: "select", value: "this",
        options: [{ value: "this", label: `This node (${node.name})` }, ...placementOptions(node)],
        help: "Automatic placement picks a healthy node with room, by weight (in the region, if you choose one).",
      },
      { name: "address", label: "Address", placeholder: "next free address", help: `Optional: an IPv4 address from ${node.ip_pool_cidr}.` },
      {
        name: "public_key", label: "Public key",
        help: "Optional. Leave empty and the controller makes the key pair; the config download then includes the private key.",
      },
      { name: "preshared_key", label: "Add a preshared key", type: "checkbox", value: true },
    );
  }
  fields.push(
    {
      name: "client_allowed_ips", label: "Routes through the tunnel", list: true,
      value: peer?.client_allowed_ips ?? ["0.0.0.0/0", "::/0"],
      help: "The client's AllowedIPs: CIDR prefixes, comma-separated. 0.0.0.0/0, ::/0 sends everything.",
    },
    { name: "dns", label: "DNS", value: peer?.dns, placeholder: node.dns || "1.1.1.1" },
    { name: "persistent_keepalive", label: "Client keepalive (seconds)", type: "number", value: peer?.persistent_keepalive ?? "", placeholder: "0 (off)",
      help: "PersistentKeepalive in the client's config, for a client behind NAT." },
    { name: "node_keepalive", label: "Node keepalive (seconds)", type: "number", value: peer?.node_keepalive ?? "", placeholder: "0 (off)",
      help: "Keepalive the node sends to the peer. Leave off unless the node must keep the tunnel open." },
    ...lifecycleFields(peer),
  );
  return formModal({
    title: editing ? `Edit peer ${peerLabel(peer)}` : `Add a peer`,
    wide: !editing,
    fields,
    submitLabel: editing ? "Save" : "Add peer",
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
        notify.success(`${env.message || "Saved"}: ${peerLabel(env.data)}`);
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
      notify.success(`${peerLabel(env.data)}: ${env.message || "peer created"}`);
      return env.data;
    },
  });
}

// setPeerEnabled restricts (off the node, kept) or allows a peer. It
// resolves to the peer, or null after showing why it failed.
export async function setPeerEnabled(ctx, peer, enabled) {
  try {
    const env = await ctx.api.post(`/api/peers/${peer.id}/${enabled ? "allow" : "restrict"}`);
    ctx.notify.success(`${peerLabel(peer)}: ${env.message || (enabled ? "allowed" : "restricted")}`);
    return env.data;
  } catch (err) {
    ctx.notify.error(err, `Could not ${enabled ? "allow" : "restrict"} ${peerLabel(peer)}`);
    return null;
  }
}

// deletePeer asks, then deletes a peer. It resolves to true when it is gone.
export async function deletePeer(ctx, peer) {
  const answer = await confirmDialog({
    title: "Delete peer",
    message: h("p", {}, `Delete peer ${peerLabel(peer)}${peer.address4 ? ` (${peer.address4})` : ""}? Its client stops working and its address is freed.`),
    confirmLabel: "Delete peer",
    danger: true,
  });
  if (!answer) return false;
  try {
    await ctx.api.delete(`/api/peers/${peer.id}`);
    ctx.notify.success(`Peer ${peerLabel(peer)} deleted.`);
    return true;
  } catch (err) {
    ctx.notify.error(err, `Could not delete ${peerLabel(peer)}`);
    return false;
  }
}

// downloadConfig saves the peer's wg-quick file. It is fetched first so
// that a failure shows as a message rather than as a downloaded error.
export async function downloadConfig(ctx, peer) {
  try {
    const { blob, filename } = await ctx.api.download(`/api/peers/${peer.id}/config`);
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    // The file holds a private key: drop the page's copy once saved.
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    ctx.notify.success(`Saved ${filename}.`);
  } catch (err) {
    ctx.notify.error(err, `No config for ${peerLabel(peer)}`);
  }
}

// showQR shows the peer's config as a QR code, for the WireGuard app.
export function showQR(ctx, peer) {
  const src = `/api/peers/${peer.id}/qr`;
  const status = h("p", { class: "qr-status", role: "status" }, "Making the QR code…");
  const img = h("img", { class: "qr", src, alt: `QR code of the WireGuard configuration of ${peerLabel(peer)}`, width: 320, height: 320, hidden: true });
  img.addEventListener("load", () => {
    img.hidden = false;
    status.textContent = "Scan it with the WireGuard app.";
  });
  img.addEventListener("error", async () => {
    status.classList.add("form-error");
    status.textContent = (await ctx.api.problem(src)) || "The QR code could not be loaded.";
  });
  const m = openModal({
    title: `QR code: ${peerLabel(peer)}`,
    content: h("div", { class: "qr-box" }, img, status,
      h("p", { class: "help" }, "It contains the peer's private key: show it only to its owner.")),
  });
  // Free the image (and its key) as soon as the dialog closes.
  m.closed.then(() => img.removeAttribute("src"));
  return m;
}
