"""Test-wide setup: make the repository importable as the package ``tower_sentinel``.

The extension's folder in ``custom_nodes/`` may have any name and its modules import each other relatively, so
tests register the repository root as a package under a fixed name without executing its ``__init__.py`` (which
starts the extension inside ComfyUI).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if "tower_sentinel" not in sys.modules:
    _pkg = types.ModuleType("tower_sentinel")
    _pkg.__path__ = [str(ROOT)]  # type: ignore[attr-defined]
    _pkg.__file__ = str(ROOT / "__init__.py")
    sys.modules["tower_sentinel"] = _pkg
