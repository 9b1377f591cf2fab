"""Correcting text with a pretrained checkpoint, and measuring it.

corrector.py  Corrector: model top-k per position, filtered by confusion sets and thresholds
metrics.py    sentence-level (strict and SIGHAN-tool conventions) and character-level P/R/F1
decoder.py    the threshold rule and the fitted confidence-similarity decoder (fit, describe)
constraints.py  --protect (words, re:PATTERN) and --lexicon files
tune.py       thresholds for the best F1, or calibrated to a false-positive budget (curve, plot)
batch.py      correcting sentences from the command line or a file, JSON lines out
config.py     CorrectorConfig: the shared settings (checkpoint, thresholds, ...) -> Corrector
evaluate.py   P/R/F1 of a checkpoint on test files, before/after side by side (EvaluateConfig, run)
serve.py      a small HTTP service around the corrector (ServeConfig, run)
__main__.py   the CLI, the only reader of absl flags:
              python -m csc_pretrain.correct [tune | evaluate | serve] ...
"""
