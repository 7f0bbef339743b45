"""Overhead on a real ComfyUI (issue 3): trivial prompts through a server with Tower Sentinel vs a bare one.

Both servers run side by side from the same runtime; batches of 25 prompts alternate between them so machine
noise hits both alike. Throughput = prompts / wall time from POST to the last prompt's history entry.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _report import write_section  # noqa: E402
from harness import ComfyServer, Graph  # noqa: E402

TOTAL = 500
BATCH = 25


def trivial(i: int) -> dict:
    g = Graph()
    g.add("TowerTestSucceed", value=i)
    return g.prompt()


def run_batch(server: ComfyServer, start: int) -> float:
    t0 = time.perf_counter()
    ids = [server.queue(trivial(start + i)).json()["prompt_id"] for i in range(BATCH)]
    last = ids[-1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.get(f"/history/{last}").json():
            break
        time.sleep(0.005)
    return time.perf_counter() - t0


def main() -> None:
    bare = ComfyServer(with_extension=False).start()
    ours = ComfyServer().start()
    try:
        for s in (bare, ours):  # warm-up
            run_batch(s, 10_000_000)
        t_bare = t_ours = 0.0
        i = 0
        while i < TOTAL:
            t_bare += run_batch(bare, i)
            t_ours += run_batch(ours, i)
            i += BATCH
    finally:
        bare.stop()
        ours.stop()
    tp_bare, tp_ours = TOTAL / t_bare, TOTAL / t_ours
    ratio = tp_ours / tp_bare
    body = f"""## Overhead on a real ComfyUI (issue 3)

| server | {TOTAL} trivial prompts | throughput |
|---|---|---|
| bare ComfyUI 0.3.75 (baseline) | {t_bare:.2f} s | {tp_bare:.1f} prompts/s |
| with Tower Sentinel | {t_ours:.2f} s | {tp_ours:.1f} prompts/s |

Throughput ratio with/without: **{ratio:.3f}** (target ≥ 0.97). Batches of {BATCH} alternate between the two
servers. Command: `python benchmarks/overhead.py`."""
    print(body)
    write_section("overhead", body)


if __name__ == "__main__":
    main()
