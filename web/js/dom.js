// DOM helpers for the panel: elements are built with createElement and text goes through textContent only,
// so nothing the server sends is ever parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else if (k === "text") el.textContent = String(v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h("div", {class: "x", onClick}, "text", child) → HTMLElement. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export const fmt = {
  pct: (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(r >= 0.995 || r === 0 ? 0 : 1)}%`),
  secs: (v) => {
    if (v === null || v === undefined) return "–";
    if (v < 1) return `${Math.round(v * 1000)} ms`;
    if (v < 120) return `${v.toFixed(v < 10 ? 2 : 1)} s`;
    return `${(v / 60).toFixed(1)} min`;
  },
  int: (v) => (v === null || v === undefined ? "–" : String(Math.round(v))),
  time: (ms) => (ms ? new Date(ms).toLocaleTimeString() : "–"),
};

/** A small line chart of values in 0..1 (success rate over time). */
export function sparkline(points, { label, height = 44, caption } = {}) {
  const w = 240;
  const pad = 3;
  const svg = s("svg", { class: "tower-chart", viewBox: `0 0 ${w} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": label });
  svg.append(s("title", { text: label }));
  svg.append(s("line", { x1: 0, x2: w, y1: pad, y2: pad, class: "tower-chart-grid" }));
  svg.append(s("line", { x1: 0, x2: w, y1: height - pad, y2: height - pad, class: "tower-chart-grid" }));
  // Buckets without prompts (rate null) leave a gap: each run of known points is its own line.
  const y = (v) => pad + (1 - v) * (height - 2 * pad);
  const x = (i) => (points.length === 1 ? w / 2 : (i / (points.length - 1)) * w);
  let run = [];
  const flush = () => {
    if (run.length > 1) svg.append(s("polyline", { class: "tower-chart-line", points: run.join(" ") }));
    run = [];
  };
  points.forEach((p, i) => {
    if (p.rate === null || p.rate === undefined) {
      flush();
      return;
    }
    const xy = `${x(i).toFixed(1)},${y(p.rate).toFixed(1)}`;
    run.push(xy);
    const dot = s("circle", { class: ["tower-chart-dot", p.rate < 1 && "is-bad"], cx: x(i).toFixed(1), cy: y(p.rate).toFixed(1), r: 2.5 });
    dot.append(s("title", { text: `${p.t}: ${Math.round(p.rate * 100)}% of ${p.total}` }));
    svg.append(dot);
  });
  flush();
  return svg;
}

/** A bar chart of counts (quality score distribution). */
export function bars(bins, { label, height = 56 } = {}) {
  const w = 240;
  const max = Math.max(1, ...bins.map((b) => b.count));
  const svg = s("svg", { class: "tower-chart", viewBox: `0 0 ${w} ${height + 12}`, role: "img", "aria-label": label });
  svg.append(s("title", { text: label }));
  const bw = w / Math.max(1, bins.length);
  bins.forEach((b, i) => {
    const bh = (b.count / max) * height;
    const rect = s("rect", { class: "tower-chart-bar", x: (i * bw + 1).toFixed(1), y: (height - bh).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: bh.toFixed(1) });
    rect.append(s("title", { text: `${b.label}: ${b.count}` }));
    svg.append(rect);
    if (bins.length <= 10) svg.append(s("text", { class: "tower-chart-label", x: (i * bw + bw / 2).toFixed(1), y: height + 10, "text-anchor": "middle", text: b.label }));
  });
  return svg;
}
