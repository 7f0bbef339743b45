"""One real ComfyUI with Tower Sentinel and the testing node pack, shared by the tests in tests/comfy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import ComfyServer  # noqa: E402


@pytest.fixture(scope="session")
def comfy():
    server = ComfyServer().start()
    try:
        yield server
    finally:
        server.stop()
