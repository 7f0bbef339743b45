#!/usr/bin/env bash
# Run the whole test suite: lint, unit, HTTP, integration (real PostgreSQL), real ComfyUI, and browser tests.
# Installs what a new machine lacks (ComfyUI runtime, comfy-cli, Chromium), starts PostgreSQL if it is down.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/unit -k breaker`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
cd "$REPO"
log() { echo "[test] $*" >&2; }

RT="$(bash "$HERE/get_comfyui.sh")"
export TOWER_COMFY_RUNTIME="$RT"
PY="$RT/venv/bin/python"

# comfy-cli (for `comfy node validate` / `comfy node pack`) in its own venv: it pins things ComfyUI must not get.
TOOLS="${TOWER_COMFY_CACHE:-$HOME/.cache/tower-sentinel}/tools-venv"
if [[ ! -x "$TOOLS/bin/comfy" ]]; then
  log "installing comfy-cli into $TOOLS"
  python3.11 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "comfy-cli==1.23.0" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
fi
export TOWER_COMFY_CLI="$TOOLS/bin/comfy"
mkdir -p "$HOME/.config/comfy-cli"
[[ -f "$HOME/.config/comfy-cli/config.ini" ]] || printf '[DEFAULT]\nenable_tracking = False\n' > "$HOME/.config/comfy-cli/config.ini"

# PostgreSQL on 127.0.0.1:5432 (the machine's service); a missing one fails the integration tests, never skips them.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || log "WARNING: could not start PostgreSQL"
fi

# Debian's Chromium for the browser tests (never `playwright install`).
if [[ ! -x /usr/bin/chromium ]]; then
  log "installing chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
fi

log "ruff"
"$RT/venv/bin/ruff" check .

log "pytest"
set +e
# Always name the test folder: pytest must not collect the repository root, which is the node package itself.
if [[ $# -eq 0 ]]; then set -- tests; fi
# --rootdir on the command line (pytest ignores it in addopts): the repository root is a package whose folder name
# may not be an identifier (a CI clone), so pytest must not collect it as one.
"$PY" -m pytest --rootdir="$REPO/tests" -p no:randomly -q -rfE "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  log "no tests ran"; exit 1
fi
exit $rc
