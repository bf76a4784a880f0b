// A peer's share links (the "Share…" button of a peer's row): make a link
// that hands the peer's config to its user without a login, see the
// peer's links and revoke them. A new link's URL holds its token and is
// shown only once: the controller keeps only a hash.

import { h, clear } from "./dom.js";
import { openModal } from "./modal.js";
import { absoluteTime, relativeTime } from "./format.js";
import { peerLabel } from "./peers.js";

let serial = 0; // unique ids per dialog; only ever increases

const LIFETIMES = [
  { value: "1h", label: "1 hour" },
  { value: "24h", label: "24 hours" },
  { value: "168h", label: "7 days" },
  { value: "720h", label: "30 days" },
];

// shareStateText says where a link stands, for people.
function shareStateText(s, now) {
  switch (s.state) {
    case "active": return `active, expires ${untilText(s.expires_at, now)}`;
    case "used": return `used ${relativeTime(s.last_used_at, now)}`;
    case "expired": return `expired ${relativeTime(s.expires_at, now)}`;
    case "revoked": return `revoked ${relativeTime(s.revoked_at, now)}`;
  }
  return s.state;
}

function untilText(value, now) {
  const ms = new Date(value).getTime() - now;
  if (ms < 60 * 1000) return "in under a minute";
  if (ms < 60 * 60 * 1000) return `in ${Math.round(ms / 60000)} min`;
  if (ms < 48 * 60 * 60 * 1000) return `in ${Math.round(ms / 3600000)} h`;
  return `in ${Math.round(ms / 86400000)} days`;
}

// openShares shows the dialog of peer's share links.
export function openShares(ctx, peer) {
  const id = ++serial;
  const label = peerLabel(peer);
  const lifetime = h("select", { id: `share-ttl-${id}`, name: "expires_in" },
    LIFETIMES.map((o) => h("option", { value: o.value }, o.label)));
  lifetime.value = "24h";
  const oneTime = h("input", { type: "checkbox", id: `share-once-${id}`, name: "one_time", checked: true });
  const create = h("button", { type: "submit", class: "btn btn-primary", dataset: { action: "create-share" } }, "Create link");
  const formError = h("p", { class: "form-error", role: "alert", hidden: true });
  const urlInput = h("input", { type: "text", readonly: true, class: "mono", id: `share-url-${id}`, "aria-label": "The new share link" });
  const copy = h("button", { type: "button", class: "btn", dataset: { action: "copy-share" } }, "Copy");
  const created = h("div", { class: "share-created", hidden: true, role: "status" },
    h("p", { class: "notice" }, "Send this link to the peer's user. It is shown only now: the controller keeps only a hash of it."),
    h("div", { class: "share-url" }, urlInput, copy));
  const list = h("div", { class: "share-list", "aria-live": "polite" }, h("p", { class: "loading" }, "Loading the links…"));

  const form = h("form", { class: "form share-form", novalidate: true },
    formError,
    h("div", { class: "share-fields" },
      h("div", { class: "field" }, h("label", { for: lifetime.id }, "Valid for"), lifetime),
      h("div", { class: "field field-check" }, h("div", { class: "check" }, oneTime, h("label", { for: oneTime.id }, "Works only once"))),
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
      list.append(h("p", { class: "empty" }, "No share links yet."));
      return;
    }
    const now = Date.now();
    list.append(h("ul", { class: "share-links" }, links.map((s) => {
      const revoke = s.state === "active"
        ? h("button", { type: "button", class: "btn btn-small btn-danger-text", dataset: { action: "revoke-share", shareId: s.id }, "aria-label": `Revoke share link ${s.id}` }, "Revoke")
        : null;
      if (revoke) revoke.addEventListener("click", () => revokeLink(s, revoke));
      return h("li", { class: "share-link", dataset: { shareId: s.id, state: s.state } },
        h("span", { class: `badge status-${s.state === "active" ? "active" : "never"}` }, s.state),
        h("span", { class: "share-link-text", title: `expires ${absoluteTime(s.expires_at)}` },
          `#${s.id}${s.one_time ? " (once)" : ""}: ${shareStateText(s, now)}; used ${s.used_count} ${s.used_count === 1 ? "time" : "times"}; by ${s.created_by}`),
        revoke);
    })));
  }

  async function revokeLink(s, btn) {
    btn.disabled = true;
    try {
      await ctx.api.delete(`/api/shares/${s.id}`);
      ctx.notify.success(`Share link #${s.id} of ${label} revoked.`);
    } catch (err) {
      ctx.notify.error(err, "Could not revoke the link");
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
      ctx.notify.success("Link copied.");
    } catch {
      urlInput.focus();
      urlInput.select();
      ctx.notify.success("Select the link and copy it.");
    }
  });

  const m = openModal({
    title: `Share links: ${label}`,
    wide: true,
    content: h("div", { class: "shares" },
      h("p", { class: "intro" }, "A share link shows this peer's QR code and config file to whoever opens it, without a login, until it expires, is revoked or (once-only) has been used."),
      form, created,
      h("h3", { class: "share-list-title" }, "Links of this peer"),
      list),
  });
  // The URL holds a credential: drop it from the page with the dialog.
  m.closed.then(() => { urlInput.value = ""; });
  load();
  return m;
}
