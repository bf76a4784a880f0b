// Traffic charts: a peer's or a node's history (GET /api/peers/{id}/traffic,
// GET /api/nodes/{id}/traffic) drawn as plain SVG, two lines (received and
// sent) over the range, with a text alternative that says the same in
// words. The left label says when the range starts, the right one "now".
// The SVG is drawn at the width it is shown at (redrawn when that
// changes), so its labels keep their size at 375 px; its colours are CSS
// variables, light and dark.

import { h, setText, clear } from "./dom.js";
import { bytes } from "./format.js";
import { lang, t } from "./i18n.js";
import { openModal } from "./modal.js";
import { Poller } from "./poll.js";

const SVG_NS = "http://www.w3.org/2000/svg";

// RANGES are the ranges the API serves, with what the chart calls them.
export const RANGES = [
  { value: "24h", label: t("traffic.range.24h"), words: t("traffic.words.24h") },
  { value: "7d", label: t("traffic.range.7d"), words: t("traffic.words.7d") },
  { value: "30d", label: t("traffic.range.30d"), words: t("traffic.words.30d") },
  { value: "1y", label: t("traffic.range.1y"), words: t("traffic.words.1y") },
];

const HEIGHT = 160; // px, the plot and its axis labels
const PAD = { top: 18, right: 8, bottom: 22, left: 8 };

let serial = 0; // ids for aria-labelledby; only ever increases

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// stepWords names a span of seconds as a rate's unit: "per minute",
// "per 10 minutes", "per hour", "per 2 days".
export function stepWords(step) {
  if (step % 86400 === 0) return t("traffic.perDays", { count: step / 86400 });
  if (step % 3600 === 0) return t("traffic.perHours", { count: step / 3600 });
  if (step % 60 === 0) return t("traffic.perMinutes", { count: step / 60 });
  return t("traffic.perSeconds", { count: step });
}

// buckets sums a series' points into at most n groups of consecutive
// points (the chart cannot show more than about one per two pixels).
export function buckets(points, n) {
  const size = Math.max(1, Math.ceil(points.length / Math.max(1, n)));
  const out = [];
  for (let i = 0; i < points.length; i += size) {
    const g = { t: points[i].t, rx: 0, tx: 0, span: 0 };
    for (const p of points.slice(i, i + size)) {
      g.rx += p.rx;
      g.tx += p.tx;
      g.span++;
    }
    out.push(g);
  }
  return out;
}

// summary says in words what a series holds: the chart's text
// alternative.
export function summary(series, words) {
  if (!series || !series.points) return "";
  if (!series.rx && !series.tx) return t("traffic.none", { range: words });
  let peak = series.points[0];
  for (const p of series.points) if (p.rx + p.tx > peak.rx + peak.tx) peak = p;
  const busiest = { time: timeLabel(peak.t, series.step, true), rx: bytes(peak.rx), tx: bytes(peak.tx) };
  let sentence;
  if (series.step >= 86400) sentence = t("traffic.busiest.day", busiest);
  else if (series.step >= 3600) sentence = t("traffic.busiest.hour", busiest);
  else sentence = t("traffic.busiest.minute", busiest);
  return `${t("traffic.total", { rx: bytes(series.rx), tx: bytes(series.tx), range: words })} ${sentence}`;
}

// timeLabel formats a point's time for an axis (short) or a sentence.
function timeLabel(t, step, long = false) {
  const d = new Date(t);
  if (step >= 86400) return d.toLocaleDateString(lang, { month: "short", day: "numeric", ...(long ? { year: "numeric" } : {}) });
  if (step >= 3600 && !long) return d.toLocaleDateString(lang, { month: "short", day: "numeric" });
  const time = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  return long ? `${d.toLocaleDateString(lang, { month: "short", day: "numeric" })} ${time}` : time;
}

// TrafficChart is a chart with its range switch and summary. kind is
// "peer" or "node"; name says whose traffic it is, for the title. It loads
// when shown (load) and on refresh; a failed load says why in place of the
// chart.
export class TrafficChart {
  constructor(ctx, kind, id, name, range = "24h") {
    this.ctx = ctx;
    this.path = `/api/${kind === "node" ? "nodes" : "peers"}/${id}/traffic`;
    this.name = name;
    this.range = range;
    this.series = null;
    this.loading = null;
    const n = ++serial;
    this.titleId = `traffic-title-${n}`;
    this.descId = `traffic-desc-${n}`;
    this.buttons = RANGES.map((r) => {
      const b = h("button", { type: "button", class: "btn btn-small", "aria-pressed": String(r.value === range), dataset: { range: r.value } }, r.label);
      b.addEventListener("click", () => this.setRange(r.value));
      return b;
    });
    this.plot = h("div", { class: "traffic-plot" });
    this.text = h("p", { class: "traffic-summary", id: this.descId, "aria-live": "polite" }, t("traffic.loading"));
    this.legend = h("p", { class: "traffic-legend", "aria-hidden": "true" },
      h("span", {}, h("span", { class: "swatch swatch-rx" }), t("traffic.received")),
      h("span", {}, h("span", { class: "swatch swatch-tx" }), t("traffic.sent")));
    this.el = h("div", { class: "traffic-chart", dataset: { kind } },
      h("div", { class: "traffic-ranges", role: "group", "aria-label": t("traffic.range") }, this.buttons),
      this.plot, this.legend, this.text);
    this.resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => this.draw()) : null;
    if (this.resize) this.resize.observe(this.plot);
  }

  words() {
    return (RANGES.find((r) => r.value === this.range) || RANGES[0]).words;
  }

  // setName changes whose traffic the title says, redrawing a chart
  // already drawn (the node page learns its node's name after the chart
  // may have loaded).
  setName(name) {
    if (name === this.name) return;
    this.name = name;
    this.draw();
  }

  setRange(value) {
    this.range = value;
    for (const b of this.buttons) b.setAttribute("aria-pressed", String(b.dataset.range === value));
    this.series = null;
    setText(this.text, t("traffic.loading"));
    return this.load();
  }

  // load fetches the series for the current range and draws it.
  async load() {
    const range = this.range;
    try {
      const env = await this.ctx.api.get(`${this.path}?range=${encodeURIComponent(range)}`);
      if (range !== this.range) return; // switched meanwhile
      this.series = env.data;
      this.draw();
    } catch (err) {
      if (err.unauthorized || range !== this.range) return;
      clear(this.plot);
      this.series = null;
      setText(this.text, t("traffic.loadFailed", { error: err.message }));
    }
  }

  // stop ends the chart's watch of its size.
  stop() {
    if (this.resize) this.resize.disconnect();
  }

  draw() {
    const s = this.series;
    if (!s || !s.points || !this.el.isConnected) return;
    const width = Math.max(240, Math.floor(this.plot.clientWidth || 600));
    const words = this.words();
    setText(this.text, summary(s, words));
    const w = width - PAD.left - PAD.right;
    const hgt = HEIGHT - PAD.top - PAD.bottom;
    const groups = buckets(s.points, Math.floor(w / 2));
    const top = Math.max(1, ...groups.map((g) => Math.max(g.rx, g.tx)));
    const x = (i) => PAD.left + (groups.length <= 1 ? w : (i * w) / (groups.length - 1));
    const y = (v) => PAD.top + hgt - (v / top) * hgt;
    const line = (key) => groups.map((g, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(g[key]).toFixed(1)}`).join("");
    const area = (key) => `${line(key)}L${x(groups.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`;
    const per = groups[0] ? groups[0].span * s.step : s.step;
    const chart = svg("svg", {
      class: "traffic-svg", width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
      role: "img", "aria-labelledby": `${this.titleId} ${this.descId}`,
    },
    svg("title", { id: this.titleId }, t("traffic.title", { name: this.name, range: words })),
    svg("desc", {}, summary(s, words)),
    svg("line", { class: "traffic-axis", x1: PAD.left, x2: width - PAD.right, y1: y(0), y2: y(0) }),
    svg("line", { class: "traffic-grid", x1: PAD.left, x2: width - PAD.right, y1: PAD.top, y2: PAD.top }),
    svg("path", { class: "traffic-area traffic-rx", d: area("rx") }),
    svg("path", { class: "traffic-line traffic-rx", d: line("rx") }),
    svg("path", { class: "traffic-line traffic-tx", d: line("tx") }),
    svg("text", { class: "traffic-label", x: PAD.left, y: PAD.top - 5 }, `${bytes(top)} ${stepWords(per)}`),
    svg("text", { class: "traffic-label", x: PAD.left, y: HEIGHT - 6 }, timeLabel(s.points[0].t, s.step, s.step !== 3600)),
    svg("text", { class: "traffic-label", x: width - PAD.right, y: HEIGHT - 6, "text-anchor": "end" }, t("traffic.now")));
    clear(this.plot);
    this.plot.append(chart);
  }
}

// CHART_REFRESH_MS is how often a shown chart reloads: the history moves
// by the minute.
export const CHART_REFRESH_MS = 60000;

// openTrafficChart shows a peer's traffic in a dialog (the peer's detail),
// reloaded every minute while open.
export function openTrafficChart(ctx, peer, label) {
  const chart = new TrafficChart(ctx, "peer", peer.id, label);
  const poller = new Poller(() => chart.load(), CHART_REFRESH_MS);
  const m = openModal({
    title: t("traffic.dialogTitle", { name: label }), content: chart.el, wide: true,
    onClose: () => { poller.stop(); chart.stop(); },
  });
  poller.start();
  return m;
}

// TOTALS_RANGE is the range of the node cards' totals.
export const TOTALS_RANGE = "24h";

// trafficTotals says a node's totals over TOTALS_RANGE for its card.
export function trafficTotals(total) {
  return t("traffic.totals", { rx: bytes(total ? total.rx : 0), tx: bytes(total ? total.tx : 0) });
}
