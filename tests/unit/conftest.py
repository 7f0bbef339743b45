"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
from tower_sentinel.telemetry import context

from ._recorders import FakeRecorder


@pytest.fixture()
def rec():
    """A recorder that keeps what the code under test emits; the process-wide hooks are reset afterwards."""
    r = FakeRecorder()
    context.set_recorder(r)
    yield r
    context.set_recorder(None)
    context.set_current_prompt(None)
    context.set_prompt_provider(None)
