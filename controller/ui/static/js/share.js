// The share link page (/share/TOKEN), for a peer's user, who has no
// login: it opens the link (POST /api/share/open, which uses a one-time
// link up), then shows the config's QR code and a download button. The
// page itself (share.html) holds nothing secret, so fetching it (a link
// preview) uses nothing up; the config exists only in this page's memory.

import { h, clear } from "./dom.js";

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
    return { error: "Cannot reach the server. Check your connection and reload the page." };
  }
  let env = null;
  try {
    env = await res.json();
  } catch {
    // not the API's envelope (a proxy's page)
  }
  if (res.ok && env && env.data) return { data: env.data };
  const message = env && typeof env.message === "string" ? env.message : `The server answered ${res.status}.`;
  return { error: message, status: res.status };
}

function gone(section, status, message) {
  const title = status === 410 ? "This link no longer works"
    : status === 404 ? "This link does not exist"
      : "The configuration could not be opened";
  document.title = `${title} · wgfleet`;
  clear(section);
  section.append(h("h1", { id: "share-title" }, title),
    h("div", { class: "share-card share-gone", role: "alert" },
      h("p", { id: "share-error" }, message),
      h("p", { class: "share-note" }, "Ask whoever sent it for a new link.")));
}

// qrCanvas draws the PNG into a canvas: the CSP allows images from this
// origin only, so neither a data: nor a blob: URL may be an <img> source.
async function qrCanvas(b64, label) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const canvas = h("canvas", { class: "share-qr", id: "share-qr", role: "img", "aria-label": label });
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
  return canvas;
}

function download(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function show(section, d) {
  const title = d.peer_name ? `WireGuard configuration: ${d.peer_name}` : "Your WireGuard configuration";
  document.title = `${title} · wgfleet`;
  const label = `QR code of the WireGuard configuration${d.peer_name ? " of " + d.peer_name : ""}`;
  let qr;
  try {
    qr = await qrCanvas(d.qr_png, label);
  } catch {
    qr = h("p", { class: "form-error" }, "The QR code could not be drawn; download the file instead.");
  }
  const status = h("p", { class: "share-note", id: "share-saved", role: "status" });
  const btn = h("button", { type: "button", class: "btn btn-primary", id: "share-download" }, `Download ${d.file_name}`);
  btn.addEventListener("click", () => {
    download(d.config, d.file_name);
    status.textContent = `Saved ${d.file_name}.`;
  });
  const expires = new Date(d.expires_at);
  const note = d.one_time
    ? "This link worked once and is now used up: keep the file, or scan the code now. Reloading the page will not show it again."
    : `This link works until ${expires.toLocaleString()}.`;
  clear(section);
  section.append(h("h1", { id: "share-title" }, title),
    h("div", { class: "share-card" },
      qr,
      h("p", { class: "share-note" }, "Scan it with the WireGuard app, or download the file and import it."),
      h("div", { class: "actions" }, btn),
      status,
      h("p", { class: "share-note", id: "share-note" }, note),
      h("details", { class: "share-config" }, h("summary", {}, "Show the configuration text"),
        h("pre", { class: "mono" }, d.config))));
  btn.focus();
}

async function start() {
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
