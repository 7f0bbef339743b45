#!/usr/bin/env bash
# Start a real ComfyUI 0.3.75 (CPU) on 127.0.0.1:${PORT:-8188} with this checkout installed as a custom node,
# on the embedded SQLite store. Builds the runtime first when missing (scripts/get_comfyui.sh).
#
# Env: PORT (8188), TOWER_BASE_DIR (a throw-away base directory; default: a new temp dir), COMFY_EXTRA_ARGS,
#      TOWER_EXTRA_NODES (colon-separated node package folders to link too, e.g. tests/comfy/testing_nodes).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
RT="$(bash "$HERE/get_comfyui.sh")"
PORT="${PORT:-8188}"
BASE="${TOWER_BASE_DIR:-$(mktemp -d -t tower-comfy-XXXXXX)}"
mkdir -p "$BASE/custom_nodes" "$BASE/user/default" "$BASE/input" "$BASE/output" "$BASE/temp" "$BASE/models"
ln -sfn "$REPO" "$BASE/custom_nodes/tower-sentinel"
IFS=':' read -r -a extra_nodes <<< "${TOWER_EXTRA_NODES:-}"
for d in "${extra_nodes[@]}"; do
  [[ -n "$d" ]] && ln -sfn "$(cd "$d" && pwd)" "$BASE/custom_nodes/$(basename "$d")"
done
settings="$BASE/user/default/comfy.settings.json"
[[ -f "$settings" ]] || echo '{"Comfy.TutorialCompleted": true}' > "$settings"
echo "[run_comfyui] ComfyUI 0.3.75 + Tower Sentinel on http://127.0.0.1:$PORT (base dir $BASE)" >&2
cd "$RT/comfyui"
# shellcheck disable=SC2086
exec "$RT/venv/bin/python" main.py --cpu --listen 127.0.0.1 --port "$PORT" --base-directory "$BASE" \
  --database-url sqlite:///:memory: --disable-api-nodes ${COMFY_EXTRA_ARGS:-}
