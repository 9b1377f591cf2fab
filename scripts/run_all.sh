#!/usr/bin/env bash
# The whole pipeline on the bundled sample data, CPU only, nothing downloaded
# but the Python packages: bash scripts/run_all.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup_env.sh
echo "== stage 1: char_meta"
bash scripts/01_char_meta.sh
echo "== stage 2: create_data"
bash scripts/02_create_data.sh
echo "== stage 3: create_tf_record"
bash scripts/03_create_tf_record.sh
echo "== stage 4: run_pretraining"
bash scripts/04_run_pretraining.sh
echo "== stage 5: strip_adam + export"
bash scripts/05_strip_adam.sh
