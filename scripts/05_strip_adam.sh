#!/usr/bin/env bash
# Stage 5: strip Adam slots from the last checkpoint and export it (Hugging Face + SavedModel).
#   bash scripts/05_strip_adam.sh [CHECKPOINT]   (default: the last one in $PRETRAIN_DIR)
# Environment: PRETRAIN_DIR (default out/pretrain_tiny), BERT_CONFIG (configs/bert_config_tiny.json),
#   VOCAB_FILE (create_data/vocab.txt), EXPORT_DIR (default $PRETRAIN_DIR/export).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
PRETRAIN_DIR="${PRETRAIN_DIR:-out/pretrain_tiny}"
CKPT="${1:-$PRETRAIN_DIR}"
EXPORT_DIR="${EXPORT_DIR:-$PRETRAIN_DIR/export}"
# bert_config.json / vocab.txt travel with the checkpoint (strip_adam copies them along).
cp -n "${BERT_CONFIG:-configs/bert_config_tiny.json}" "$PRETRAIN_DIR/bert_config.json" 2>/dev/null || true
cp -n "${VOCAB_FILE:-create_data/vocab.txt}" "$PRETRAIN_DIR/vocab.txt" 2>/dev/null || true
"$PY" strip_adam.py "$CKPT" --overwrite
"$PY" -m csc_pretrain.export --checkpoint "$PRETRAIN_DIR/stripped" --format hf \
  --output "$EXPORT_DIR/hf" --overwrite
"$PY" -m csc_pretrain.export --checkpoint "$PRETRAIN_DIR/stripped" --format savedmodel \
  --output "$EXPORT_DIR/savedmodel" --overwrite
echo "wrote:"
ls -l "$PRETRAIN_DIR/stripped" "$EXPORT_DIR/hf"
