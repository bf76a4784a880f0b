// The node form (create and edit) and the node actions shared by the
// nodes grid and the node detail page.

import { h, setText } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog } from "./modal.js";
import { plural } from "./format.js";
import { offerEnrollment } from "./enroll.js";
import { labelsField, parseLabels } from "./labels.js";

function nodeFields(node) {
  const editing = !!node;
  const n = node || {};
  return [
    { name: "name", label: "Name", required: true, value: n.name, placeholder: "node1" },
    { name: "agent_url", label: "Agent URL", type: "url", required: true, value: n.agent_url, placeholder: "https://node1.example.net:8443" },
    {
      name: "tls_fingerprint", label: "TLS fingerprint", value: n.tls_fingerprint, placeholder: "sha256:…",
      help: "https only: pins the agent's certificate (the tls_fingerprint it logs at start). Empty: none.",
    },
    {
      name: "secret", label: "Agent secret", type: "password", required: !editing, autocomplete: "new-password",
      help: editing ? "Leave empty to keep the current secret." : "The agent's shared secret (WG_AGENT_SECRET), at least 16 characters.",
    },
    { name: "wg_interface", label: "WireGuard interface", value: n.wg_interface ?? "wg0", placeholder: "wg0" },
    { name: "endpoint", label: "Endpoint", value: n.endpoint, placeholder: "vpn.example.net:51820", help: "host:port that clients dial." },
    { name: "ip_pool_cidr", label: "IPv4 pool", required: true, value: n.ip_pool_cidr, placeholder: "10.8.0.0/24", help: "Peer addresses are taken from this network." },
    { name: "ip_pool6_cidr", label: "IPv6 pool", value: n.ip_pool6_cidr, placeholder: "fd00:8::/64", help: "Optional." },
    { name: "dns", label: "DNS for clients", value: n.dns, placeholder: "1.1.1.1, 2606:4700:4700::1111" },
    labelsField(node),
    { name: "max_peers", label: "Maximum peers", type: "number", value: n.max_peers ?? 0, help: "0 means no limit." },
    { name: "weight", label: "Placement weight", type: "number", value: n.weight ?? 100, help: "Automatic placement prefers nodes of higher weight." },
    {
      name: "drift_policy", label: "When the node drifts", type: "select", value: n.drift_policy || "repair",
      options: [{ value: "repair", label: "Repair: push the desired state again" }, { value: "report", label: "Report only" }],
    },
    { name: "enabled", label: "Enabled", type: "checkbox", value: editing ? n.enabled : true },
  ];
}

// openNodeForm creates a node (node null) or edits one. It resolves to the
// saved node, or undefined when cancelled.
export function openNodeForm(ctx, node = null) {
  const { api, notify } = ctx;
  const testButton = h("button", { type: "button", class: "btn", dataset: { action: "test-form" } }, "Test connection");
  const testResult = h("p", { class: "test-result", role: "status", hidden: true });
  return formModal({
    title: node ? `Edit node ${node.name}` : "Add a node",
    wide: true,
    fields: nodeFields(node),
    submitLabel: node ? "Save" : "Add node",
    extra: [testButton],
    setup: (f) => {
      if (!node) offerEnrollment(ctx, f);
      f.form.querySelector(".form-actions").before(testResult);
      testButton.addEventListener("click", async () => {
        f.clearErrors();
        const v = f.values();
        testButton.disabled = true;
        showTest(testResult, { pending: true });
        try {
          let env;
          if (node && !v.secret) {
            // No new secret typed: test the saved node as it is.
            env = await api.post(`/api/nodes/${node.id}/test`);
          } else {
            env = await api.post("/api/nodes/test", {
              agent_url: v.agent_url, secret: v.secret, wg_interface: v.wg_interface, tls_fingerprint: v.tls_fingerprint,
            });
          }
          showTest(testResult, { ok: env.status, message: env.message, result: env.data });
        } catch (err) {
          if (err.field && f.has(err.field)) {
            f.showError(err);
            testResult.hidden = true;
          } else {
            showTest(testResult, { ok: false, message: err.message });
          }
        } finally {
          testButton.disabled = false;
        }
      });
    },
    onSubmit: async (v) => {
      const body = { ...v };
      if (node && !body.secret) delete body.secret; // keep the stored one
      body.labels = parseLabels(body.labels); // the whole set: {} removes every label
      const env = node ? await api.put(`/api/nodes/${node.id}`, body) : await api.post("/api/nodes", body);
      notify.success(`${env.message || "Saved"}: ${env.data.name}`);
      return env.data;
    },
  });
}

// showTest writes a connection test's outcome into el.
export function showTest(el, { pending = false, ok = false, message = "", result = null }) {
  el.hidden = false;
  el.classList.toggle("ok", !pending && ok);
  el.classList.toggle("failed", !pending && !ok);
  if (pending) {
    setText(el, "Testing the connection…");
    return;
  }
  // The API's message says what was tried and what answered; without one,
  // say it from the result.
  const head = ok ? "Connection OK" : "Connection failed";
  const cert = result && result.tls_fingerprint ? ` (certificate sha256 ${result.tls_fingerprint})` : "";
  if (message && message !== head) {
    setText(el, `${head}: ${message}${cert}`);
    return;
  }
  const details = [];
  if (result && ok) {
    if (result.latency_ms !== undefined) details.push(`${result.latency_ms} ms`);
    if (result.version) details.push(`agent ${result.version}`);
    if (result.interfaces && result.interfaces.length) details.push(`interfaces ${result.interfaces.join(", ")}`);
  }
  setText(el, (details.length ? `${head} (${details.join(", ")})` : head) + cert);
}

// testNode runs a node's connection test; it resolves to {ok, message,
// result} and never rejects.
export async function testNode(api, node) {
  try {
    const env = await api.post(`/api/nodes/${node.id}/test`);
    return { ok: env.status, message: env.message || "", result: env.data };
  } catch (err) {
    return { ok: false, message: err.message, unauthorized: err.unauthorized };
  }
}

// toggleNode enables or disables a node; it resolves to the node, or null
// after showing why it failed.
export async function toggleNode(ctx, node) {
  try {
    const env = await ctx.api.post(`/api/nodes/${node.id}/toggle`, { enabled: !node.enabled });
    ctx.notify.success(`${node.name}: ${env.message || (env.data.enabled ? "enabled" : "disabled")}`);
    return env.data;
  } catch (err) {
    ctx.notify.error(err, `Could not ${node.enabled ? "disable" : "enable"} ${node.name}`);
    return null;
  }
}

// deleteNode asks, then deletes a node (with its peers when it has any).
// It resolves to true when the node is gone.
export async function deleteNode(ctx, node) {
  const peers = node.peer_count || 0;
  const message = peers === 0
    ? h("p", {}, `Delete node ${node.name}? It has no peers.`)
    : h("div", {},
      h("p", {}, `Delete node ${node.name}? It has ${plural(peers, "peer")}.`),
      h("p", {}, `The ${plural(peers, "peer")} will be deleted with it and their addresses freed; their clients stop working.`));
  const answer = await confirmDialog({
    title: "Delete node",
    message,
    confirmLabel: peers ? `Delete node and ${plural(peers, "peer")}` : "Delete node",
    danger: true,
    option: peers ? { label: `Yes, also delete its ${plural(peers, "peer")}`, required: true } : null,
  });
  if (!answer) return false;
  try {
    await ctx.api.delete(`/api/nodes/${node.id}${peers ? "?force=true" : ""}`);
    ctx.notify.success(`Node ${node.name} deleted.`);
    return true;
  } catch (err) {
    ctx.notify.error(err, `Could not delete ${node.name}`);
    return false;
  }
}
