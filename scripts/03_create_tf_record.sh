#!/usr/bin/env bash
# Stage 3: confusion-weighted masked-LM TFRecords in Google BERT's schema.
#   bash scripts/03_create_tf_record.sh [extra flags for create_tf_record.py]
# Environment: DATA_DIR (stage 2 output, default create_data), CHAR_META_DIR (default char_meta),
#   VOCAB_FILE (your checkpoint's vocab.txt; default: build a demo vocab of VOCAB_SIZE tokens
#   into $DATA_DIR/vocab.txt), VOCAB_SIZE (default 8000, as configs/bert_config_tiny.json),
#   MAX_SEQ_LENGTH (128), MAX_PREDICTIONS (20), DUPE_FACTOR (10).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
DATA_DIR="${DATA_DIR:-create_data}"
CHAR_META_DIR="${CHAR_META_DIR:-char_meta}"
if [ -z "${VOCAB_FILE:-}" ]; then
  VOCAB_FILE="$DATA_DIR/vocab.txt"
  "$PY" -m csc_pretrain.create_tf_record.build_vocab \
    --input_file "$DATA_DIR/correct.txt" --char_meta_dir "$CHAR_META_DIR" \
    --max_size "${VOCAB_SIZE:-8000}" --output "$VOCAB_FILE" --overwrite
fi
"$PY" create_tf_record.py \
  --input_file "$DATA_DIR/correct.txt" --wrong_input_file "$DATA_DIR/wrong.txt" \
  --output_file "$DATA_DIR/tf_examples.tfrecord" --vocab_file "$VOCAB_FILE" \
  --mask_probability_file "$DATA_DIR/mask_probability.sav" --confusion_dir "$CHAR_META_DIR" \
  --max_seq_length "${MAX_SEQ_LENGTH:-128}" --max_predictions_per_seq "${MAX_PREDICTIONS:-20}" \
  --dupe_factor "${DUPE_FACTOR:-10}" --overwrite "$@"
# The lengths come from the records' stats.json, in inspect and in stage 4 alike.
"$PY" -m csc_pretrain.create_tf_record.inspect \
  --input_file "$DATA_DIR/tf_examples.tfrecord" --vocab_file "$VOCAB_FILE" --show 2
echo "wrote:"
ls -l "$DATA_DIR/tf_examples.tfrecord" "$DATA_DIR/tf_examples.tfrecord.stats.json"
