#!/usr/bin/env bash
# Creates .venv-tf1: Python 3.7 + tensorflow==1.15.5 + bert-tensorflow==1.0.4, the
# original Google BERT code. Used only by the side-by-side benchmarks and the TF1
# interop tests (which skip without it). Needs a Python 3.7 (pyenv's, or PYTHON37=...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY37="${PYTHON37:-}"
if [ -z "$PY37" ]; then
  for cand in "$HOME"/.pyenv/versions/3.7*/bin/python3.7 "$(command -v python3.7 || true)"; do
    # pyenv's shim exists even when it cannot run 3.7, so try each candidate.
    if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "" 2>/dev/null; then PY37="$cand"; break; fi
  done
fi
if [ -z "$PY37" ]; then
  echo "error: no Python 3.7 found (install one with pyenv, or set PYTHON37)" >&2
  exit 1
fi
if [ ! -x .venv-tf1/bin/python ]; then
  "$PY37" -m venv .venv-tf1
fi
if ! .venv-tf1/bin/python -c "import tensorflow, bert" 2>/dev/null; then
  .venv-tf1/bin/python -m pip install -q --upgrade "pip<24"
  # protobuf 4 breaks TF 1.15's generated code; numpy 1.19+ warns noisily.
  .venv-tf1/bin/python -m pip install -q "tensorflow==1.15.5" "bert-tensorflow==1.0.4" \
      "protobuf<3.21" "numpy<1.19"
fi
.venv-tf1/bin/python -c "import tensorflow as tf, bert; print('tf1 env ok:', tf.__version__)"
