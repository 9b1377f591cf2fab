"""Stage 5: strip optimizer slots from a checkpoint (about 3x smaller) and export it.

strip.py      read any name-based checkpoint, drop optimizer variables, write a new one
__main__.py   python -m csc_pretrain.strip_adam model.ckpt [--output PREFIX]
Exports to Hugging Face and SavedModel live in csc_pretrain/export/.
"""
