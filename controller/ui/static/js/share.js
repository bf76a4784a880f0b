// The share link page (/share/TOKEN), for a peer's user, who has no
// login: it opens the link (POST /api/share/open, which uses a one-time
// link up), then shows the config's QR code and a download button. The
// page itself (share.html) holds nothing secret, so fetching it (a link
// preview) uses nothing up; the config exists only in this page's memory.

import { h, clear, saveFile } from "./dom.js";
import { languageSwitch, t, translateDocument } from "./i18n.js";
import { qrCanvas } from "./qr.js";

const PREFIX = "/share/";

async function open(token) {
  let res;
  try {
    res = await fetch("/api/share/open", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ token }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    return { error: t("share.unreachable") };
  }
  let env = null;
  try {
    env = await res.json();
  } catch {
    // not the API's envelope (a proxy's page)
  }
  if (res.ok && env && env.data) return { data: env.data };
  const message = env && typeof env.message === "string" ? env.message : t("share.answered", { status: res.status });
  return { error: message, status: res.status };
}

function gone(section, status, message) {
  const title = status === 410 ? t("share.gone")
    : status === 404 ? t("share.unknown")
      : t("share.failed");
  document.title = `${title} · wgfleet`;
  clear(section);
  section.append(h("h1", { id: "share-title" }, title),
    h("div", { class: "share-card share-gone", role: "alert" },
      h("p", { id: "share-error" }, message),
      h("p", { class: "share-note" }, t("share.askNew"))));
}

async function show(section, d) {
  const title = d.peer_name ? t("share.titleNamed", { name: d.peer_name }) : t("share.titleDefault");
  document.title = `${title} · wgfleet`;
  const label = d.peer_name ? t("share.qrLabelNamed", { name: d.peer_name }) : t("share.qrLabel");
  let qr;
  try {
    qr = await qrCanvas(d.qr_png, label, { id: "share-qr", cls: "share-qr" });
  } catch {
    qr = h("p", { class: "form-error" }, t("share.qrFailed"));
  }
  const status = h("p", { class: "share-note", id: "share-saved", role: "status" });
  const btn = h("button", { type: "button", class: "btn btn-primary", id: "share-download" }, t("share.download", { file: d.file_name }));
  btn.addEventListener("click", () => {
    saveFile(new Blob([d.config], { type: "text/plain" }), d.file_name);
    status.textContent = t("share.saved", { file: d.file_name });
  });
  const expires = new Date(d.expires_at);
  const note = d.one_time
    ? t("share.onceNote")
    : t("share.untilNote", { when: expires.toLocaleString() });
  clear(section);
  section.append(h("h1", { id: "share-title" }, title),
    h("div", { class: "share-card" },
      qr,
      h("p", { class: "share-note" }, t("share.scan")),
      h("div", { class: "actions" }, btn),
      status,
      h("p", { class: "share-note", id: "share-note" }, note),
      h("details", { class: "share-config" }, h("summary", {}, t("share.showText")),
        h("pre", { class: "mono" }, d.config))));
  btn.focus();
}

async function start() {
  translateDocument();
  languageSwitch(document.getElementById("lang-switch"));
  const section = document.getElementById("share");
  const token = decodeURIComponent(location.pathname.slice(PREFIX.length));
  const res = await open(token);
  if (res.error) {
    gone(section, res.status, res.error);
    return;
  }
  await show(section, res.data);
}

start();
