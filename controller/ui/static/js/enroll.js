// Enrollment from the UI: the "Add a node" dialog offers a join token
// instead of the agent's URL and secret; the token's dialog shows the one
// command to run on the new node (POST /api/enrollment-tokens).

import { h } from "./dom.js";
import { formModal } from "./forms.js";
import { parseLabels } from "./labels.js";
import { openModal } from "./modal.js";
import { absoluteTime } from "./format.js";
import { t } from "./i18n.js";

// offerEnrollment puts, above the fields of the node form f, the choice
// to let the node join by itself; choosing it closes that form and opens
// the join token's.
export function offerEnrollment(ctx, f) {
  const button = h("button", { type: "button", class: "btn", dataset: { action: "enroll" } }, t("enroll.offerButton"));
  button.addEventListener("click", () => {
    f.cancel.click();
    openEnrollmentForm(ctx);
  });
  f.form.prepend(h("p", { class: "enroll-offer" },
    t("enroll.offer") + " ", button));
}

// openEnrollmentForm makes a join token and shows its join command. It
// resolves to the new token's data, or undefined when cancelled.
export async function openEnrollmentForm(ctx) {
  const made = await formModal({
    title: t("enroll.title"),
    intro: t("enroll.intro"),
    fields: [
      { name: "name", label: t("enroll.name"), placeholder: "edge-7", help: t("enroll.nameHelp") },
      { name: "labels", label: t("labels.title"), placeholder: "region=eu-west, provider=hetzner", help: t("enroll.labelsHelp") },
      { name: "expires_in", label: t("enroll.expiresIn"), value: "1h", help: t("enroll.expiresInHelp") },
      { name: "ip_pool_cidr", label: t("nodeForm.pool4"), placeholder: "10.128.7.0/24", help: t("enroll.poolHelp") },
    ],
    submitLabel: t("enroll.submit"),
    onSubmit: async (v) => {
      const body = { labels: parseLabels(v.labels) };
      for (const k of ["name", "expires_in", "ip_pool_cidr"]) if (v[k]) body[k] = v[k];
      const env = await ctx.api.post("/api/enrollment-tokens", body);
      return env.data;
    },
  });
  if (made) showJoinCommand(made);
  return made;
}

// showJoinCommand shows a new token's join command, the only time the
// token is shown.
function showJoinCommand(tok) {
  const command = h("textarea", { id: "join-command", class: "join-command", readonly: true, rows: 3, spellcheck: "false" });
  command.value = tok.join_command;
  const copy = h("button", { type: "button", class: "btn btn-primary", dataset: { action: "copy-join" } }, t("common.copy"));
  const status = h("p", { class: "help", role: "status" });
  copy.addEventListener("click", async () => {
    command.select();
    try {
      await navigator.clipboard.writeText(command.value);
      status.textContent = t("common.copied");
    } catch {
      status.textContent = t("common.copyByHand");
    }
  });
  const m = openModal({
    title: t("enroll.commandTitle"),
    wide: true,
    content: h("div", {},
      h("p", { class: "intro" }, t("enroll.commandBefore") + " ",
        h("time", { datetime: tok.expires_at }, absoluteTime(tok.expires_at)),
        t("enroll.commandAfter")),
      command,
      h("div", { class: "form-actions" }, status, copy)),
  });
  command.focus();
  command.select();
  return m.closed;
}
