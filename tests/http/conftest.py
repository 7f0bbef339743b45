"""Route handlers on a bare aiohttp app: a fake runtime over a real SQLiteStore, and a way to fake the peer.

A request carrying ``X-Test-Remote: 203.0.113.5`` is seen by the handlers as coming from that address (a tiny
middleware clones the request with ``remote=``); without it the peer is the test client's loopback.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

from _analytics_events import history  # noqa: E402
from _app import FakeRuntime, make_app  # noqa: E402
from tower_sentinel.telemetry.store import SQLiteStore  # noqa: E402


@pytest.fixture(scope="session")
def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def store(tmp_path, now):
    s = SQLiteStore(tmp_path / "tower.db")
    s.write_batch(history(now))
    yield s
    s.close()


@pytest.fixture
def rt(store):
    return FakeRuntime(store)


@pytest.fixture
async def client(aiohttp_client, rt):
    return await aiohttp_client(make_app(rt))
