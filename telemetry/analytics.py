"""Analytics over the recorded events: success rates, durations, common errors and failure patterns.

Every number comes from named queries (``sql/<dialect>/analytics_*.sql``) run through the store's
``query(name, params)``, so SQLite and PostgreSQL give the same answers: SQL does the filtering and grouping,
Python does what dialects disagree on (percentile interpolation, string ordering, rounding). Percentiles are
``PERCENTILE_CONT``: a durations query reads its covering index once and returns each group's values as one
text list (no sort, no window functions in SQL; SQLite's REAL to text keeps 15 significant digits, PostgreSQL's
all of them: equal once rounded to the answers' 6 decimals); numpy sorts them and ``_percentile`` interpolates.
Failure patterns add what SQL cannot: trends, "new since the last update", input drivers and a suggested action
(``drivers`` and ``actions`` modules). Times in answers are ISO 8601 UTC with a ``Z``.
"""

from __future__ import annotations

import json
import math
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from .actions import recommendation, suggest_action
from .drivers import DriverIndex, sample_features

__all__ = ["Analytics", "iso", "db_ts"]

MAX_PROMPT_SAMPLE = 2_000
MAX_PATTERNS = 50
MAX_NODE_CLASSES = 100
_NDIGITS = 6


def db_ts(dt: datetime) -> str:
    """A UTC datetime as the stored text form ('YYYY-MM-DD HH:MM:SS.ffffff'), the queries' time parameter."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.isoformat(sep=" ", timespec="microseconds")


def iso(value: Any) -> str | None:
    """A stored timestamp (text or datetime) as ISO 8601 UTC with a 'Z'."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.isoformat(timespec="microseconds") + "Z"


def _r(x: Any) -> float | None:
    return None if x is None else round(float(x), _NDIGITS)


def _percentile(ranks: Any, n: int, p: float) -> float:
    """PERCENTILE_CONT(p) of ``n`` sorted values (0-based ``ranks[i]``): linear between the ranks around p*(n-1)."""
    h = p * (n - 1)
    lo = math.floor(h)
    a = float(ranks[lo])
    if lo + 1 >= n:
        return a
    return a + (h - lo) * (float(ranks[lo + 1]) - a)


def _values(text: Any) -> Any:
    """A comma-separated list of durations (a durations query's aggregate) as a float array (None when empty)."""
    if not text:
        return None
    return np.array(str(text).split(","), dtype=np.float64)


def _merged(arrays: list[Any]) -> Any:
    """Value arrays of one group, merged and sorted."""
    arr = np.concatenate(arrays) if len(arrays) > 1 else arrays[0].copy()
    arr.sort()
    return arr


def _summary(values: Any) -> dict[str, Any]:
    """count, avg, p50, p95 and max of sorted values (None or empty: the empty summary).

    The mean is ``math.fsum`` (exactly rounded, independent of the order rows came in)."""
    if values is None or not len(values):
        return dict(_EMPTY_SUMMARY)
    n = len(values)
    return {"count": n, "avg": _r(math.fsum(values.tolist()) / n), "p50": _r(_percentile(values, n, 0.5)),
            "p95": _r(_percentile(values, n, 0.95)), "max": _r(values[-1])}


_EMPTY_SUMMARY = {"count": 0, "avg": None, "p50": None, "p95": None, "max": None}


class Analytics:
    """Read-only analytics over a store with ``query(name, params)`` (SQLiteStore or PostgresStore)."""

    def __init__(self, store: Any, *, clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 prompt_sample: int = MAX_PROMPT_SAMPLE) -> None:
        self.store = store
        self.clock = clock
        self.prompt_sample = prompt_sample

    def _window(self, window_s: float) -> tuple[datetime, datetime]:
        until = self.clock()
        return until - timedelta(seconds=window_s), until

    @staticmethod
    def _head(window: str | None, since: datetime, until: datetime) -> dict[str, Any]:
        return {"window": window, "since": iso(since), "until": iso(until)}

    # --- success rate -----------------------------------------------------------------------------------------
    def success_rate(self, window_s: float, *, window: str | None = None, operation_type: str | None = None,
                     instance: str | None = None) -> dict[str, Any]:
        since, until = self._window(window_s)
        rows = self.store.query("analytics_success_rate", {"since": db_ts(since), "until": db_ts(until),
                                                           "operation_type": operation_type, "instance": instance})
        types = []
        total = ok = 0
        for row in sorted(rows, key=lambda r: r["operation_type"]):
            t, s = int(row["total_operations"]), int(row["successful_operations"] or 0)
            total, ok = total + t, ok + s
            types.append({"operation_type": row["operation_type"], "total_operations": t,
                          "successful_operations": s, "failed_operations": t - s,
                          "success_rate_percent": round(100.0 * s / t, 2) if t else None})
        return {**self._head(window, since, until), "operation_types": types,
                "overall": {"total_operations": total, "successful_operations": ok,
                            "success_rate_percent": round(100.0 * ok / total, 2) if total else None}}

    # --- durations --------------------------------------------------------------------------------------------
    def durations(self, window_s: float, *, window: str | None = None, operation_type: str | None = None,
                  instance: str | None = None) -> dict[str, Any]:
        since, until = self._window(window_s)
        p = {"since": db_ts(since), "until": db_ts(until), "operation_type": operation_type, "instance": instance}
        _STATS.ensure(self.store)
        by_op: dict[str, list[Any]] = {}
        by_node: dict[str, list[Any]] = {}
        cached: Counter[str] = Counter()
        for r in self.store.query("analytics_durations", p):
            op, vals, cvals = r["op"], _values(r["vals"]), _values(r["cached_vals"])
            if operation_type is None or op == operation_type:
                by_op.setdefault(op, []).extend(v for v in (vals, cvals) if v is not None)
            if op == "node_execution":
                cls = r["node_class"] if r["node_class"] is not None else "?"
                if vals is not None:
                    by_node.setdefault(cls, []).append(vals)
                if int(r["n_cached"] or 0):
                    cached[cls] += int(r["n_cached"])
        ops = {k: _summary(_merged(v)) for k, v in by_op.items() if v}
        nodes = {k: _summary(_merged(v)) for k, v in by_node.items()}
        rows = self.store.query("analytics_durations_prompts", p)
        prompts = {}
        for k in ("queue_wait", "execution"):
            vals = _values(rows[0][k] if rows else None)
            prompts[k] = _summary(None if vals is None else _merged([vals]))
        node_rows = []
        for cls in set(nodes) | set(cached):
            s = nodes.get(cls, _EMPTY_SUMMARY)
            node_rows.append({"node_class": cls, "count": s["count"], "cached": cached.get(cls, 0),
                              **{k: s[k] for k in ("avg", "p50", "p95", "max")}})
        node_rows.sort(key=lambda r: (-(r["avg"] or 0.0) * r["count"], r["node_class"]))
        return {**self._head(window, since, until),
                "operation_types": [{"operation_type": k, **ops[k]} for k in sorted(ops)],
                "node_classes": node_rows[:MAX_NODE_CLASSES],
                "prompts": prompts}

    # --- errors -----------------------------------------------------------------------------------------------
    def error_categories(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        rows = self.store.query("analytics_error_categories", {"since": db_ts(since), "until": db_ts(until)})
        out = [{"category": r["category"], "severity": r["severity"], "frequency": int(r["frequency"])} for r in rows]
        out.sort(key=lambda r: (-r["frequency"], r["category"], r["severity"]))
        return out

    def errors(self, window_s: float, *, window: str | None = None, limit: int = 50, category: str | None = None,
               severity: str | None = None) -> dict[str, Any]:
        since, until = self._window(window_s)
        recent = self.store.query("analytics_recent_errors", {
            "since": db_ts(since), "until": db_ts(until), "category": category, "severity": severity,
            "limit": int(limit)})
        for r in recent:
            r["timestamp"] = iso(r["timestamp"])
            r["resolved"] = bool(r.get("resolved"))
        return {**self._head(window, since, until), "categories": self.error_categories(since, until),
                "recent": recent}

    def error(self, error_id: str) -> dict[str, Any] | None:
        rows = self.store.query("get_error", {"error_id": error_id})
        if not rows:
            return None
        row = dict(rows[0])
        row["timestamp"] = iso(row.get("timestamp"))
        row["resolved"] = bool(row.get("resolved"))
        row.pop("id", None)
        row.pop("created_at", None)  # the database's insert time: differs between backends, says nothing
        return row

    # --- failure analysis -------------------------------------------------------------------------------------
    def failure_analysis(self, window_s: float, *, window: str | None = None, limit: int = 20) -> dict[str, Any]:
        since, until = self._window(window_s)
        prev_since = since - timedelta(seconds=window_s)
        p = {"since": db_ts(since), "until": db_ts(until), "prev_since": db_ts(prev_since)}
        _STATS.ensure(self.store)

        statuses = {r["status"]: int(r["prompts"]) for r in self.store.query("analytics_prompt_outcomes", p)}
        total = sum(statuses.values())
        failed = sum(v for k, v in statuses.items() if k in ("error", "rejected", "crashed"))

        rows = self.store.query("analytics_patterns", p)
        rows = sorted(rows, key=lambda r: (-int(r["count"]), _neg_ts(r["last_seen"]), r["fingerprint"]))[:limit]
        first_ever = {r["fingerprint"]: r["first_seen_ever"] for r in self.store.query("analytics_pattern_first_seen", p)}
        update, pairs = self._last_update(p)
        index = _SAMPLES.index(self.store, p, self.prompt_sample) if rows else DriverIndex([])

        patterns = []
        for row in rows:
            fp = row["fingerprint"]
            count, prev = int(row["count"]), int(row["previous_count"] or 0)
            ever = first_ever.get(fp, row["first_seen"])
            drivers = index.drivers(fp)
            ex_row = self._example_row(fp, p)
            if ex_row is not None:
                parts = ex_row  # the fingerprint hashes exception type, node class and template: one row has them
            elif fp.startswith("category="):
                got = self.store.query("analytics_pattern_unfingerprinted", {**p, "category": row["category"]})
                parts = got[0] if got else {}
            else:
                parts = {}
            pattern = {
                "fingerprint": fp, "category": row["category"], "severity": row["severity"],
                "exception_type": parts.get("exception_type"), "node_class": parts.get("node_class"),
                "template": parts.get("template"), "count": count, "prompts_affected": int(row["prompts_affected"] or 0),
                "first_seen": iso(row["first_seen"]), "last_seen": iso(row["last_seen"]),
                "first_seen_ever": iso(ever), "previous_count": prev, **_trend(count, prev),
                "new_since_update": bool(update and ever is not None and str(ever) >= update["_at_raw"]),
                "introduced_in": _pair_at(pairs, ever), "drivers": drivers, "example": _example(ex_row),
            }
            pattern["suggested_action"] = suggest_action(pattern)
            patterns.append(pattern)

        categories: Counter[str] = Counter()
        for c in self.error_categories(since, until):
            categories[c["category"]] += c["frequency"]
        if update:
            update = {k: v for k, v in update.items() if not k.startswith("_")}
        return {
            **self._head(window, since, until),
            "prompts": {"total": total, "failed": failed, "failure_rate": _r(failed / total) if total else None,
                        "by_status": dict(sorted(statuses.items()))},
            "error_categories": [{"category": k, "frequency": v}
                                 for k, v in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))],
            "last_update": update,
            "patterns": patterns,
            "quality": self._quality(p),
            "feedback": self._feedback(p),
            "recommendations": [recommendation(pt) for pt in patterns[:10]],
        }

    def _last_update(self, p: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, dict[str, Any]]]]:
        """The latest version change before ``until``: the first sighting of the newest version pair."""
        spans = _VERSIONS.spans(self.store, p["until"])
        pairs = sorted(((first, {"comfyui_version": cv, "extension_version": ev}, last)
                        for (cv, ev), (first, last) in spans.items()), key=lambda t: (t[0], str(t[1])))
        timeline = [(first, pair) for first, pair, _last in pairs]
        if len(pairs) < 2:
            return None, timeline
        current = max(pairs, key=lambda t: (t[2], t[0]))
        older = [t for t in pairs if t[0] < current[0]]
        if not older:
            return None, timeline
        prev = max(older, key=lambda t: (t[2], t[0]))
        return {"at": iso(current[0]), "_at_raw": current[0], "from": prev[1], "to": current[1]}, timeline

    def _example_row(self, fingerprint: str, p: dict[str, Any]) -> dict[str, Any] | None:
        rows = self.store.query("analytics_pattern_example", {**p, "fingerprint": fingerprint})
        return rows[0] if rows else None

    def _quality(self, p: dict[str, Any]) -> dict[str, Any]:
        rows = self.store.query("analytics_quality_summary", p)
        r = rows[0] if rows else {}
        n = int(r.get("n") or 0)
        gated = int(r.get("n_gated") or 0)
        flags: Counter[str] = Counter()
        for row in self.store.query("analytics_quality_flags", {**p, "limit": MAX_PROMPT_SAMPLE}):
            if isinstance(row.get("flags"), list):
                flags.update(str(f) for f in row["flags"])
        return {"count": n, "avg_score": _r(r.get("avg_score")) if n else None,
                "pass_rate": _r(int(r.get("n_passed") or 0) / gated) if gated else None,
                "top_flags": [{"flag": k, "count": v} for k, v in _top(flags)]}

    def _feedback(self, p: dict[str, Any]) -> dict[str, Any]:
        ratings = {str(i): 0 for i in range(1, 6)}
        n = total = 0
        for r in self.store.query("analytics_feedback_ratings", p):
            c, rating = int(r["n"]), int(r["rating"])
            ratings[str(rating)] = ratings.get(str(rating), 0) + c
            n, total = n + c, total + rating * c
        issues: Counter[str] = Counter()
        for row in self.store.query("analytics_feedback_issues", {**p, "limit": MAX_PROMPT_SAMPLE}):
            if isinstance(row.get("issues"), list):
                issues.update(str(i) for i in row["issues"])
        return {"count": n, "avg_rating": _r(total / n) if n else None, "ratings": ratings,
                "top_issues": [{"issue": k, "count": v} for k, v in _top(issues)]}


class _VersionHistory:
    """Per store: each version pair's first and last sighting, scanned once and then only for newer rows.

    Versions change on restarts, so re-reading all history on every analysis would be waste; a watermark keeps
    the scan to the rows recorded since the previous call (both tables are indexed on their time column).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_store: weakref.WeakKeyDictionary[Any, tuple[str, dict[tuple[Any, Any], tuple[str, str]]]] = \
            weakref.WeakKeyDictionary()

    def spans(self, store: Any, until: str) -> dict[tuple[Any, Any], tuple[str, str]]:
        with self._lock:
            mark, spans = self._by_store.get(store, (_EPOCH, {}))
        if until <= mark:  # an older question (tests, fixed clocks): answer it from scratch
            mark, spans = _EPOCH, {}
        spans = dict(spans)
        for r in store.query("analytics_version_history", {"from_ts": mark, "until": until}):
            key = (r["comfyui_version"], r["extension_version"])
            first, last = str(r["first_seen"]), str(r["last_seen"])
            if key in spans:
                first, last = min(first, spans[key][0]), max(last, spans[key][1])
            spans[key] = (first, last)
        with self._lock:
            try:
                self._by_store[store] = (until, spans)
            except TypeError:  # not weak-referenceable: no caching
                pass
        return spans


class _PromptSamples:
    """Per store: the input drivers' index over the latest finished prompts, and each prompt's parsed features.

    Each analysis reads only the sample's (prompt id, fingerprint) list; inputs are fetched, parsed and turned into
    features only for prompts not seen by the previous analysis (a prompt's inputs are recorded when it is queued
    and do not change), and an unchanged sample reuses the index outright.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_store: weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], dict[str, Any], DriverIndex]] = \
            weakref.WeakKeyDictionary()

    def index(self, store: Any, p: dict[str, Any], limit: int) -> DriverIndex:
        rows = store.query("analytics_prompt_sample", {**p, "limit": limit})
        key = tuple((str(r["prompt_id"]), r["fingerprint"]) for r in rows)
        with self._lock:
            cached = self._by_store.get(store)
        if cached is not None and cached[0] == key:
            return cached[2]
        known = cached[1] if cached is not None else {}
        feats = {pid: known[pid] for pid, _fp in key if pid in known}
        missing = [pid for pid, _fp in key if pid not in feats]
        for i in range(0, len(missing), _ID_CHUNK):
            chunk = missing[i:i + _ID_CHUNK]
            for r in store.query("analytics_prompt_inputs_of", {"ids": json.dumps(chunk)}):
                inputs = r.get("inputs")
                feats[str(r["prompt_id"])] = sample_features(inputs) if isinstance(inputs, dict) else None
        index = DriverIndex([], features=[(feats[pid], fp) for pid, fp in key if feats.get(pid) is not None])
        with self._lock:
            try:
                self._by_store[store] = (key, feats, index)
            except TypeError:  # not weak-referenceable: no caching
                pass
        return index


class _PlannerStats:
    """Per store, at most once an hour: refresh the planner's statistics (a sampled ANALYZE on SQLite, a no-op on
    PostgreSQL, where autovacuum does it). SQLite plans the skip-scans over the group-ordered analytics indexes
    only with statistics; without them the same queries read whole indexes. Failures (a busy writer) are ignored:
    the next hour tries again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._at_by_id: dict[int, float] = {}

    def ensure(self, store: Any, every_s: float = 3600.0) -> None:
        now = time.monotonic()
        with self._lock:
            try:
                last = self._at.get(store)
            except TypeError:
                last = self._at_by_id.get(id(store))
            if last is not None and now - last < every_s:
                return
            try:
                self._at[store] = now
            except TypeError:
                self._at_by_id[id(store)] = now
        try:
            self.store_stats(store)
        except Exception:  # noqa: BLE001 - statistics are an optimisation; the queries are right without them
            pass

    @staticmethod
    def store_stats(store: Any) -> None:
        store.query("analytics_stats_limit")
        store.query("analytics_stats")


_ID_CHUNK = 500
_EPOCH = "0001-01-01 00:00:00.000000"
_VERSIONS = _VersionHistory()
_SAMPLES = _PromptSamples()
_STATS = _PlannerStats()


def _example(r: dict[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"error_id": r["error_id"], "prompt_id": r["prompt_id"], "timestamp": iso(r["timestamp"]),
            "message": r["message"], "node_id": r["node_id"],
            "inputs": r["inputs"] if isinstance(r.get("inputs"), dict) else None}


def _top(counter: Counter[str], n: int = 10) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _neg_ts(value: Any) -> tuple[int, ...]:
    """A sort key putting later timestamps first."""
    return tuple(-ord(c) for c in str(value))


def _trend(count: int, prev: int) -> dict[str, Any]:
    if prev == 0:
        return {"trend": "new", "change_percent": None}
    change = 100.0 * (count - prev) / prev
    trend = "rising" if change >= 25 else "falling" if change <= -25 else "steady"
    return {"trend": trend, "change_percent": round(change, 1)}


def _pair_at(timeline: list[tuple[str, dict[str, Any]]], when: Any) -> dict[str, Any] | None:
    """The version pair that was newest at ``when`` (the latest pair first seen at or before it)."""
    if when is None:
        return None
    current = None
    for first, pair in timeline:
        if first <= str(when):
            current = pair
    return current
