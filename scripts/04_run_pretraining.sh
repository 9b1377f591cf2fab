#!/usr/bin/env bash
# Stage 4: continue pretraining BERT (TensorFlow 2) on the stage-3 records.
#   bash scripts/04_run_pretraining.sh [extra flags for run_pretraining.py]
# Environment: CONFIG (YAML, default configs/pretrain_tiny.yaml: the demo on the sample records),
#   OUTPUT_DIR (default from the YAML), NUM_TRAIN_STEPS (default from the YAML).
# Rerunning the same command resumes from the last checkpoint in OUTPUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
args=(--config "${CONFIG:-configs/pretrain_tiny.yaml}")
if [ -n "${OUTPUT_DIR:-}" ]; then args+=(--output_dir "$OUTPUT_DIR"); fi
if [ -n "${NUM_TRAIN_STEPS:-}" ]; then args+=(--num_train_steps "$NUM_TRAIN_STEPS"); fi
"$PY" run_pretraining.py "${args[@]}" "$@"
out="${OUTPUT_DIR:-$("$PY" -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['output_dir'])" "${CONFIG:-configs/pretrain_tiny.yaml}")}"
echo "wrote:"
ls -l "$out"/checkpoint "$out"/eval_results.txt 2>/dev/null || true
cat "$out"/eval_results.txt 2>/dev/null || true
