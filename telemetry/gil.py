"""Handing Python's GIL to ComfyUI's threads from our background threads.

Inside ComfyUI our threads share the GIL with the event loop and the prompt worker. A long pure-Python stretch of
ours (building a batch's events and rows) makes them wait for the GIL up to the interpreter's switch interval
(5 ms) each time they want it, which for ComfyUI's short requests costs far more than the CPU we use. A "polite"
loop calls ``pause()`` every ``EVERY`` items: the short sleep hands the GIL over at once.
"""

from __future__ import annotations

import time

__all__ = ["EVERY", "LISTENER_SLICE", "pause"]

EVERY = 8
LISTENER_SLICE = 32
SLEEP_S = 0.0001


def pause() -> None:
    time.sleep(SLEEP_S)
