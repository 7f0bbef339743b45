"""Named SQL statements, one file each under ``sql/<dialect>/``; Python never formats values into SQL."""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["SQL_DIR", "sql", "migrations"]

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def sql(dialect: str, name: str) -> str:
    """The text of ``sql/<dialect>/<name>.sql``."""
    path = SQL_DIR / dialect / f"{name}.sql"
    return path.read_text(encoding="utf-8").strip().rstrip(";")


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    """``(version, name, text)`` for each ``sql/<dialect>/migrations/NNN_name.sql``, in order."""
    out = []
    for path in sorted((SQL_DIR / dialect / "migrations").glob("[0-9][0-9][0-9]_*.sql")):
        out.append((int(path.name[:3]), path.stem, path.read_text(encoding="utf-8")))
    return out
