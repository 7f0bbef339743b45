// Tower Sentinel's typed client for its own routes: the only module that calls api.fetchApi.
// Every call resolves to parsed JSON or throws a TowerApiError carrying the server's {error:{type,message}}.
import { api } from "../../../scripts/api.js";

export class TowerApiError extends Error {
  constructor(status, type, message, { retryAfter = null, body = null } = {}) {
    super(message);
    this.name = "TowerApiError";
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
    this.body = body;
  }

  /** A short line for the panel: "not available" for missing routes, the server's message otherwise. */
  get summary() {
    if (this.status === 404) return "not available on this server";
    if (this.status === 0) return `unreachable (${this.message})`;
    return `${this.status ? `HTTP ${this.status}: ` : ""}${this.message}`;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * Call a route and return its JSON. `accept` lists non-2xx statuses whose JSON body is still the answer
 * (health answers 503 with a full report when down).
 */
async function request(path, { method = "GET", body, params, accept = [], signal } = {}) {
  const init = { method, signal, cache: "no-store", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await api.fetchApi(path + query(params), init);
  } catch (exc) {
    if (exc?.name === "AbortError") throw exc;
    throw new TowerApiError(0, "network", exc?.message || String(exc));
  }
  const text = await resp.text().catch(() => "");
  let data;
  let parsed = true;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    parsed = false;
  }
  const retryAfter = resp.headers.get("Retry-After");
  if (!resp.ok && !accept.includes(resp.status)) {
    const err = parsed && data && typeof data === "object" ? data.error : null;
    const message = (err && typeof err.message === "string" && err.message) || resp.statusText || "request failed";
    throw new TowerApiError(resp.status, (err && typeof err.type === "string" && err.type) || "http_error",
      message, { retryAfter, body: parsed ? data : null });
  }
  if (!parsed || data === null || typeof data !== "object") {
    throw new TowerApiError(resp.status, "invalid_response", "the server's answer is not a JSON object");
  }
  return data;
}

export const towerApi = {
  health: (opts) => request("/tower/health", { accept: [503], ...opts }),
  successRate: (params, opts) => request("/tower/metrics/success-rate", { params, ...opts }),
  durations: (params, opts) => request("/tower/metrics/durations", { params, ...opts }),
  errors: (params, opts) => request("/tower/errors", { params, ...opts }),
  failureAnalysis: (params, opts) => request("/tower/learning/failure-analysis", { params, ...opts }),
  qualitySummary: (params, opts) => request("/tower/quality/summary", { params, ...opts }),
  generation: (promptId, opts) => request(`/tower/generations/${encodeURIComponent(promptId)}`, opts),
  history: (maxItems, opts) => request("/history", { params: { max_items: maxItems }, ...opts }),
  feedback: (body, opts) => request("/tower/feedback", { method: "POST", body, ...opts }),
  /** URL of a ComfyUI output/temp image for an <img> (served by ComfyUI's /view). */
  imageUrl(image) {
    return api.apiURL(`/view${query({ filename: image.filename, subfolder: image.subfolder || "", type: image.type || "output" })}`);
  },
};
