#!/usr/bin/env bash
# Quality metrics on CUDA: check the CUDA results against the CPU path (rtol 1e-4), then print megapixels/s for
# 16 x 1024^2 images and a 121-frame 768x512 clip (the studio's LTX clip). Run from anywhere:
#   PYTHON=/path/to/venv/bin/python benchmarks/quality_gpu.sh
# Exits 2 when no CUDA device is visible, 1 when CUDA and CPU disagree. QUALITY_GPU_DEVICE=cpu dry-runs the script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python}"
exec "$PY" - "$ROOT" <<'PYEOF'
import math, os, sys, time, types

import torch

root = sys.argv[1]
pkg = types.ModuleType("tower_sentinel")
pkg.__path__ = [root]
sys.modules["tower_sentinel"] = pkg
from tower_sentinel.quality import METRICS, assess, clip_metrics, image_metrics  # noqa: E402

dev = torch.device(os.environ.get("QUALITY_GPU_DEVICE", "cuda"))
if dev.type == "cuda" and not torch.cuda.is_available():
    print("no CUDA device: nothing to measure")
    sys.exit(2)
sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu (dry run)"
print(f"device: {name}, torch {torch.__version__}")


def images(b, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(b, 3, h // 16, w // 16, generator=g)
    x = torch.nn.functional.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)
    x = x + 0.02 * torch.randn(b, 3, h, w, generator=g)
    return x.clamp(0, 1).permute(0, 2, 3, 1).contiguous()


# 1. agreement: CUDA vs CPU on both precisions, a NaN image, and the clip metrics
ok = True
x = images(4, 512, 768, seed=1)
x[2, 10:20, 10:20, 0] = float("nan")
for mode in ("float", "exact"):
    cpu = image_metrics(x, mode=mode, keep_thumbnails=True)
    gpu = image_metrics(x.to(dev), mode=mode, keep_thumbnails=True)
    a, b = cpu.to_lists(), gpu.to_lists()
    for k in METRICS:
        for i, (u, v) in enumerate(zip(a[k], b[k])):
            if math.isnan(u) and math.isnan(v):
                continue
            # fractions and percentiles count whole pixels: a value on a level boundary may round either way
            tol = 1e-4 * abs(u) + (1e-5 if k not in ("p5", "p95", "spread") else 1.0 / 255 + 1e-9)
            if abs(u - v) > tol:
                ok = False
                print(f"MISMATCH {mode} {k}[{i}]: cpu {u!r} cuda {v!r}")
    cc = clip_metrics(cpu.thumbnails, cpu.values["mean_luma"]).summary()
    gc = clip_metrics(gpu.thumbnails, gpu.values["mean_luma"]).summary()
    for k in cc:
        if abs(cc[k] - gc[k]) > 1e-4 * abs(cc[k]) + 1e-4:
            ok = False
            print(f"MISMATCH {mode} clip {k}: cpu {cc[k]!r} cuda {gc[k]!r}")
print("agreement CUDA vs CPU (rtol 1e-4):", "OK" if ok else "FAILED")


# 2. throughput
def timed(fn, repeats=int(os.environ.get("QUALITY_GPU_REPEATS", "10"))):
    fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


batch = images(16, 1024, 1024).to(dev)
clip = images(121, 512, 768, seed=2).to(dev)
rows = [
    ("images 16x1024^2, float", batch, lambda: image_metrics(batch, mode="float").to_lists()),
    ("images 16x1024^2, exact", batch, lambda: image_metrics(batch, mode="exact").to_lists()),
    ("clip 121x768x512, float, with temporal", clip, lambda: assess(clip, mode="clip")),
    ("floor: torch.sum of 16x1024^2", batch, lambda: batch.sum().item()),
]
for name, t, fn in rows:
    s = timed(fn)
    mp = t.shape[0] * t.shape[1] * t.shape[2] / 1e6
    print(f"{name}: {s * 1e3:.2f} ms, {mp / s:,.0f} MP/s")
sys.exit(0 if ok else 1)
PYEOF
