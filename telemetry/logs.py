"""Structured logs: JSON lines rendered by structlog's stdlib formatter, on our own logger only.

``tower_sentinel`` log records keep propagating to ComfyUI's console as usual; a file handler on that logger
writes the same records as JSON (with their ``extra`` context: correlation id, prompt id, ...) to
``<data dir>/tower_sentinel.log.jsonl``. No global logging configuration is touched. Values under secret-looking
keys are masked before rendering.
"""

from __future__ import annotations

import logging
import re
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

__all__ = ["install_json_log", "redact"]

_SECRET = re.compile(r"passw|secret|token|api_?key|authorization|dsn", re.IGNORECASE)


def redact(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if _SECRET.search(key):
            event_dict[key] = "***"
    return event_dict


def install_json_log(path: str | Path, *, max_bytes: int = 20 * 1024 * 1024) -> logging.Handler | None:
    try:
        import structlog
    except ImportError:
        return None
    logger = logging.getLogger("tower_sentinel")
    for h in logger.handlers:
        if getattr(h, "_tower_json", False):
            return h
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
            redact,
        ],
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=3, encoding="utf-8")
    handler.setFormatter(formatter)
    handler._tower_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler
