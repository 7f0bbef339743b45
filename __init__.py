"""Tower Sentinel: a ComfyUI extension that records every prompt's fate, explains failures, scores images and
keeps the studio's services from breaking generation.

ComfyUI imports this package from ``custom_nodes/``. It exports the V1 node mappings (``NODE_CLASS_MAPPINGS``,
``NODE_DISPLAY_NAME_MAPPINGS``) and ``WEB_DIRECTORY``, and starts the extension. Starting never raises: a failure
logs one line and leaves ComfyUI running (health then says why).
"""

from __future__ import annotations

import logging

from ._version import __version__

log = logging.getLogger("tower_sentinel")

WEB_DIRECTORY = "./web"
NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}

try:
    from .nodes import NODE_CLASS_MAPPINGS as _NODES
    from .nodes import NODE_DISPLAY_NAME_MAPPINGS as _NAMES

    NODE_CLASS_MAPPINGS.update(_NODES)
    NODE_DISPLAY_NAME_MAPPINGS.update(_NAMES)
except Exception as _exc:  # noqa: BLE001 - a broken node module must not stop the rest
    log.error("tower.nodes.load_failed: %r", _exc)

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY", "__version__"]


def _start() -> None:
    try:
        from server import PromptServer
    except ImportError:
        return  # imported outside a ComfyUI server (tests, tools)
    if getattr(PromptServer, "instance", None) is None:
        return
    try:
        from .bootstrap import start

        start(PromptServer.instance, __version__)
    except Exception as exc:  # noqa: BLE001
        log.error("tower.start_failed: Tower Sentinel could not start (%s: %s); ComfyUI runs without it",
                  type(exc).__name__, exc)


_start()
