// The Tower sidebar panel: draws the store's state into the tab's element. Built fresh on every open;
// re-drawn on each store "change", keeping keyboard focus and expanded patterns across re-draws.
import { app } from "../../../scripts/app.js";
import { bars, fmt, h, sparkline } from "./dom.js";
import { towerApi } from "./api.js";
import { WINDOWS } from "./store.js";

const ISSUES = ["artifacts", "anatomy", "off-model", "blurry", "composition", "colors"];
const STATUS_WORD = { ok: "OK", degraded: "Degraded", down: "Down", unknown: "Unknown" };

/** Select (and centre on) a node of the open graph; false when the graph has no such node of that class. */
export function selectNodeInGraph(nodeId, nodeClass) {
  const graph = app.graph;
  const canvas = app.canvas;
  if (!graph || !canvas || nodeId === null || nodeId === undefined) return false;
  const node = graph.getNodeById(Number.isNaN(Number(nodeId)) ? nodeId : Number(nodeId));
  if (!node || (nodeClass && node.type !== nodeClass && node.comfyClass !== nodeClass)) return false;
  canvas.selectNode(node, false);
  if (typeof canvas.centerOnNode === "function") canvas.centerOnNode(node);
  canvas.setDirty?.(true, true);
  return true;
}

export class TowerPanel {
  constructor(store) {
    this.store = store;
    this.root = null;
    this.expanded = new Set();
    this.issueChoice = new Map();
    this.notes = new Map();
    this._onChange = () => this.draw();
  }

  mount(el) {
    this.root = h("div", { class: "tower-panel", role: "region", "aria-label": "Tower Sentinel" });
    el.replaceChildren(this.root);
    this.store.addEventListener("change", this._onChange);
    this.draw();
  }

  unmount() {
    this.store.removeEventListener("change", this._onChange);
    this.root?.remove();
    this.root = null;
  }

  draw() {
    if (!this.root) return;
    const active = document.activeElement;
    const focusKey = active && this.root.contains(active) ? active.dataset.focusKey : null;
    const sec = this.store.sections;
    this.root.replaceChildren(
      this.header(),
      this.section("health", "Health", sec.health, () => this.healthBody(sec.health.data)),
      this.section("throughput", "Success rate and duration", sec.success, () => this.throughputBody(sec.success.data, sec.durations), ["Durations", sec.durations], "Success rate"),
      this.section("patterns", "Failure patterns", sec.patterns, () => this.patternsBody(sec.patterns.data, sec.errors.data)),
      this.section("quality", "Quality", sec.quality, () => this.qualityBody(sec.quality.data)),
      this.section("outputs", "Recent outputs", sec.outputs, () => this.outputsBody(sec.outputs.data, sec.quality.data)),
    );
    if (focusKey) this.root.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  header() {
    const st = this.store;
    const windows = h("div", { class: "tower-seg", role: "group", "aria-label": "Time window" },
      WINDOWS.map((w) => h("button", {
        type: "button", class: ["tower-seg-btn", w === st.window && "is-on"], "aria-pressed": String(w === st.window),
        dataset: { focusKey: `window-${w}` }, onClick: () => st.setWindow(w), text: w,
      })));
    const parts = [h("h2", { class: "tower-title" }, "Tower"), windows];
    if (st.instances.size > 1) {
      const sel = h("select", { class: "tower-select", "aria-label": "Instance", dataset: { focusKey: "instance" },
        onChange: (e) => st.setInstance(e.target.value) },
      h("option", { value: "", text: "All instances" }),
      [...st.instances].sort().map((i) => h("option", { value: i, text: i, selected: i === st.instance })));
      parts.push(sel);
    }
    parts.push(h("button", { type: "button", class: "tower-icon-btn", "aria-label": "Refresh now", title: "Refresh now",
      dataset: { focusKey: "refresh" }, onClick: () => st.requestRefresh({ now: true, manual: true }) },
    h("i", { class: "pi pi-refresh", "aria-hidden": "true" })));
    const updated = st.sections.health.at ? `Updated ${fmt.time(st.sections.health.at)}` : "Loading…";
    return h("div", { class: "tower-header" }, h("div", { class: "tower-header-row" }, parts),
      h("div", { class: "tower-muted", "aria-live": "polite" }, updated));
  }

  /** A titled section: its body when data is there, and a visible, non-breaking note when its route failed. */
  section(id, title, state, body, [extraTitle, extra] = [], primaryLabel = title) {
    const el = h("section", { class: "tower-section", "data-section": id, "aria-labelledby": `tower-h-${id}` },
      h("h3", { id: `tower-h-${id}`, class: "tower-section-title" }, title));
    for (const [label, st] of [[primaryLabel, state], [extraTitle, extra]]) {
      if (st && st.status === "error") {
        el.append(h("p", { class: "tower-error", role: "status", "data-error-type": st.error.type },
          `${label}: ${st.error.summary}${st.data ? " (showing the last answer)" : ""}`));
      }
    }
    if (state.data) {
      try {
        el.append(body());
      } catch (exc) {
        console.warn("tower: could not draw section", id, exc);
        el.append(h("p", { class: "tower-error", role: "status" }, `${title}: unexpected answer from the server`));
      }
    } else if (state.status === "loading" || state.status === "idle") {
      el.append(h("p", { class: "tower-muted" }, "Loading…"));
    }
    return el;
  }

  healthBody(d) {
    const checks = h("ul", { class: "tower-list tower-checks" }, d.checks.map((c) => h("li", { class: "tower-check" },
      h("span", { class: ["tower-dot", `is-${c.status}`], "aria-hidden": "true" }),
      h("span", { class: "tower-check-name" }, c.name),
      h("span", { class: ["tower-badge", `is-${c.status}`] }, STATUS_WORD[c.status] || c.status),
      c.detail ? h("span", { class: "tower-muted tower-check-detail" }, c.detail) : null)));
    const breakers = this.store.breakers();
    return h("div", null,
      h("div", { class: "tower-overall" },
        h("span", { class: ["tower-badge", "tower-badge-lg", `is-${d.status}`], "data-health": d.status }, STATUS_WORD[d.status] || d.status),
        h("span", { class: "tower-muted" }, [d.instanceId, d.version && `v${d.version}`, d.comfyuiVersion && `ComfyUI ${d.comfyuiVersion}`].filter(Boolean).join(" · "))),
      checks,
      h("h4", { class: "tower-sub" }, "Circuit breakers"),
      breakers.length
        ? h("ul", { class: "tower-list tower-breakers" }, breakers.map((b) => h("li", { class: "tower-check", "data-breaker": b.name },
          h("span", { class: ["tower-dot", `is-${breakerTone(b.state)}`], "aria-hidden": "true" }),
          h("span", { class: "tower-check-name" }, b.name),
          h("span", { class: ["tower-badge", `is-${breakerTone(b.state)}`] }, b.state),
          b.retryAfter !== null && b.state !== "closed"
            ? h("span", { class: "tower-muted tower-check-detail" }, `retry after ${fmt.secs(b.retryAfter)} (${fmt.time((b.at || Date.now()) + b.retryAfter * 1000)})`)
            : null,
          b.reason && b.state !== "closed" ? h("span", { class: "tower-muted tower-check-detail" }, b.reason) : null,
          b.configured ? null : h("span", { class: "tower-muted tower-check-detail" }, "not configured"))))
        : h("p", { class: "tower-muted" }, "No breakers reported."));
  }

  throughputBody(d, durations) {
    const dur = durations.data;
    const stat = (label, value, key) => h("div", { class: "tower-stat", "data-stat": key },
      h("div", { class: "tower-stat-value" }, value), h("div", { class: "tower-stat-label" }, label));
    const failed = d.failed ?? (d.total !== null && d.success !== null ? d.total - d.success : null);
    return h("div", null,
      h("div", { class: "tower-stats" },
        stat("success", fmt.pct(d.rate), "success-rate"),
        stat("prompts", fmt.int(d.total), "total"),
        stat("failed", fmt.int(failed), "failed"),
        stat("p50", dur ? fmt.secs(dur.p50) : "–", "p50"),
        stat("p95", dur ? fmt.secs(dur.p95) : "–", "p95")),
      d.series.some((p) => p.rate !== null)
        ? h("div", null,
          sparkline(d.series, { label: `Success rate over the last ${this.store.window}, oldest first: ${d.series.map((p) => (p.rate === null ? "no prompts" : fmt.pct(p.rate))).join(", ")}` }),
          h("div", { class: "tower-axis tower-muted", "aria-hidden": "true" }, h("span", null, `${this.store.window} ago`), h("span", null, "success rate"), h("span", null, "now")))
        : h("p", { class: "tower-muted" }, "No prompts in this window yet."));
  }

  patternsBody(patterns, errors) {
    if (!patterns.length) return h("p", { class: "tower-muted" }, "No failures in this window.");
    return h("ul", { class: "tower-list tower-patterns" }, patterns.map((p, i) => {
      const key = p.id || `${p.title}-${i}`;
      const open = this.expanded.has(key);
      const recent = (errors || []).filter((e) => p.id && e.fingerprint === p.id).slice(0, 5);
      const examples = recent.length ? recent : p.examples;
      const trend = trendText(p);
      const head = h("button", {
        type: "button", class: "tower-pattern-head", "aria-expanded": String(open), dataset: { focusKey: `pattern-${key}` },
        onClick: () => { open ? this.expanded.delete(key) : this.expanded.add(key); this.draw(); },
      },
      h("i", { class: ["pi", open ? "pi-chevron-down" : "pi-chevron-right"], "aria-hidden": "true" }),
      h("span", { class: "tower-pattern-title" }, p.title),
      p.isNew ? h("span", { class: "tower-badge is-new" }, "new since update") : null,
      h("span", { class: "tower-pattern-count", "aria-label": `${p.count ?? 0} failures` }, `×${fmt.int(p.count)}`),
      trend ? h("span", { class: ["tower-trend", `is-${p.trend}`], title: "trend" }, trend) : null);
      const meta = h("div", { class: "tower-pattern-meta" },
        [p.category, p.nodeClass].filter(Boolean).join(" · ") || null,
        p.message ? h("div", { class: "tower-muted tower-message" }, p.message) : null,
        p.suggestedAction ? h("div", { class: "tower-action", "data-suggested-action": "" }, h("strong", null, "Try: "), p.suggestedAction) : null,
        open && p.actionDetails.length ? h("ul", { class: "tower-action-details" }, p.actionDetails.map((t) => h("li", null, t))) : null,
        p.driver ? h("div", { class: "tower-muted" }, h("strong", null, "Driven by: "), p.driver) : null);
      const body = open ? h("ol", { class: "tower-examples" }, examples.length
        ? examples.map((e) => this.example(e))
        : h("li", { class: "tower-muted" }, "No recent examples.")) : null;
      return h("li", { class: "tower-pattern", "data-pattern": key }, head, meta, body);
    }));
  }

  example(e) {
    const noteKey = `${e.promptId || e.correlationId}-${e.nodeId}`;
    const note = this.notes.get(noteKey);
    return h("li", { class: "tower-example" },
      h("div", { class: "tower-mono", title: "correlation id" }, e.correlationId || e.promptId || "–"),
      e.nodeId ? h("button", {
        type: "button", class: "tower-link", dataset: { focusKey: `node-${noteKey}` },
        "aria-label": `Select node ${e.nodeId}${e.nodeClass ? ` (${e.nodeClass})` : ""} in the graph`,
        onClick: () => {
          this.notes.set(noteKey, selectNodeInGraph(e.nodeId, e.nodeClass) ? null : `Node #${e.nodeId} is not in the open workflow.`);
          this.draw();
        },
      }, `#${e.nodeId}${e.nodeClass ? ` ${e.nodeClass}` : ""}`) : null,
      e.message ? h("div", { class: "tower-message" }, e.message) : null,
      note ? h("div", { class: "tower-muted", role: "status" }, note) : null);
  }

  qualityBody(q) {
    const parts = [h("div", { class: "tower-stats" },
      h("div", { class: "tower-stat", "data-stat": "quality-mean" }, h("div", { class: "tower-stat-value" }, q.mean === null ? "–" : q.mean.toFixed(2)), h("div", { class: "tower-stat-label" }, "mean score")),
      h("div", { class: "tower-stat", "data-stat": "quality-count" }, h("div", { class: "tower-stat-value" }, fmt.int(q.count)), h("div", { class: "tower-stat-label" }, "scored")),
      h("div", { class: "tower-stat", "data-stat": "pass-rate" }, h("div", { class: "tower-stat-value" }, fmt.pct(q.passRate)), h("div", { class: "tower-stat-label" }, "passed")),
      h("div", { class: "tower-stat", "data-stat": "rating-mean" }, h("div", { class: "tower-stat-value" }, q.ratingMean === null ? "–" : `${q.ratingMean.toFixed(1)}★`), h("div", { class: "tower-stat-label" }, `rating${q.ratingCount ? ` (${q.ratingCount})` : ""}`)))];
    if (q.topFlags.length) {
      parts.push(h("div", { class: "tower-muted" }, `Top flags: ${q.topFlags.map((f) => `${f.flag} ×${f.count}`).join(", ")}`));
    }
    if (q.bins.some((b) => b.count > 0)) {
      parts.push(h("h4", { class: "tower-sub" }, "Score distribution"),
        bars(q.bins, { label: `Quality score distribution: ${q.bins.map((b) => `${b.label}: ${b.count}`).join(", ")}` }));
    } else {
      parts.push(h("p", { class: "tower-muted" }, "No score distribution for this window."));
    }
    if (q.ratingBins.some((b) => b.count > 0)) {
      parts.push(h("h4", { class: "tower-sub" }, "Ratings"),
        bars(q.ratingBins, { label: `Ratings: ${q.ratingBins.map((b) => `${b.label}: ${b.count}`).join(", ")}`, height: 36 }));
    }
    return h("div", null, parts);
  }

  outputsBody(outputs, quality) {
    if (!outputs.length) return h("p", { class: "tower-muted" }, "No images yet. Outputs of recent prompts appear here for rating.");
    const scores = new Map((quality?.recent || []).map((r) => [r.promptId, r]));
    return h("ul", { class: "tower-list tower-outputs" }, outputs.map((o) => {
      const image = o.images[0];
      const q = scores.get(o.promptId);
      const saved = this.store.ratingFor(o.promptId, image);
      const current = saved?.rating ?? q?.rating ?? null;
      const key = `${o.promptId}|${image.filename}`;
      const chosen = this.issueChoice.get(key) || new Set();
      const stars = h("div", { class: "tower-stars", role: "group", "aria-label": `Rate ${image.filename}` },
        [1, 2, 3, 4, 5].map((n) => h("button", {
          type: "button", class: ["tower-star", current !== null && n <= current && "is-on"], "aria-pressed": String(current === n),
          "aria-label": `${n} star${n > 1 ? "s" : ""}`, dataset: { focusKey: `star-${key}-${n}` },
          onClick: () => this.store.rate({ promptId: o.promptId, image, rating: n, issues: [...chosen] }),
        }, "★")));
      const issues = h("details", { class: "tower-issues" }, h("summary", null, chosen.size ? `Issues (${chosen.size})` : "Issues…"),
        ISSUES.map((name) => h("label", { class: "tower-issue" },
          h("input", { type: "checkbox", checked: chosen.has(name), dataset: { focusKey: `issue-${key}-${name}` },
            onChange: (e) => { e.target.checked ? chosen.add(name) : chosen.delete(name); this.issueChoice.set(key, chosen); } }),
          name)));
      if (chosen.size) issues.open = true;
      let status = null;
      if (saved?.status === "saving") status = h("span", { class: "tower-muted", role: "status" }, "Saving…");
      else if (saved?.status === "saved") status = h("span", { class: "tower-ok", role: "status", "data-rating-saved": String(saved.rating) }, `Rated ${saved.rating}★`);
      else if (saved?.status === "error") status = h("span", { class: "tower-error", role: "status" }, `Rating not saved: ${saved.error.summary}`);
      return h("li", { class: "tower-output", "data-prompt-id": o.promptId },
        h("img", { class: "tower-thumb", src: towerApi.imageUrl(image), alt: `Output ${image.filename}`, loading: "lazy", width: 56, height: 56 }),
        h("div", { class: "tower-output-body" },
          h("div", { class: "tower-output-line" },
            h("span", { class: "tower-badge is-score", title: q?.score !== null && q?.score !== undefined ? "quality score" : "no quality score recorded for this prompt" }, q?.score !== null && q?.score !== undefined ? `Q ${q.score.toFixed(2)}` : "Q –"),
            h("span", { class: "tower-muted tower-ellipsis", title: image.filename }, image.filename)),
          stars, issues, status));
    }));
  }
}

function breakerTone(state) {
  return { closed: "ok", half_open: "degraded", open: "down", forced_open: "down" }[state] || "unknown";
}

function trendText(p) {
  const arrows = { rising: "▲ rising", falling: "▼ falling", steady: "▬ steady", new: "● new in window" };
  if (!p.trend) return null;
  const change = p.changePercent !== null && p.trend !== "new" && p.trend !== "steady" ? ` ${p.changePercent > 0 ? "+" : ""}${Math.round(p.changePercent)}%` : "";
  return (arrows[p.trend] || p.trend) + change;
}
