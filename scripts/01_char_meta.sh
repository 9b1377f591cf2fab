#!/usr/bin/env bash
# Stage 1: character metadata and ranked confusion sets.
#   bash scripts/01_char_meta.sh [extra flags for python -m csc_pretrain.char_meta]
# Environment: CHAR_META_DIR (default char_meta), TOP_K (default 50),
#              CHARSET (a text file whose characters to cover; default all of U+4E00..U+9FFF).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup_env.sh
CHAR_META_DIR="${CHAR_META_DIR:-char_meta}"
args=(--output_dir "$CHAR_META_DIR" --top_k "${TOP_K:-50}" --overwrite)
if [ -n "${CHARSET:-}" ]; then args+=(--charset "$CHARSET"); fi
"$PY" -m csc_pretrain.char_meta "${args[@]}" "$@"
echo "wrote:"
ls -l "$CHAR_META_DIR"/char_meta.txt "$CHAR_META_DIR"/confusion_*.tsv
