#!/usr/bin/env bash
# Every benchmark, one after the other (run on a quiet machine: each writes its own section of BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
RT="$(bash ../scripts/get_comfyui.sh)"
PY="$RT/venv/bin/python"
export TOWER_COMFY_RUNTIME="$RT"
for b in recorder.py overhead.py quality_cpu.py pg_ship.py analytics.py; do
  echo "== $b" >&2
  "$PY" "$b"
done
if command -v nvidia-smi >/dev/null 2>&1; then bash quality_gpu.sh; fi
