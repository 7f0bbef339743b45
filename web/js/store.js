// TowerStore: the panel's state and the only owner of timers and websocket listeners.
// Polls only while the tab is open (at most one refresh per `minGapMs`, coalescing bursts of websocket events),
// keeps breakers live from `tower.breaker` events, and re-emits `tower.outcome` events as "outcome".
import { towerApi, TowerApiError } from "./api.js";
import {
  breakerView, durationsView, errorsView, healthView, outputsFromHistory, patternsView, qualityView, seriesFromCumulative, seriesWindows, successView,
} from "./shapes.js";

export const WINDOWS = ["1h", "24h", "7d"];
export const SECTIONS = ["health", "success", "durations", "patterns", "errors", "quality", "outputs"];

// Each loader gets the refresh's query and a shared context (one failure-analysis call serves two sections).
const LOADERS = {
  health: (q, c) => towerApi.health(c.opts).then(healthView),
  success: async (q, c) => {
    const wins = seriesWindows(q.window);
    const base = { operation_type: "comfyui_execution", instance: q.instance };
    if (!wins.length) return successView(await towerApi.successRate({ ...base, window: q.window }, c.opts));
    const answers = await Promise.all(wins.map((w) => towerApi.successRate({ ...base, window: w }, c.opts)));
    return { ...successView(answers[answers.length - 1]), series: seriesFromCumulative(wins, answers) };
  },
  durations: (q, c) => towerApi.durations({ window: q.window, instance: q.instance }, c.opts).then(durationsView),
  patterns: (q, c) => c.analysis().then(patternsView),
  errors: (q, c) => towerApi.errors({ window: q.window, limit: 50 }, c.opts).then(errorsView),
  quality: async (q, c) => {
    let summary = null;
    if (!c.missing.has("quality-summary")) {
      try {
        summary = await towerApi.qualitySummary({ window: q.window }, c.opts);
      } catch (exc) {
        if (exc?.status !== 404) throw exc;
        c.missing.add("quality-summary");
      }
    }
    const analysis = await c.analysis().catch((exc) => {
      if (!summary) throw exc;
      return null;
    });
    return qualityView(summary, analysis);
  },
  outputs: (q, c) => towerApi.history(12, c.opts).then((d) => outputsFromHistory(d, 6)),
};

function emptySection() {
  return { status: "idle", data: null, error: null, at: null };
}

export class TowerStore extends EventTarget {
  /**
   * @param {object} opts
   * @param {() => number} [opts.clock] milliseconds, injected for tests
   * @param {(id: string) => any} [opts.setting] reads a frontend setting
   */
  constructor({ clock = () => Date.now(), setting = () => undefined, minGapMs = 3000 } = {}) {
    super();
    this.clock = clock;
    this.setting = setting;
    this.minGapMs = minGapMs;
    this.window = WINDOWS.includes(setting("Tower.DefaultWindow")) ? setting("Tower.DefaultWindow") : "24h";
    this.instance = "";
    this.instances = new Set();
    this.sections = Object.fromEntries(SECTIONS.map((s) => [s, emptySection()]));
    this.liveBreakers = new Map();
    this.ratings = new Map();
    // Routes that answered 404 (an older server): not asked again until the user refreshes by hand.
    this.missing = new Set();
    this.isOpen = false;
    this.refreshing = false;
    this.lastRefreshAt = 0;
    this.refreshCount = 0;
    this._timer = null;
    this._pending = null;
    this._abort = null;
    this._wsApi = null;
    this._onOutcome = (ev) => this._outcome(ev.detail);
    this._onBreaker = (ev) => this._breaker(ev.detail);
  }

  /** Listen to the server's websocket events for the life of the page (toasts need them with the tab closed). */
  attach(wsApi) {
    if (this._wsApi) return;
    this._wsApi = wsApi;
    wsApi.addEventListener("tower.outcome", this._onOutcome);
    wsApi.addEventListener("tower.breaker", this._onBreaker);
  }

  detach() {
    if (!this._wsApi) return;
    this._wsApi.removeEventListener("tower.outcome", this._onOutcome);
    this._wsApi.removeEventListener("tower.breaker", this._onBreaker);
    this._wsApi = null;
  }

  /** The tab opened: refresh now and every `Tower.RefreshSeconds`. */
  open() {
    this.isOpen = true;
    this.requestRefresh({ now: true });
    this._schedulePoll();
  }

  /** The tab closed: no timers, no requests in flight. */
  close() {
    this.isOpen = false;
    clearTimeout(this._timer);
    clearTimeout(this._pending);
    this._timer = null;
    this._pending = null;
    this._abort?.abort();
    this._abort = null;
  }

  refreshSeconds() {
    const v = Number(this.setting("Tower.RefreshSeconds"));
    return Number.isFinite(v) && v >= 3 ? v : 15;
  }

  setWindow(w) {
    if (!WINDOWS.includes(w) || w === this.window) return;
    this.window = w;
    this._emit();
    this.requestRefresh({ now: true });
  }

  setInstance(id) {
    if (id === this.instance) return;
    this.instance = id || "";
    this._emit();
    this.requestRefresh({ now: true });
  }

  /** Ask for fresh data; bursts collapse into one refresh no sooner than `minGapMs` after the last one. */
  requestRefresh({ now = false, manual = false } = {}) {
    if (manual) this.missing.clear();
    if (!this.isOpen || this._pending) return;
    const wait = now && !this.refreshing ? 0 : Math.max(0, this.lastRefreshAt + this.minGapMs - this.clock());
    this._pending = setTimeout(() => {
      this._pending = null;
      if (this.refreshing) {
        this.requestRefresh();
        return;
      }
      this.refresh();
    }, wait);
  }

  _schedulePoll() {
    clearTimeout(this._timer);
    if (!this.isOpen) return;
    this._timer = setTimeout(() => {
      this.requestRefresh();
      this._schedulePoll();
    }, this.refreshSeconds() * 1000);
  }

  /** Load every section in parallel; each keeps its own error, so one failing route never hides the rest. */
  async refresh() {
    if (this.refreshing || !this.isOpen) return;
    this.refreshing = true;
    this.lastRefreshAt = this.clock();
    this.refreshCount += 1;
    const abort = new AbortController();
    this._abort = abort;
    const q = { window: this.window, instance: this.instance || undefined };
    const opts = { signal: abort.signal };
    let analysis = null;
    const ctx = { opts, missing: this.missing, analysis: () => (analysis ??= towerApi.failureAnalysis({ window: q.window, limit: 20 }, opts)) };
    for (const s of SECTIONS) {
      if (this.sections[s].status === "idle") this.sections[s].status = "loading";
    }
    this._emit();
    await Promise.all(SECTIONS.map(async (name) => {
      const sec = this.sections[name];
      if (this.missing.has(name)) return;
      try {
        const data = await LOADERS[name](q, ctx);
        Object.assign(sec, { status: "ok", data, error: null, at: this.clock() });
        this._noteInstances(name, data);
      } catch (exc) {
        if (exc?.name === "AbortError") return;
        const err = exc instanceof TowerApiError ? exc : new TowerApiError(0, "client_error", exc?.message || String(exc));
        if (err.status === 404 && name !== "patterns") this.missing.add(name);
        // A failed refresh keeps the last good data visible, marked stale by the error.
        Object.assign(sec, { status: "error", error: err, at: this.clock() });
      }
    }));
    this.refreshing = false;
    if (this._abort === abort) this._abort = null;
    if (this.isOpen) this._emit();
  }

  _noteInstances(name, data) {
    const before = this.instances.size;
    if (name === "health" && data.instanceId) this.instances.add(data.instanceId);
    if (name === "success") for (const i of data.instances) this.instances.add(i);
    if (this.instances.size !== before) this._emit();
  }

  /** Breakers from health and from tower.breaker events; for each name the newer report wins. */
  breakers() {
    const byName = new Map();
    const healthAt = this.sections.health.at || 0;
    for (const b of this.sections.health.data?.breakers || []) byName.set(b.name, { ...b, at: healthAt });
    for (const [name, b] of this.liveBreakers) {
      const known = byName.get(name);
      if (!known || b.at >= known.at) byName.set(name, { ...known, ...b });
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Rating an output: POST /tower/feedback; the stored rating shows next to the quality score. */
  async rate({ promptId, image, rating, issues = [], comment = "" }) {
    const key = ratingKey(promptId, image);
    const body = { prompt_id: promptId, rating, image: { filename: image.filename, subfolder: image.subfolder || "", type: image.type || "output" } };
    if (issues.length) body.issues = issues;
    if (comment) body.comment = comment;
    this.ratings.set(key, { rating, status: "saving", error: null });
    this._emit();
    try {
      await towerApi.feedback(body);
      this.ratings.set(key, { rating, status: "saved", error: null });
    } catch (exc) {
      this.ratings.set(key, { rating, status: "error", error: exc instanceof TowerApiError ? exc : new TowerApiError(0, "client_error", String(exc)) });
    }
    this._emit();
    this.requestRefresh();
  }

  ratingFor(promptId, image) {
    return this.ratings.get(ratingKey(promptId, image)) || null;
  }

  _outcome(detail) {
    if (!detail || typeof detail !== "object") return;
    this.dispatchEvent(new CustomEvent("outcome", { detail }));
    this.requestRefresh();
  }

  _breaker(detail) {
    const b = breakerView(detail);
    if (!b.name) return;
    this.liveBreakers.set(b.name, { ...b, at: this.clock() });
    this._emit();
  }

  _emit() {
    this.dispatchEvent(new Event("change"));
  }
}

export function ratingKey(promptId, image) {
  return `${promptId}|${image.type || "output"}|${image.subfolder || ""}|${image.filename}`;
}
