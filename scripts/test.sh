#!/usr/bin/env bash
# Installs what the tests need (into $VENV, default .venv) and runs them:
#   bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
stamp="$VENV/.csc_pretrain_test_installed"
if [ ! -f "$stamp" ] || ! cmp -s requirements-test.txt "$stamp"; then
  echo "installing the test requirements into $VENV" >&2
  if ! "$PY" -m pip install -r requirements-test.txt >"$VENV/install-test.log" 2>&1; then
    tail -n 30 "$VENV/install-test.log" >&2
    echo "error: pip install failed; full log: $VENV/install-test.log" >&2
    exit 1
  fi
  cp requirements-test.txt "$stamp"
fi
# The Hugging Face round-trip test needs the "torch" extra (CPU torch + transformers).
# Install it only where a CPU-only torch wheel is at hand (pip's find-links), never
# the multi-GB CUDA build; elsewhere that one test skips and says why.
if ! "$PY" -c "import torch, transformers" 2>/dev/null; then
  if "$PY" -m pip download -q --no-index --no-deps -d "$(mktemp -d)" "torch==2.13.0" >/dev/null 2>&1; then
    echo "installing CPU torch + transformers for the Hugging Face round-trip test" >&2
    "$PY" -m pip install "torch==2.13.0" "transformers>=5" >"$VENV/install-torch.log" 2>&1 ||
      echo "note: torch/transformers did not install (see $VENV/install-torch.log);" \
        "the Hugging Face round-trip test will skip" >&2
  fi
fi
# The TF1 interop tests need Google's original code in a Python 3.7 venv; they skip without it.
bash scripts/setup_tf1_env.sh >/dev/null 2>&1 || echo "note: no TF1 environment (needs a Python 3.7);" \
  "the TF1 interop tests will skip"
exec "$PY" -m pytest "$@"
