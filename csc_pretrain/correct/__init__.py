"""Correcting text with a pretrained checkpoint, and measuring it.

corrector.py  Corrector: model top-k per position, filtered by confusion sets and thresholds
metrics.py    sentence-level (strict and SIGHAN-tool conventions) and character-level P/R/F1
data.py       test files: wrong<TAB>correct, id<TAB>wrong<TAB>correct, SIGHAN input + truth
decoder.py    the threshold rule and the fitted confidence-similarity decoder (fit, describe)
constraints.py  --protect (words, re:PATTERN) and --lexicon files
tune.py       thresholds for the best F1, or calibrated to a false-positive budget (curve, plot)
__main__.py   python -m csc_pretrain.correct [tune] ...   (evaluate and serve: csc_pretrain/evaluate.py, serve.py)
"""
