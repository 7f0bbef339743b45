"""Optional components, each ``plug(runtime, server)``; a failing one is reported in health, the rest go on."""

from __future__ import annotations

PLUGINS: list = []
