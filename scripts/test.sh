#!/usr/bin/env bash
# Installs what the tests need (into .venv) and runs them: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m pytest "$@"
