// QR codes that come from the API as a PNG in base64 (a share link's
// config, a TOTP enrolment), drawn into a canvas: the CSP allows images
// from this origin only, so neither a data: nor a blob: URL may be an
// <img> source.

import { h } from "./dom.js";

// qrCanvas resolves to a canvas showing the PNG b64, with label as its
// accessible name and the given id and class.
export async function qrCanvas(b64, label, { id, cls }) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const canvas = h("canvas", { class: cls, id, role: "img", "aria-label": label });
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
  return canvas;
}
