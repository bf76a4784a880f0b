// TLS to a node's agent: what the node page says about it, and the
// deliberate re-pin of the agent's certificate (POST /api/nodes/{id}/repin).

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { t } from "./i18n.js";

// isHTTPS reports whether the node's agent URL is https.
export function isHTTPS(node) {
  return /^https:\/\//i.test(node.agent_url || "");
}

// tlsText says how the controller reaches the node's agent: pinned (with
// the fingerprint's first 16 digits), https checked against the system's
// authorities, or plain http.
export function tlsText(node) {
  if (node.tls_fingerprint) return t("tls.pinned", { fingerprint: node.tls_fingerprint.slice(0, 16) });
  return isHTTPS(node) ? t("tls.systemCAs") : t("tls.plain");
}

// repinNode asks for the fingerprint the agent logged (optional), then
// pins the certificate the agent presents now. It resolves to the node,
// or undefined when cancelled.
export function repinNode(ctx, node) {
  const intro = h("div", {},
    h("p", {}, t("tls.repinIntro", { name: node.name })),
    h("p", {}, t("tls.repinPaste")),
    node.tls_fingerprint ? h("p", { class: "mono" }, t("tls.pinnedNow", { fingerprint: node.tls_fingerprint })) : null);
  return formModal({
    title: t("tls.repinTitle", { name: node.name }),
    intro,
    fields: [{ name: "expect_tls_fingerprint", label: t("tls.expected"), placeholder: "sha256:…", help: t("tls.expectedHelp") }],
    submitLabel: t("tls.repin"),
    onSubmit: async (v) => {
      const env = await ctx.api.post(`/api/nodes/${node.id}/repin`, v.expect_tls_fingerprint ? v : undefined);
      ctx.notify.success(t("common.labelled", { label: node.name, message: env.message || t("tls.repinned") }));
      return env.data.node;
    },
  });
}
