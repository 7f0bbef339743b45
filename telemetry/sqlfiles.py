"""Named SQL statements, one file each under ``sql/<dialect>/``; Python never formats values into SQL."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["SQL_DIR", "sql", "positional", "placeholder_names", "migrations"]

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def sql(dialect: str, name: str) -> str:
    """The text of ``sql/<dialect>/<name>.sql``."""
    path = SQL_DIR / dialect / f"{name}.sql"
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def placeholder_names(dialect: str, name: str) -> list[str]:
    """The ``:name`` placeholders of a statement, in order (what ``positional`` binds by position)."""
    return _NAMED.findall(sql(dialect, name))


@cache
def positional(dialect: str, name: str) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """``sql(dialect, name)`` with its ``:name`` placeholders turned into ``?``, and a C-speed getter that turns a
    row dict into the matching parameter tuple (the writer's hot loop: binding by position skips a dict lookup
    per column per row in sqlite3). For write statements without ``:`` inside literals."""
    text = sql(dialect, name)
    names = _NAMED.findall(text)
    getter = operator.itemgetter(*names)
    if len(names) == 1:
        return _NAMED.sub("?", text), lambda row: (getter(row),)
    return _NAMED.sub("?", text), getter


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    """``(version, name, text)`` for each ``sql/<dialect>/migrations/NNN_name.sql``, in order."""
    out = []
    for path in sorted((SQL_DIR / dialect / "migrations").glob("[0-9][0-9][0-9]_*.sql")):
        out.append((int(path.name[:3]), path.stem, path.read_text(encoding="utf-8")))
    return out
