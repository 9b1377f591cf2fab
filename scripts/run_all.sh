#!/usr/bin/env bash
# The whole pipeline on the bundled sample data, CPU only, nothing downloaded
# but the Python packages: bash scripts/run_all.sh
# Environment: VENV (default .venv), NUM_TRAIN_STEPS, DUPE_FACTOR (shorter runs, as CI uses),
#   TF_CPP_MIN_LOG_LEVEL=0 to see TensorFlow's C++ log again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
start=$SECONDS
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
"$PY" -m csc_pretrain.correct evaluate --checkpoint out/pretrain_tiny/stripped \
  --baseline_checkpoint out/pretrain_tiny/model.ckpt-0 \
  --bert_config_file configs/bert_config_tiny.json --vocab_file create_data/vocab.txt \
  --confusion_dir char_meta --test_file create_data/sample/heldout.tsv > out/pretrain_tiny/evaluate.txt
# The report without its last line (one JSON object with every figure, kept in the file).
table="$(sed '$d' out/pretrain_tiny/evaluate.txt)"
echo "$table"

size() { du -sh "$1" | cut -f1; }
lines() { grep -c . "$1"; }
last="$(basename "$(sed -n 's/^model_checkpoint_path: "\(.*\)"$/\1/p' out/pretrain_tiny/checkpoint)")"
cat <<SUMMARY

== done in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s. What was written where:
  char_meta/char_meta.txt            $(lines char_meta/char_meta.txt) characters, FASPell's columns
  char_meta/confusion_sets.tsv       ranked confusion sets (also _phonetic, _visual, _scores)
  create_data/{correct,wrong}.txt    $(lines create_data/correct.txt) aligned training sentences
  create_data/mask_probability.sav   per-character mask probabilities (pickled dict)
  create_data/tf_examples.tfrecord   $(sed -n 's/.*"instances": \([0-9]*\).*/\1/p' create_data/tf_examples.tfrecord.stats.json) instances, Google BERT's schema ($(size create_data/tf_examples.tfrecord))
  out/pretrain_tiny/$last     training checkpoint with Adam slots ($(size out/pretrain_tiny/"$last".data-00000-of-00001))
  out/pretrain_tiny/stripped/        the same without optimizer slots ($(size out/pretrain_tiny/stripped))
  out/pretrain_tiny/export/hf/       Hugging Face BertForMaskedLM (safetensors)
  out/pretrain_tiny/export/savedmodel/  TF SavedModel, signature serving_default
  out/pretrain_tiny/evaluate.txt     the before/after report below, with its JSON line

Before (step 0) and after pretraining, on create_data/sample/heldout.tsv:
$table
SUMMARY
