// A peer's share links (the "Share…" button of a peer's row): make a link
// that hands the peer's config to its user without a login, see the
// peer's links and revoke them. A new link's URL holds its token and is
// shown only once: the controller keeps only a hash.

import { h, clear } from "./dom.js";
import { openModal } from "./modal.js";
import { absoluteTime, relativeTime, untilTime } from "./format.js";
import { peerLabel } from "./peers.js";
import { t } from "./i18n.js";

let serial = 0; // unique ids per dialog; only ever increases

const LIFETIMES = [
  { value: "1h", label: t("shares.hours", { count: 1 }) },
  { value: "24h", label: t("shares.hours", { count: 24 }) },
  { value: "168h", label: t("shares.days", { count: 7 }) },
  { value: "720h", label: t("shares.days", { count: 30 }) },
];

// shareStateText says where a link stands, for people.
function shareStateText(s, now) {
  switch (s.state) {
    case "active": return t("shares.stateActive", { when: untilTime(s.expires_at, now) });
    case "used": return t("shares.stateUsed", { when: relativeTime(s.last_used_at, now) });
    case "expired": return t("shares.stateExpired", { when: relativeTime(s.expires_at, now) });
    case "revoked": return t("shares.stateRevoked", { when: relativeTime(s.revoked_at, now) });
  }
  return s.state;
}

// openShares shows the dialog of peer's share links.
export function openShares(ctx, peer) {
  const id = ++serial;
  const label = peerLabel(peer);
  const lifetime = h("select", { id: `share-ttl-${id}`, name: "expires_in" },
    LIFETIMES.map((o) => h("option", { value: o.value }, o.label)));
  lifetime.value = "24h";
  const oneTime = h("input", { type: "checkbox", id: `share-once-${id}`, name: "one_time", checked: true });
  const create = h("button", { type: "submit", class: "btn btn-primary", dataset: { action: "create-share" } }, t("shares.create"));
  const formError = h("p", { class: "form-error", role: "alert", hidden: true });
  const urlInput = h("input", { type: "text", readonly: true, class: "mono", id: `share-url-${id}`, "aria-label": t("shares.newLink") });
  const copy = h("button", { type: "button", class: "btn", dataset: { action: "copy-share" } }, t("common.copy"));
  const created = h("div", { class: "share-created", hidden: true, role: "status" },
    h("p", { class: "notice" }, t("shares.sendIt")),
    h("div", { class: "share-url" }, urlInput, copy));
  const list = h("div", { class: "share-list", "aria-live": "polite" }, h("p", { class: "loading" }, t("shares.loading")));

  const form = h("form", { class: "form share-form", novalidate: true },
    formError,
    h("div", { class: "share-fields" },
      h("div", { class: "field" }, h("label", { for: lifetime.id }, t("shares.validFor")), lifetime),
      h("div", { class: "field field-check" }, h("div", { class: "check" }, oneTime, h("label", { for: oneTime.id }, t("shares.once")))),
      create));

  async function load() {
    try {
      const env = await ctx.api.get(`/api/peers/${peer.id}/shares`);
      render(env.data || []);
    } catch (err) {
      clear(list);
      list.append(h("p", { class: "form-error" }, err.message));
    }
  }

  function render(links) {
    clear(list);
    if (!links.length) {
      list.append(h("p", { class: "empty" }, t("shares.none")));
      return;
    }
    const now = Date.now();
    list.append(h("ul", { class: "share-links" }, links.map((s) => {
      const revoke = s.state === "active"
        ? h("button", { type: "button", class: "btn btn-small btn-danger-text", dataset: { action: "revoke-share", shareId: s.id }, "aria-label": t("shares.revokeNamed", { id: s.id }) }, t("shares.revoke"))
        : null;
      if (revoke) revoke.addEventListener("click", () => revokeLink(s, revoke));
      return h("li", { class: "share-link", dataset: { shareId: s.id, state: s.state } },
        h("span", { class: `badge status-${s.state === "active" ? "active" : "never"}` }, t(`shares.stateName.${s.state}`)),
        h("span", { class: "share-link-text", title: t("shares.expiresAt", { when: absoluteTime(s.expires_at) }) },
          t("shares.linkText", {
            id: s.id, once: s.one_time ? t("shares.onceTag") : "", state: shareStateText(s, now),
            used: t("shares.usedTimes", { count: s.used_count }), by: s.created_by,
          })),
        revoke);
    })));
  }

  async function revokeLink(s, btn) {
    btn.disabled = true;
    try {
      await ctx.api.delete(`/api/shares/${s.id}`);
      ctx.notify.success(t("shares.revoked", { id: s.id, name: label }));
    } catch (err) {
      ctx.notify.error(err, t("shares.revokeFailed"));
    }
    await load();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    formError.hidden = true;
    create.disabled = true;
    try {
      const env = await ctx.api.post(`/api/peers/${peer.id}/share`, { expires_in: lifetime.value, one_time: oneTime.checked });
      urlInput.value = env.data.url;
      created.hidden = false;
      urlInput.focus();
      urlInput.select();
      await load();
    } catch (err) {
      formError.textContent = err.message;
      formError.hidden = false;
    } finally {
      create.disabled = false;
    }
  });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(urlInput.value);
      ctx.notify.success(t("shares.copied"));
    } catch {
      urlInput.focus();
      urlInput.select();
      ctx.notify.success(t("shares.copyByHand"));
    }
  });

  const m = openModal({
    title: t("shares.title", { name: label }),
    wide: true,
    content: h("div", { class: "shares" },
      h("p", { class: "intro" }, t("shares.intro")),
      form, created,
      h("h3", { class: "share-list-title" }, t("shares.listTitle")),
      list),
  });
  // The URL holds a credential: drop it from the page with the dialog.
  m.closed.then(() => { urlInput.value = ""; });
  load();
  return m;
}
