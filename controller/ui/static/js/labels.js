// Node labels in the UI: written as "key=value, key=value" in the node
// form, shown as chips on cards and the node page, and the region label
// that groups the node cards. The API checks every label (keys and
// values, docs/API.md); this module only reads and writes the text.

import { h, setText, clear } from "./dom.js";
import { t } from "./i18n.js";

// REGION is the label the nodes page groups by.
export const REGION = "region";

// formatLabels writes labels as "key=value, key=value", by key.
export function formatLabels(labels) {
  return Object.keys(labels || {}).sort().map((k) => `${k}=${labels[k]}`).join(", ");
}

// parseLabels reads "key=value, key=value" (commas or new lines between
// labels) into an object. A term without "=" becomes a key with an empty
// value, which the API refuses with a message naming it; so does a key
// given twice with different values.
export function parseLabels(text) {
  const out = {};
  for (const term of (text || "").split(/[,\n]/)) {
    const t = term.trim();
    if (!t) continue;
    const i = t.indexOf("=");
    const key = (i < 0 ? t : t.slice(0, i)).trim();
    const value = i < 0 ? "" : t.slice(i + 1).trim();
    out[key] = key in out && out[key] !== value ? `${out[key]},${value}` : value;
  }
  return out;
}

// labelsField is the node form's field for labels.
export function labelsField(node) {
  return {
    name: "labels", label: t("labels.title"), value: formatLabels(node?.labels), placeholder: "region=eu-west, provider=hetzner",
    help: t("labels.help"),
  };
}

// showLabels fills el (a list) with one chip per label, by key; it is
// hidden when there are none.
export function showLabels(el, labels) {
  const text = formatLabels(labels);
  if (el.dataset.labels === text) return; // unchanged: touch nothing
  el.dataset.labels = text;
  clear(el);
  for (const k of Object.keys(labels || {}).sort()) {
    el.append(h("li", { class: k === REGION ? "label label-region" : "label" }, `${k}=${labels[k]}`));
  }
  el.hidden = !text;
}

// labelList makes an empty list for showLabels.
export function labelList() {
  return h("ul", { class: "labels", "aria-label": t("labels.title"), hidden: true });
}

// RegionGroups lays node cards out in one group per region, by region
// name, with the nodes without a region in a group of their own, last.
// Groups appear and go as regions do; cards are moved, never rebuilt.
export class RegionGroups {
  constructor(container) {
    this.container = container;
    this.groups = new Map(); // region ("" for none) -> {el, heading, count, grid}
  }

  // place puts cards (in the order wanted within a group) into their
  // groups: items are {el, node}.
  place(items) {
    const byRegion = new Map();
    for (const item of items) {
      const region = regionOf(item.node);
      if (!byRegion.has(region)) byRegion.set(region, []);
      byRegion.get(region).push(item);
    }
    const regions = [...byRegion.keys()].sort((a, b) => (a === "") - (b === "") || a.localeCompare(b));
    let prevGroup = null;
    for (const region of regions) {
      const g = this.group(region);
      const want = prevGroup ? prevGroup.nextSibling : this.container.firstChild;
      if (want !== g.el) this.container.insertBefore(g.el, want);
      prevGroup = g.el;
      const cards = byRegion.get(region);
      setText(g.count, t("nodes.count", { count: cards.length }));
      let prev = null;
      for (const { el } of cards) {
        const at = prev ? prev.nextSibling : g.grid.firstChild;
        if (at !== el) g.grid.insertBefore(el, at);
        prev = el;
      }
    }
    for (const [region, g] of this.groups) {
      if (!byRegion.has(region)) {
        g.el.remove();
        this.groups.delete(region);
      }
    }
  }

  group(region) {
    let g = this.groups.get(region);
    if (g) return g;
    const heading = h("h2", { class: "region-name" }, region || t("labels.noRegion"));
    const count = h("span", { class: "region-count" });
    const grid = h("ul", { class: "cards", "aria-label": region ? t("labels.nodesIn", { region }) : t("labels.nodesWithout") });
    const el = h("section", { class: "region-group", dataset: { region } }, h("div", { class: "region-head" }, heading, count), grid);
    g = { el, heading, count, grid };
    this.groups.set(region, g);
    return g;
  }
}

// regionOf is a node's region, "" when it has none.
export function regionOf(node) {
  return (node.labels && node.labels[REGION]) || "";
}

// placementOptions are the peer form's automatic placement choices for a
// peer added from node's page: anywhere, and within node's region when it
// has one.
export function placementOptions(node) {
  const region = regionOf(node);
  const out = [{ value: "auto", label: t("labels.auto") }];
  if (region) out.push({ value: `auto-region:${region}`, label: t("labels.autoRegion", { region }) });
  return out;
}

// placementBody is the part of POST /api/peers for a choice of
// placementOptions.
export function placementBody(choice) {
  const region = choice.startsWith("auto-region:") ? choice.slice("auto-region:".length) : "";
  return region ? { node_id: "auto", placement: { labels: { [REGION]: region } } } : { node_id: "auto" };
}
