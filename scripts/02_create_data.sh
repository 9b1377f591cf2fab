#!/usr/bin/env bash
# Stage 2: aligned training pairs and mask_probability.sav.
#   bash scripts/02_create_data.sh [extra flags for python -m csc_pretrain.create_data]
# Environment: CORRECT_FILE, WRONG_FILE (default: the bundled medical sample),
#              CHAR_META_DIR (stage 1 output, default char_meta), DATA_DIR (default create_data),
#              MODE (corpus|phonetic|visual|both, default both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
CORRECT_FILE="${CORRECT_FILE:-create_data/sample/correct.txt}"
WRONG_FILE="${WRONG_FILE:-create_data/sample/wrong.txt}"
DATA_DIR="${DATA_DIR:-create_data}"
"$PY" -m csc_pretrain.create_data \
  --correct_file "$CORRECT_FILE" --wrong_file "$WRONG_FILE" \
  --confusion_dir "${CHAR_META_DIR:-char_meta}" --mode "${MODE:-both}" \
  --output_dir "$DATA_DIR" --overwrite "$@"
echo "wrote:"
ls -l "$DATA_DIR"/correct.txt "$DATA_DIR"/wrong.txt "$DATA_DIR"/mask_probability.sav "$DATA_DIR"/mask_probability.tsv
