// The demo's hints: on the controller of `wg-controller demo`
// (GET /api/demo), a box above every page says what to try next in the UI
// and with the fleet CLI, until it is hidden for the browser session.

import { h } from "./dom.js";
import { t } from "./i18n.js";

const HIDDEN = "wgfleet.demoHintsHidden";

// showDemoHints puts the hints above main once, when the controller is
// the demo's and they were not hidden in this session.
export async function showDemoHints(api) {
  if (document.getElementById("demo-hints") || sessionStorage.getItem(HIDDEN)) return;
  let info;
  try {
    info = (await api.request("GET", "/api/demo")).data;
  } catch {
    return; // an older controller, or none: no hints
  }
  if (!info || !info.demo || document.getElementById("demo-hints")) return;
  const box = h("aside", { id: "demo-hints", class: "demo-hints", "aria-labelledby": "demo-hints-title" },
    h("h2", { id: "demo-hints-title" }, t("demo.title")),
    h("p", {}, t("demo.ui")),
    h("p", {}, t("demo.cli")),
    h("pre", { class: "demo-commands" }, h("code", {}, info.commands.join("\n"))),
    h("button", {
      type: "button", class: "btn btn-small", id: "demo-hints-hide",
      onclick: () => { sessionStorage.setItem(HIDDEN, "1"); box.remove(); },
    }, t("demo.hide")));
  document.getElementById("main").before(box);
}
