// Turn route answers (docs/api.md) into the small view models the panel draws. Tolerant by design: a field
// that is missing or of the wrong type becomes null, so a server older or newer than this panel never breaks it.

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : null));
const str = (v) => (typeof v === "string" ? v : (typeof v === "number" ? String(v) : null));
const arr = (v) => (Array.isArray(v) ? v : []);
const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});

/** The first of `keys` present on `o` (not undefined/null). */
function pick(o, ...keys) {
  for (const k of keys) {
    if (o && o[k] !== undefined && o[k] !== null) return o[k];
  }
  return null;
}

/** A rate given as 0..1 or as 0..100 percent → 0..1. */
function rate(v) {
  const n = num(v);
  if (n === null) return null;
  return n > 1 ? n / 100 : n;
}

export function healthView(data) {
  const d = obj(data);
  const checks = Object.entries(obj(d.checks)).map(([name, c]) => {
    const cc = obj(c);
    return { name, status: str(cc.status) || "unknown", detail: str(pick(cc, "error", "message", "detail")) };
  });
  return {
    status: str(d.status) || "unknown",
    version: str(d.version),
    comfyuiVersion: str(d.comfyui_version),
    instanceId: str(d.instance_id),
    checks,
    breakers: breakersFromHealth(d),
  };
}

/** Breakers reported by health: `breakers` at the top or inside any check, as a list or a name-keyed map. */
export function breakersFromHealth(d) {
  const found = [];
  const take = (src) => {
    if (Array.isArray(src)) {
      for (const b of src) found.push(breakerView(b));
    } else if (src && typeof src === "object") {
      for (const [name, b] of Object.entries(src)) found.push(breakerView({ name, ...obj(b) }));
    }
  };
  take(d.breakers);
  for (const [name, c] of Object.entries(obj(d.checks))) {
    const cc = obj(c);
    take(cc.breakers);
    // A dependency check (echo_brain, kb) carries its client's breaker: {state, retry_after, …}.
    if (cc.breaker && typeof cc.breaker === "object") {
      const b = obj(cc.breaker);
      found.push({
        ...breakerView({ name: b.name || name, state: b.state ?? cc.state, retry_after: b.retry_after ?? cc.retry_after }),
        configured: cc.configured !== false,
      });
    }
  }
  return found.filter((b) => b.name);
}

export function breakerView(b) {
  const o = obj(b);
  return {
    name: str(pick(o, "name", "breaker", "dependency")),
    state: str(o.state) || "unknown",
    retryAfter: num(pick(o, "retry_after", "retry_after_seconds", "retry_after_s")),
    reason: str(o.reason),
    configured: o.configured !== false,
  };
}

/** `/tower/metrics/success-rate` (one operation type or overall) → headline numbers. */
export function successView(data) {
  const d = obj(data);
  const ops = arr(d.operation_types).map(obj);
  const src = ops.find((o) => o.operation_type === "comfyui_execution") || obj(d.overall);
  const total = num(pick(src, "total_operations", "total"));
  const success = num(pick(src, "successful_operations", "success"));
  let failed = num(pick(src, "failed_operations", "failed"));
  if (failed === null && total !== null && success !== null) failed = total - success;
  let r = rate(pick(src, "success_rate_percent", "success_rate"));
  if (r === null && total && success !== null) r = success / total;
  return { rate: r, total, success, failed, series: [], instances: instancesOf(d) };
}

/**
 * Success rate over time from cumulative windows that all end now (10m, 20m, … 60m): the difference of two
 * neighbours is one bucket. `answers` are success-rate answers for `windows` in ascending order.
 */
export function seriesFromCumulative(windows, answers) {
  const cum = answers.map((a) => successView(a));
  const points = [];
  for (let i = 0; i < cum.length; i += 1) {
    const total = (cum[i].total || 0) - (i ? cum[i - 1].total || 0 : 0);
    const ok = (cum[i].success || 0) - (i ? cum[i - 1].success || 0 : 0);
    const t = i ? `${windows[i - 1]}–${windows[i]} ago` : `last ${windows[0]}`;
    points.push({ t, total, rate: total > 0 ? Math.min(1, Math.max(0, ok / total)) : null });
  }
  return points.reverse();
}

/** The cumulative windows (ascending) used to draw a window's chart. */
export function seriesWindows(window) {
  const m = /^(\d+)([mhdw])$/.exec(window || "");
  if (!m) return [];
  const steps = { "1h": [10, "m", 6], "24h": [4, "h", 6], "7d": [1, "d", 7] }[window];
  if (!steps) return [];
  const [size, unit, n] = steps;
  return Array.from({ length: n }, (_, i) => `${size * (i + 1)}${unit}`);
}

/** `/tower/metrics/durations` → p50/p95 of whole prompts' execution time. */
export function durationsView(data) {
  const d = obj(data);
  const prompts = obj(d.prompts);
  let src = obj(prompts.execution);
  if (!Object.keys(src).length) src = obj(arr(d.operation_types).find((o) => obj(o).operation_type === "comfyui_execution"));
  return {
    p50: num(src.p50),
    p95: num(src.p95),
    avg: num(src.avg),
    count: num(src.count),
    queueP50: num(obj(prompts.queue_wait).p50),
  };
}

/** `/tower/learning/failure-analysis` → patterns, plus its quality and feedback summaries. */
export function patternsView(data) {
  const d = obj(data);
  return arr(pick(d, "patterns", "failure_patterns")).map((p) => {
    const o = obj(p);
    const action = o.suggested_action;
    const ex = obj(o.example);
    const exc = str(o.exception_type);
    const node = str(o.node_class);
    return {
      id: str(pick(o, "fingerprint", "id")) || "",
      title: [exc || str(o.category) || "failure", node && `in ${node}`].filter(Boolean).join(" "),
      category: str(o.category),
      exceptionType: exc,
      nodeClass: node,
      message: str(pick(o, "template", "message")),
      count: num(pick(o, "count", "frequency")),
      trend: str(o.trend),
      changePercent: num(o.change_percent),
      isNew: o.new_since_update === true,
      suggestedAction: typeof action === "string" ? action : str(obj(action).summary),
      actionDetails: arr(obj(action).details).map(str).filter(Boolean),
      driver: driverText(o.drivers),
      examples: Object.keys(ex).length ? [exampleView({ ...ex, failing_node_class: node })] : [],
    };
  });
}

function driverText(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  const one = (x) => {
    if (typeof x === "string") return x;
    const o = obj(x);
    let s = str(o.condition) || [str(o.input), str(o.op), str(o.threshold)].filter(Boolean).join(" ");
    const matched = obj(o.matched);
    const mr = num(matched.rate);
    const mp = num(matched.prompts);
    if (s && mr !== null && mp) s += ` (fails ${Math.round(mr * 100)}% of ${mp} prompts)`;
    return s || null;
  };
  const parts = (Array.isArray(v) ? v : [v]).map(one).filter(Boolean);
  return parts.length ? parts.join("; ") : null;
}

export function exampleView(e) {
  const o = obj(e);
  return {
    promptId: str(o.prompt_id),
    correlationId: str(o.correlation_id),
    nodeId: str(pick(o, "failing_node_id", "node_id")),
    nodeClass: str(pick(o, "failing_node_class", "node_class")),
    message: str(pick(o, "message", "error_message")),
    at: str(pick(o, "timestamp", "finished_at", "created_at", "time")),
  };
}

/** Recent errors (`/tower/errors`) as examples, for patterns that came without their own. */
export function errorsView(data) {
  const d = obj(data);
  return arr(pick(d, "errors", "items", "recent")).map((e) => ({ ...exampleView(e), fingerprint: str(obj(e).fingerprint), category: str(obj(e).category) }));
}

/**
 * Quality: `/tower/quality/summary` (score histogram over `bins` edges) merged with the quality and feedback
 * blocks of failure-analysis (pass rate, mean rating, rating counts). Either may be null.
 */
export function qualityView(summary, analysis) {
  const sm = obj(summary);
  const overall = obj(sm.overall);
  const aq = obj(obj(analysis).quality);
  const fb = obj(obj(analysis).feedback);
  const edges = arr(sm.bins).map(num);
  const hist = arr(overall.histogram).map((c) => num(c) || 0);
  const bins = hist.map((count, i) => ({
    label: edges[i] !== null && edges[i] !== undefined ? edges[i].toFixed(1) : String(i),
    count,
  }));
  const ratings = obj(fb.ratings);
  const ratingBins = Object.keys(ratings).length
    ? ["1", "2", "3", "4", "5"].map((k) => ({ label: `${k}★`, count: num(ratings[k]) || 0 }))
    : [];
  return {
    count: num(overall.count) ?? num(aq.count),
    mean: num(overall.avg_score) ?? num(aq.avg_score),
    passRate: rate(aq.pass_rate),
    ratingMean: num(fb.avg_rating),
    ratingCount: num(fb.count),
    correlation: num(obj(sm.ratings).score_rating_correlation),
    bins,
    ratingBins,
    topFlags: arr(aq.top_flags).map((f) => ({ flag: str(obj(f).flag), count: num(obj(f).count) })).filter((f) => f.flag),
    recent: arr(sm.recent).map((r) => ({
      promptId: str(obj(r).prompt_id),
      score: num(obj(r).score),
      rating: num(obj(r).rating),
    })).filter((r) => r.promptId),
  };
}

/** Instance ids named by an answer (for the instance filter). */
export function instancesOf(d) {
  const o = obj(d);
  const v = pick(o, "instances", "by_instance", "per_instance");
  if (Array.isArray(v)) return v.map((x) => str(x) || str(obj(x).instance_id)).filter(Boolean);
  if (v && typeof v === "object") return Object.keys(v);
  return [];
}

/** Recent outputs with images from ComfyUI's /history answer, newest first. */
export function outputsFromHistory(data, limit = 8) {
  const items = [];
  for (const [promptId, entry] of Object.entries(obj(data))) {
    const e = obj(entry);
    const prompt = arr(e.prompt);
    const number = num(prompt[0]);
    const status = str(obj(e.status).status_str);
    const images = [];
    for (const [nodeId, out] of Object.entries(obj(e.outputs))) {
      for (const img of arr(obj(out).images)) {
        const im = obj(img);
        if (str(im.filename)) images.push({ nodeId, filename: im.filename, subfolder: str(im.subfolder) || "", type: str(im.type) || "output" });
      }
    }
    if (images.length) items.push({ promptId, number: number ?? 0, status, images });
  }
  items.sort((a, b) => b.number - a.number);
  return items.slice(0, limit);
}
