"""Reliability: the error model, and surviving the services we call (Echo Brain, the Tower KB).

Public API (imported lazily, so ``from .reliability.errors import ...`` stays cheap and cannot fail on aiohttp):

- ``breaker``: ``CircuitBreaker``, ``BreakerConfig``, ``State``, ``StateChange``
- ``retry``: ``Retrying``, ``RetryPolicy``, ``is_retryable``
- ``clients``: ``EchoBrainClient``, ``KBClient``
- ``outbox``: ``OutboxWorker``, ``OutboxThread``, ``OutboxConfig``, ``MemoryOutboxStore``, ``default_senders``,
  ``failure_report_payload``; ``outbox_sqlite``: ``SQLiteOutboxStore``
- ``enhance``: ``enhance_prompt``, ``EnhanceResult``

See docs/reliability.md for the settings.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CircuitBreaker": "breaker", "BreakerConfig": "breaker", "State": "breaker", "StateChange": "breaker",
    "Retrying": "retry", "RetryPolicy": "retry", "is_retryable": "retry",
    "EchoBrainClient": "clients", "KBClient": "clients",
    "OutboxWorker": "outbox", "OutboxThread": "outbox", "OutboxConfig": "outbox", "MemoryOutboxStore": "outbox",
    "default_senders": "outbox", "failure_report_payload": "outbox",
    "SQLiteOutboxStore": "outbox_sqlite",
    "enhance_prompt": "enhance", "EnhanceResult": "enhance",
    "DependencyUnavailable": "errors", "EchoBrainError": "errors", "KBError": "errors", "TowerError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
