"""Stage 5: strip optimizer slots from a checkpoint (about 3x smaller) and export it.

strip.py      read any name-based checkpoint, drop optimizer variables, write a new one
__main__.py   python -m csc_pretrain.strip_adam model.ckpt [--output PREFIX]
Exports to Hugging Face and SavedModel live in csc_pretrain/export/.
"""

import dataclasses

# What goes by default: our Adam slots, Google's TF1 optimizer variables, loss-scale
# state and global_step. Here rather than in strip.py so the CLI can define its
# flags without loading TensorFlow (which logs before the CLI can quiet it).
DEFAULT_REMOVE = (r"/adam_[mv]$", r"(^|/)AdamWeightDecayOptimizer", r"/Adam(_\d+)?$",
                  r"(^|/)beta[12]_power$", r"(^|/)(loss_scale|good_steps)$",
                  r"(^|/)current_loss_scale$", r"^global_step$")


@dataclasses.dataclass(frozen=True)
class StripConfig:
  """The CLI's flags (field names are the flag names, defaults theirs) and its one
  argument, the checkpoint; strip.run() takes it. Here for the same reason."""
  checkpoint: str = None
  output: str = None
  remove_regex: tuple = DEFAULT_REMOVE
  keep_global_step: bool = False
  dtype: str = None
  in_place: bool = False
  overwrite: bool = False
