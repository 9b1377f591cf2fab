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
echo "== stage 4: run_pretraining (fresh: out/pretrain_tiny is the demo's own folder)"
rm -rf out/pretrain_tiny
bash scripts/04_run_pretraining.sh
echo "== stage 5: strip_adam + export"
bash scripts/05_strip_adam.sh
echo "== evaluate: held-out sample pairs, before (step 0) and after pretraining"
.venv/bin/python -m csc_pretrain.evaluate --checkpoint out/pretrain_tiny/stripped \
  --baseline_checkpoint out/pretrain_tiny/model.ckpt-0 \
  --bert_config_file configs/bert_config_tiny.json --vocab_file create_data/vocab.txt \
  --confusion_dir char_meta --test_file create_data/sample/heldout.tsv 2>/dev/null
