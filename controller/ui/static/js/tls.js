// TLS to a node's agent: what the node page says about it, and the
// deliberate re-pin of the agent's certificate (POST /api/nodes/{id}/repin).

import { h } from "./dom.js";
import { formModal } from "./forms.js";

// isHTTPS reports whether the node's agent URL is https.
export function isHTTPS(node) {
  return /^https:\/\//i.test(node.agent_url || "");
}

// tlsText says how the controller reaches the node's agent: pinned (with
// the fingerprint's first 16 digits), https checked against the system's
// authorities, or plain http.
export function tlsText(node) {
  if (node.tls_fingerprint) return `pinned sha256 ${node.tls_fingerprint.slice(0, 16)}…`;
  return isHTTPS(node) ? "https, system certificate authorities" : "plain http (not encrypted)";
}

// repinNode asks for the fingerprint the agent logged (optional), then
// pins the certificate the agent presents now. It resolves to the node,
// or undefined when cancelled.
export function repinNode(ctx, node) {
  const intro = h("div", {},
    h("p", {}, `Pin the TLS certificate that ${node.name}'s agent presents now. Do this only after the agent's certificate was changed on purpose: the controller will trust that certificate from now on.`),
    h("p", {}, "Paste the fingerprint the agent logged at its start (tls_fingerprint) to make sure it is the agent's; a different certificate is then refused."),
    node.tls_fingerprint ? h("p", { class: "mono" }, `Pinned now: ${node.tls_fingerprint}`) : null);
  return formModal({
    title: `Re-pin ${node.name}`,
    intro,
    fields: [{ name: "expect_tls_fingerprint", label: "Expected fingerprint", placeholder: "sha256:…", help: "Optional; hex, colons allowed." }],
    submitLabel: "Re-pin",
    onSubmit: async (v) => {
      const env = await ctx.api.post(`/api/nodes/${node.id}/repin`, v.expect_tls_fingerprint ? v : undefined);
      ctx.notify.success(`${node.name}: ${env.message || "re-pinned"}`);
      return env.data.node;
    },
  });
}
