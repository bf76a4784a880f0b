// The node form (create and edit) and the node actions shared by the
// nodes grid and the node detail page.

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { confirmDialog } from "./modal.js";
import { t } from "./i18n.js";
import { showMessage } from "./detail.js";
import { offerEnrollment } from "./enroll.js";
import { labelsField, parseLabels } from "./labels.js";

function nodeFields(node) {
  const editing = !!node;
  const n = node || {};
  return [
    { name: "name", label: t("nodeForm.name"), required: true, value: n.name, placeholder: "node1" },
    { name: "agent_url", label: t("nodeForm.agentURL"), type: "url", required: true, value: n.agent_url, placeholder: "https://node1.example.net:8443" },
    {
      name: "tls_fingerprint", label: t("nodeForm.tls"), value: n.tls_fingerprint, placeholder: "sha256:…",
      help: t("nodeForm.tlsHelp"),
    },
    {
      name: "secret", label: t("nodeForm.secret"), type: "password", required: !editing, autocomplete: "new-password",
      help: editing ? t("nodeForm.secretKeep") : t("nodeForm.secretHelp"),
    },
    { name: "wg_interface", label: t("nodeForm.iface"), value: n.wg_interface ?? "wg0", placeholder: "wg0" },
    {
      name: "endpoint", label: t("nodeForm.endpoint"), required: editing, value: n.endpoint, placeholder: "vpn.example.net:51820",
      help: editing ? t("nodeForm.endpointHelp") : t("nodeForm.endpointDeriveHelp"),
    },
    { name: "ip_pool_cidr", label: t("nodeForm.pool4"), required: true, value: n.ip_pool_cidr, placeholder: "10.8.0.0/24", help: t("nodeForm.pool4Help") },
    { name: "ip_pool6_cidr", label: t("nodeForm.pool6"), value: n.ip_pool6_cidr, placeholder: "fd00:8::/64", help: t("common.optional") },
    { name: "dns", label: t("nodeForm.dns"), value: n.dns, placeholder: "1.1.1.1, 2606:4700:4700::1111" },
    labelsField(node),
    { name: "max_peers", label: t("nodeForm.maxPeers"), type: "number", value: n.max_peers ?? 0, help: t("nodeForm.maxPeersHelp") },
    { name: "weight", label: t("nodeForm.weight"), type: "number", value: n.weight ?? 100, help: t("nodeForm.weightHelp") },
    {
      name: "drift_policy", label: t("nodeForm.driftPolicy"), type: "select", value: n.drift_policy || "repair",
      options: [{ value: "repair", label: t("nodeForm.driftRepair") }, { value: "report", label: t("nodeForm.driftReport") }],
    },
    { name: "enabled", label: t("nodeForm.enabled"), type: "checkbox", value: editing ? n.enabled : true },
    { name: "allow_overlap", label: t("nodeForm.allowOverlap"), type: "checkbox", value: false, help: t("nodeForm.allowOverlapHelp") },
  ];
}

// openNodeForm creates a node (node null) or edits one. It resolves to the
// saved node, or undefined when cancelled.
export function openNodeForm(ctx, node = null) {
  const { api, notify } = ctx;
  const testButton = h("button", { type: "button", class: "btn", dataset: { action: "test-form" } }, t("nodeForm.testConnection"));
  const testResult = h("div", { class: "test-result", role: "status", hidden: true });
  return formModal({
    title: node ? t("nodeForm.editTitle", { name: node.name }) : t("nodeForm.addTitle"),
    wide: true,
    fields: nodeFields(node),
    submitLabel: node ? t("forms.save") : t("nodes.add"),
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
          showTest(testResult, { ok: env.status, message: env.message, detail: env.detail, result: env.data });
        } catch (err) {
          if (err.field && f.has(err.field)) {
            f.showError(err);
            testResult.hidden = true;
          } else {
            showTest(testResult, { ok: false, message: err.message, detail: err.detail });
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
      if (env.data.endpoint_derived) {
        notify.success(t("nodeForm.endpointDerived", { name: env.data.name, endpoint: env.data.endpoint }));
      } else {
        notify.success(t("common.savedNamed", { message: env.message || t("common.saved"), name: env.data.name }));
      }
      return env.data;
    },
  });
}

// showTest writes a connection test's outcome into el: one sentence, with
// the detail of a failure (the API's "detail") behind a disclosure.
export function showTest(el, { pending = false, ok = false, message = "", detail = "", result = null }) {
  el.hidden = false;
  el.classList.toggle("ok", !pending && ok);
  el.classList.toggle("failed", !pending && !ok);
  if (pending) {
    showMessage(el, t("test.pending"));
    return;
  }
  // The API's message says what was tried and what answered; without one,
  // say it from the result.
  const head = ok ? t("test.ok") : t("test.failed");
  const cert = result && result.tls_fingerprint ? t("test.cert", { fingerprint: result.tls_fingerprint }) : "";
  if (message && message !== head) {
    showMessage(el, `${t("common.labelled", { label: head, message })}${cert}`, detail || (result && result.detail) || "");
    return;
  }
  const details = [];
  if (result && ok) {
    if (result.latency_ms !== undefined) details.push(t("test.latency", { ms: result.latency_ms }));
    if (result.version) details.push(t("test.agentVersion", { version: result.version }));
    if (result.interfaces && result.interfaces.length) details.push(t("test.interfaces", { list: result.interfaces.join(", ") }));
  }
  showMessage(el, (details.length ? `${head} (${details.join(", ")})` : head) + cert);
}

// testNode runs a node's connection test; it resolves to {ok, message,
// result} and never rejects.
export async function testNode(api, node) {
  try {
    const env = await api.post(`/api/nodes/${node.id}/test`);
    return { ok: env.status, message: env.message || "", detail: env.detail, result: env.data };
  } catch (err) {
    return { ok: false, message: err.message, detail: err.detail, unauthorized: err.unauthorized };
  }
}

// toggleNode enables or disables a node; it resolves to the node, or null
// after showing why it failed.
export async function toggleNode(ctx, node) {
  try {
    const env = await ctx.api.post(`/api/nodes/${node.id}/toggle`, { enabled: !node.enabled });
    const done = env.data.enabled ? t("node.enabled") : t("node.disabled");
    ctx.notify.success(t("common.labelled", { label: node.name, message: env.message || done }));
    return env.data;
  } catch (err) {
    ctx.notify.error(err, node.enabled ? t("node.disableFailed", { name: node.name }) : t("node.enableFailed", { name: node.name }));
    return null;
  }
}

// deleteNode asks, then deletes a node (with its peers when it has any).
// It resolves to true when the node is gone.
export async function deleteNode(ctx, node) {
  const peers = node.peer_count || 0;
  const message = peers === 0
    ? h("p", {}, t("node.deleteNoPeers", { name: node.name }))
    : h("div", {},
      h("p", {}, t("node.deleteHasPeers", { name: node.name, peers: t("peers.count", { count: peers }) })),
      h("p", {}, t("node.deleteWithPeers", { count: peers })));
  const answer = await confirmDialog({
    title: t("node.deleteTitle"),
    message,
    confirmLabel: peers ? t("node.deleteAndPeers", { count: peers }) : t("node.deleteTitle"),
    danger: true,
    option: peers ? { label: t("node.deleteConsent", { count: peers }), required: true } : null,
  });
  if (!answer) return false;
  try {
    await ctx.api.delete(`/api/nodes/${node.id}${peers ? "?force=true" : ""}`);
    ctx.notify.success(t("node.deleted", { name: node.name }));
    return true;
  } catch (err) {
    ctx.notify.error(err, t("common.deleteFailed", { name: node.name }));
    return false;
  }
}
