"""Stage 2: correct/wrong corpora -> aligned training pairs + mask_probability.sav.

pairs.py             readers, alignment, sentence splitting, expansion, synthetic errors
mask_probability.py  per-character error statistics -> mask probabilities
build.py             the stage top to bottom; __main__.py its command line
"""
