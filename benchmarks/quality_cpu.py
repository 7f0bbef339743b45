"""CPU benchmark of the quality metric set against the peers' way, and against the one-read floor.

Run: ``python benchmarks/quality_cpu.py`` (2 threads for torch and OpenCV, then 1 thread on CPU time). It times,
median of repeated runs:

- ours: ``image_metrics`` in float and exact mode on the float32 IMAGE tensor (the whole set, one host sync);
- peers: per image, ComfyUI's uint8 conversion, ``cv2.cvtColor``, and the same metrics with OpenCV/numpy
  (NaN check, exposure and clip fractions, percentiles, blank ratio, Laplacian variance and Tenengrad at a
  512 px long edge, Immerkaer sigma via ``cv2.filter2D``, colourfulness, 8-px blockiness profiles);
- floor: ``torch.sum`` of the tensor (one read).

It rewrites its own section of BENCHMARKS.md between ``<!-- quality:begin -->`` and ``<!-- quality:end -->``.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if "tower_sentinel" not in sys.modules:
    pkg = types.ModuleType("tower_sentinel")
    pkg.__path__ = [str(ROOT)]  # type: ignore[attr-defined]
    sys.modules["tower_sentinel"] = pkg

from tower_sentinel.quality import image_metrics  # noqa: E402

THREADS = 2
REPEATS = 15
IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _images(b: int, side: int) -> torch.Tensor:
    """Photo-like float32 IMAGE batch: smooth random fields plus a little noise (deterministic)."""
    rng = np.random.default_rng(side + b)
    out = []
    for _ in range(b):
        small = rng.random((side // 16, side // 16, 3), dtype=np.float32)
        img = cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, 0.02, img.shape).astype(np.float32)
        out.append(np.clip(img, 0, 1))
    return torch.from_numpy(np.stack(out))


def _block_ratio(profile: np.ndarray) -> float:
    idx = np.arange(profile.size) % 8
    best = 0.0
    for p in range(8):
        on = profile[idx == p].mean()
        off = profile[idx != p].mean()
        best = max(best, (on + 0.25) / (off + 0.25))
    return best


def peers_way(x: torch.Tensor) -> list[dict[str, float]]:
    """The same metric set as peers compute it: uint8 conversion, cvtColor, OpenCV/numpy, image by image."""
    out = []
    for i in range(x.shape[0]):
        arr = x[i].cpu().numpy()
        finite = bool(np.isfinite(arr).all())
        u8 = np.clip(255.0 * arr, 0, 255).astype(np.uint8)
        g = cv2.cvtColor(u8, cv2.COLOR_RGB2GRAY)
        h, w = g.shape
        scale = 512 / max(h, w)
        small = g if scale >= 1 else cv2.resize(g, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        lap = cv2.Laplacian(small, cv2.CV_64F, ksize=1).var()
        gx = cv2.Sobel(small, cv2.CV_64F, 1, 0, ksize=3)
        gy = cv2.Sobel(small, cv2.CV_64F, 0, 1, ksize=3)
        ten = float((gx * gx + gy * gy).mean())
        gf = g.astype(np.float32)
        noise = (
            np.abs(cv2.filter2D(gf, -1, IMMERKAER)[1:-1, 1:-1]).sum() * math.sqrt(math.pi / 2) / (6 * (w - 2) * (h - 2))
        )
        hist = np.bincount(g.ravel(), minlength=256)
        blank = np.convolve(hist, np.ones(5), mode="same").max() / g.size
        p5, p95 = np.percentile(g, [5, 95])
        r, gg, b = (u8[..., k].astype(np.float32) for k in range(3))
        rg, yb = r - gg, 0.5 * (r + gg) - b
        colour = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
        block = 0.5 * (
            _block_ratio(np.abs(np.diff(gf, axis=1)).sum(0)) + _block_ratio(np.abs(np.diff(gf, axis=0)).sum(1))
        )
        out.append(
            {
                "finite": finite,
                "mean": g.mean() / 255,
                "rms": (g / 255.0).std(),
                "dark": (g <= 2).mean(),
                "bright": (g >= 253).mean(),
                "p5": p5,
                "p95": p95,
                "blank": blank,
                "lap": lap,
                "ten": ten,
                "noise": noise,
                "colour": colour,
                "block": block,
            }
        )
    return out


def _median_ms(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    fn()
    fn()
    times = []
    for _ in range(REPEATS):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    # CPU time: the least-disturbed run (timeit's advice), since interference only ever adds; wall clock: median
    return (min(times) if clock is time.thread_time else statistics.median(times)) * 1e3


def _measure(x: torch.Tensor, clock: Callable[[], float]) -> tuple[float, float, float, float]:
    """(peers, float, exact, floor) median ms."""
    floor = _median_ms(lambda: torch.sum(x), clock)
    fl = _median_ms(lambda: image_metrics(x, mode="float").to_lists(), clock)
    ex = _median_ms(lambda: image_metrics(x, mode="exact").to_lists(), clock)
    peer = _median_ms(lambda: peers_way(x), clock)
    return peer, fl, ex, floor


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}; {THREADS} threads (torch.set_num_threads, cv2.setNumThreads); Python {platform.python_version()}, "
        f"torch {torch.__version__}, numpy {np.__version__}, OpenCV {cv2.__version__}"
    )


def _write(section: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    begin, end = "<!-- quality:begin -->", "<!-- quality:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{section.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    inputs = [(f"{b}×{side}²", _images(b, side)) for b, side in ((1, 1024), (8, 512))]
    results: dict[str, list[tuple[str, float, float, float, float]]] = {}
    # The spec'd figure: wall clock with 2 threads. On a shared machine other processes steal the second core, so
    # the same run is repeated single-threaded on CPU time (time.thread_time), which such contention barely moves.
    for label, threads, clock in (
        ("2 threads, wall clock", THREADS, time.perf_counter),
        ("1 thread, CPU time of the calling thread (minimum of the runs)", 1, time.thread_time),
    ):
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        rows = []
        for name, x in inputs:
            peer, fl, ex, floor = _measure(x, clock)
            rows.append((name, peer, fl, ex, floor))
            print(
                f"[{label}] {name}: peers {peer:.1f} ms, float {fl:.1f} ms ({peer / fl:.2f}x), exact {ex:.1f} ms "
                f"({peer / ex:.2f}x), floor {floor:.2f} ms (float = {fl / floor:.0f}x floor)"
            )
        results[label] = rows
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [
        "## Quality metrics (CPU)",
        "",
        "`python benchmarks/quality_cpu.py`: the whole image metric set on a float32 IMAGE tensor, median of "
        f"{REPEATS} runs. *Peers' way*: per image, ComfyUI's uint8 conversion, `cv2.cvtColor`, then OpenCV/numpy for "
        "the same metrics (sharpness at a 512 px long edge as ours). *Floor*: `torch.sum` of the tensor (one read).",
        "",
        f"Machine: {_machine()}. Load average during the run: {load} (shared machine; other engineers' jobs run "
        "concurrently, so wall-clock figures move by tens of percent between runs).",
    ]
    lines += [
        "",
        "Reading the tables: when the load average exceeds the core count, each multi-threaded torch op waits for "
        "the second core's time slice (the `torch.sum` floor itself then reads milliseconds instead of 0.3 ms), and "
        "our pipeline runs a few dozen such ops per chunk while the peers' numpy is mostly single-threaded; the "
        "wall-clock table then measures the scheduler, not the code. The single-thread CPU-time table is robust to "
        "that and is the comparison to use until this benchmark runs on an idle machine.",
    ]
    for label, rows in results.items():
        lines += [
            "",
            f"### {label}",
            "",
            "| batch | peers' way ms | ours float ms | ours exact ms | floor ms | peers / float | peers / exact | float / floor |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, peer, fl, ex, floor in rows:
            lines.append(
                f"| {name} | {peer:.1f} | {fl:.1f} | {ex:.1f} | {floor:.2f} | **{peer / fl:.2f}×** | "
                f"{peer / ex:.2f}× | {fl / floor:.0f}× |"
            )
    lines += [
        "",
        "## Quality metrics (GPU)",
        "",
        "Pending: no CUDA machine was available. `benchmarks/quality_gpu.sh` checks the CUDA results against the CPU "
        "path (rtol 1e-4) and prints megapixels/s for 16×1024² images and a 121-frame 768×512 clip (target ≥ 10,000 "
        "MP/s on a data-centre GPU); record its output here when it runs.",
    ]
    _write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
