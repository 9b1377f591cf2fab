#!/usr/bin/env bash
# Installs what the tests need (into .venv) and runs them: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_env.sh
# The Hugging Face export test needs CPU torch + transformers. Install them only where a
# CPU-only torch wheel is at hand (pip's find-links), never the multi-GB CUDA build;
# elsewhere that one test skips and says why.
if ! .venv/bin/python -c "import torch, transformers" 2>/dev/null; then
  if .venv/bin/python -m pip download -q --no-index --no-deps -d "$(mktemp -d)" "torch==2.13.0" 2>/dev/null; then
    .venv/bin/python -m pip install -q "torch==2.13.0" "transformers>=5"
  fi
fi
# The TF1 interop tests need Google's original code in a Python 3.7 venv; they skip without it.
bash scripts/setup_tf1_env.sh >/dev/null 2>&1 || echo "note: no TF1 environment (needs a Python 3.7);" \
  "the TF1 interop tests will skip"
exec .venv/bin/python -m pytest "$@"
