"""Prometheus metrics from our own ``CollectorRegistry`` (never the process-wide default).

Event-driven series (prompt outcomes, operations, duration histograms) are updated by a recorder listener, so they
count only what is already committed. State series (breakers, spool, recorder queue, health checks) are read at
scrape time from the components' ``get_stats()``/health checks by a custom collector. prometheus_client is
imported lazily: without it the extension still runs and the route answers 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .events import Event, OperationEvent, PromptEvent

__all__ = ["TowerMetrics", "ensure", "plug", "BREAKER_STATES"]

TERMINAL = ("success", "error", "interrupted", "crashed", "rejected", "cancelled")
BREAKER_STATES = ("closed", "open", "half_open", "disabled", "forced_open")
_HEALTH_VALUE = {"ok": 0, "degraded": 1, "down": 2}
PROMPT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
NODE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_lock = threading.Lock()


class TowerMetrics:
    """The extension's Prometheus registry; ``observe(events)`` is the recorder listener."""

    def __init__(self, *, health: Callable[[], dict[str, Any]] = lambda: {"checks": {}},
                 breakers: Callable[[], dict[str, Any]] = dict,
                 recorder: Callable[[], dict[str, Any]] | None = None, max_node_classes: int = 200) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.outcomes = Counter("tower_prompt_outcomes", "Finished prompts by status and error category",
                                ["status", "category"], registry=self.registry)
        self.operations = Counter("tower_operations", "Recorded operations by type and success",
                                  ["operation_type", "success"], registry=self.registry)
        self.prompt_seconds = Histogram("tower_prompt_execution_seconds", "Prompt execution time",
                                        buckets=PROMPT_BUCKETS, registry=self.registry)
        self.wait_seconds = Histogram("tower_prompt_queue_wait_seconds", "Time a prompt waited in the queue",
                                      buckets=WAIT_BUCKETS, registry=self.registry)
        self.node_seconds = Histogram("tower_node_execution_seconds", "Node execution time (not cached)",
                                      ["node_class"], buckets=NODE_BUCKETS, registry=self.registry)
        self._node_classes: set[str] = set()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._max_node_classes = max_node_classes
        self._health, self._breakers, self._recorder = health, breakers, recorder
        self.registry.register(_StateCollector(self))

    def _node_label(self, cls: str | None) -> str:
        name = (cls or "unknown")[:120]
        if name in self._node_classes:
            return name
        if len(self._node_classes) >= self._max_node_classes:
            return "other"
        self._node_classes.add(name)
        return name

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)`` memoized: labels() takes a lock and builds a key on every call."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, events: Sequence[Event]) -> None:
        for ev in events:
            kind = type(ev)
            if kind is PromptEvent:
                if ev.status not in TERMINAL:
                    continue
                self._child(self.outcomes, ev.status, ev.category or "none").inc()
                if ev.execution_seconds is not None and ev.execution_seconds >= 0:
                    self.prompt_seconds.observe(ev.execution_seconds)
                if ev.queue_wait_seconds is not None and ev.queue_wait_seconds >= 0:
                    self.wait_seconds.observe(ev.queue_wait_seconds)
            elif kind is OperationEvent:
                success = "unknown" if ev.success is None else ("true" if ev.success else "false")
                self._child(self.operations, ev.operation_type, success).inc()
                if ev.operation_type == "node_execution" and not ev.cached:
                    seconds = ev.duration()
                    if seconds is not None and seconds >= 0:
                        self._child(self.node_seconds, self._node_label(ev.node_class)).observe(seconds)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _StateCollector:
    """Scrape-time gauges from breakers, the spool, the recorder and the health checks."""

    def __init__(self, metrics: TowerMetrics) -> None:
        self.m = metrics

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        state = GaugeMetricFamily("tower_breaker_state", "1 for the breaker's current state", labels=["name", "state"])
        opened = GaugeMetricFamily("tower_breaker_open", "1 while the breaker is open", labels=["name"])
        for name, br in sorted((self.m._breakers() or {}).items()):
            try:
                s = str(br.get_stats().get("state", "closed")).lower()
            except Exception:  # noqa: BLE001 - a broken breaker must not break the scrape
                continue
            for st in BREAKER_STATES:
                state.add_metric([name, st], 1.0 if s == st else 0.0)
            opened.add_metric([name], 1.0 if s in ("open", "forced_open") else 0.0)
        yield state
        yield opened

        checks = (self.m._health() or {}).get("checks", {})
        health = GaugeMetricFamily("tower_health_status", "0 ok, 1 degraded, 2 down", labels=["check"])
        for name, check in sorted(checks.items()):
            health.add_metric([name], float(_HEALTH_VALUE.get(check.get("status", "ok"), 1)))
        yield health
        spool = checks.get("spool") or {}
        yield GaugeMetricFamily("tower_spool_depth", "Events waiting to be shipped to PostgreSQL",
                                value=float(spool.get("depth") or 0))
        yield CounterMetricFamily("tower_spool_dropped", "Events dropped because the spool was full",
                                  value=float(spool.get("dropped") or 0))
        rec = self.m._recorder() if self.m._recorder else {}
        yield GaugeMetricFamily("tower_recorder_queue_depth", "Events waiting for the writer thread",
                                value=float(rec.get("queue_depth") or 0))
        yield CounterMetricFamily("tower_recorder_dropped", "Events dropped because the recorder queue was full",
                                  value=float(rec.get("dropped") or 0))


def ensure(rt: Any) -> TowerMetrics:
    """The runtime's metrics, created (and subscribed to the recorder) on first use."""
    with _lock:
        m = rt.components.get("metrics")
        if m is None:
            m = TowerMetrics(health=rt.health, breakers=lambda: rt.components.get("breakers") or {},
                             recorder=rt.recorder.get_stats)
            rt.components["metrics"] = m
            rt.recorder.add_listener(m.observe)
        return m


def plug(rt: Any, server: Any) -> None:
    ensure(rt)
