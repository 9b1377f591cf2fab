#!/usr/bin/env bash
# Creates the virtualenv (if missing) and installs csc_pretrain with its runtime
# dependencies; every other script sources this, so each works on a fresh machine.
#   Environment: VENV (default .venv), PYTHON (the interpreter to build it from).
#   Sets PY: the venv's python, for the calling script.
# Sourced (". scripts/setup_env.sh") from the repo root by the stage scripts.
export VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: csc_pretrain needs Python >= 3.10 (set PYTHON=...)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# Reinstall only when the dependency list changed since the last install. pip's
# own chatter goes to a log; on failure its tail is shown.
stamp="$VENV/.csc_pretrain_installed"
if [ ! -f "$stamp" ] || ! cmp -s requirements.txt "$stamp"; then
  echo "installing csc_pretrain and its dependencies into $VENV (first run: a few minutes)" >&2
  log="$VENV/install.log"
  if ! { "$PY" -m pip install --upgrade pip &&
         "$PY" -m pip install -r requirements.txt &&
         "$PY" -m pip install --no-deps -e .; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "error: pip install failed; full log: $log" >&2
    exit 1
  fi
  cp requirements.txt "$stamp"
fi
