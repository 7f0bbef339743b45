"""SQLite and PostgreSQL return identical answers for the same recorded events (every analytics call)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _analytics_events import history  # noqa: E402
from _pgdb import both_backends  # noqa: E402
from tower_sentinel.telemetry.analytics import Analytics  # noqa: E402

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)
DAY = 86400.0


@pytest.fixture(scope="module")
def both(tmp_path_factory, pg_admin):
    with both_backends(pg_admin, tmp_path_factory.mktemp("parity") / "t.db", history(NOW)) as (lite, pg):
        yield Analytics(lite, clock=lambda: NOW), Analytics(pg, clock=lambda: NOW)


@pytest.mark.pg
@pytest.mark.parametrize("call", [
    ("success_rate", (DAY,), {}),
    ("success_rate", (2 * DAY,), {"operation_type": "comfyui_execution", "instance": "host:8188"}),
    ("durations", (DAY,), {}),
    ("durations", (2 * DAY,), {"operation_type": "node_execution"}),
    ("errors", (7 * DAY,), {"limit": 200}),
    ("errors", (DAY,), {"category": "model_missing", "limit": 2}),
    ("failure_analysis", (DAY,), {}),
    ("failure_analysis", (7 * DAY,), {"limit": 2}),
    ("error", ("oom003-err",), {}),
    ("error", ("absent",), {}),
], ids=lambda c: f"{c[0]}{c[1]}{c[2]}")
def test_sqlite_and_postgresql_agree(both, call):
    """The same events give the same JSON from both backends (times, numbers, orderings, drivers, actions)."""
    lite, pg = both
    name, args, kwargs = call
    a, b = getattr(lite, name)(*args, **kwargs), getattr(pg, name)(*args, **kwargs)
    assert a == b
    assert a is None or a != {}


@pytest.mark.pg
def test_parity_is_not_vacuous(both):
    """The compared answers carry the patterns and drivers the history was built to produce."""
    lite, _ = both
    fa = lite.failure_analysis(DAY)
    assert len(fa["patterns"]) == 4 and fa["patterns"][0]["drivers"]
    assert fa["last_update"] is not None
