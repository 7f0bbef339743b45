"""Structured logs: JSON lines rendered by structlog's stdlib formatter, on our own logger only.

``tower_sentinel`` log records keep propagating to ComfyUI's console as usual; a file handler on that logger
writes the same records as JSON (with their ``extra`` context: correlation id, prompt id, ...) to
``<data dir>/tower_sentinel.log.jsonl``. No global logging configuration is touched. Values under secret-looking
keys are masked before rendering.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from .events import _ts

__all__ = ["install_json_log", "redact", "write_json_lines"]

_SECRET = re.compile(r"passw|secret|token|api_?key|authorization|dsn", re.IGNORECASE)


_SECRET_KEYS: dict[str, bool] = {}  # key -> secret-looking, memoized (log keys repeat; the regex per key did not)


def redact(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    known = _SECRET_KEYS
    for key in list(event_dict):
        secret = known.get(key)
        if secret is None:
            secret = bool(_SECRET.search(key)) if isinstance(key, str) else False
            if len(known) < 4096:
                known[key] = secret
        if secret:
            event_dict[key] = "***"
    return event_dict


def _rotate_at_start(path: Path, max_bytes: int, keep: int = 3) -> None:
    """Rotate a JSON log that grew past ``max_bytes`` (checked once per start, never per record)."""
    try:
        if not path.exists() or path.stat().st_size < max_bytes:
            return
        for i in range(keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{i + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))
    except OSError:
        pass


_handler: logging.FileHandler | None = None
_renderer: Any = None
def _now_iso() -> str:
    """The current UTC time as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it."""
    return _ts(time.time()).replace(" ", "T") + "Z"


def write_json_lines(event: str, level: str, records: list[dict[str, Any]]) -> bool:
    """Append one JSON line per record to the JSON log in one write, rendered by the same structlog renderer as
    the logger's lines (same keys: event, level, logger, timestamp, then the record). For the per-prompt lines the
    recorder writes after each commit: going through ``logging`` per line (and ComfyUI's console) cost more than
    recording the prompt. False when no JSON log is installed (the caller then logs normally)."""
    handler, renderer = _handler, _renderer
    if handler is None or renderer is None:
        return False
    ts = _now_iso()
    lines = []
    for rec in records:
        d = {"event": event, "level": level, "logger": "tower_sentinel", "timestamp": ts}
        d.update(rec)
        lines.append(renderer(None, level, redact(None, level, d)))
    handler.acquire()
    try:
        stream = handler.stream
        if stream is None:
            return False
        stream.write("\n".join(lines) + "\n")
        stream.flush()
    finally:
        handler.release()
    return True


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
    _rotate_at_start(Path(path), max_bytes)
    # a plain FileHandler: RotatingFileHandler stats the file on every record, which showed up on the hot path
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(formatter)
    handler._tower_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    global _handler, _renderer
    encode = json.JSONEncoder(default=repr).encode  # built once: json.dumps(default=...) builds one per line
    _handler, _renderer = handler, structlog.processors.JSONRenderer(serializer=lambda obj, **_kw: encode(obj))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler
