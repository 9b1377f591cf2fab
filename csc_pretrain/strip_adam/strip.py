"""Removing optimizer variables from a name-based checkpoint.

Adam keeps two slots per weight (``<var>/adam_m``, ``<var>/adam_v``), so a
training checkpoint is about three times the model. Everything that is not a
model weight goes: our slots and ``global_step`` (kept with a flag), and what
Google's TF1 code may add (``AdamWeightDecayOptimizer*``, ``beta1_power``,
``/Adam`` slots, loss-scale state). Model tensors are copied bit for bit,
unless a smaller float dtype is asked for (lossy).
"""

import os
import re
import shutil

import numpy as np
import tensorflow as tf

from csc_pretrain.bert import checkpoint
from csc_pretrain.io_utils import InputError, atomic_write
from csc_pretrain.strip_adam import DEFAULT_REMOVE


def checkpoint_size(prefix):
  directory, base = os.path.split(prefix)
  return sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory or ".")
             if f.startswith(os.path.basename(base) + ".") and
             re.match(r"(index|data-\d+-of-\d+)$", f[len(base) + 1:]))


def default_output(prefix):
  """``DIR/model.ckpt-N`` -> ``DIR/stripped/model.ckpt-N``."""
  directory, base = os.path.split(prefix)
  return os.path.join(directory, "stripped", base)


def strip(input_path, output_prefix=None, remove=DEFAULT_REMOVE, keep_global_step=False,
          dtype=None, in_place=False, overwrite=False):
  """Writes the stripped checkpoint; returns a dict of what happened."""
  prefix = checkpoint.resolve(input_path)
  reader, shapes = checkpoint.read_shapes(prefix)
  patterns = [re.compile(p) for p in remove if not (keep_global_step and p == r"^global_step$")]
  kept = sorted(n for n in shapes if not any(p.search(n) for p in patterns))
  dropped = sorted(set(shapes) - set(kept))
  if not kept:
    raise InputError(prefix, 0, "every variable matches the removal patterns: nothing left")
  if in_place:
    output_prefix = prefix
  output_prefix = output_prefix or default_output(prefix)
  if not in_place:
    if os.path.abspath(output_prefix) == os.path.abspath(prefix):
      raise InputError(output_prefix, 0, "is the input checkpoint; pass --in_place to replace it")
    if os.path.exists(output_prefix + ".index") and not overwrite:
      raise InputError(output_prefix, 0, "exists; refusing to overwrite (pass --overwrite)")
  target = {"float16": tf.float16, "bfloat16": tf.bfloat16, None: None}[dtype]

  tensors = {}
  for name in kept:
    value = tf.constant(reader.get_tensor(name))
    if target is not None and value.dtype == tf.float32:
      value = tf.cast(value, target)
    tensors[name] = value
  before = checkpoint_size(prefix)
  out_dir, out_base = os.path.split(os.path.abspath(output_prefix))
  step_match = re.match(r"^(.*)-(\d+)$", out_base)
  basename, step = (step_match.group(1), int(step_match.group(2))) if step_match else (out_base, None)
  if in_place:
    old_shards = [f for f in os.listdir(out_dir) if f.startswith(out_base + ".data-")]
    checkpoint.write_tensors(out_dir, out_base, tensors)
    for shard in old_shards:  # the new index names only its one shard
      if shard != out_base + ".data-00000-of-00001":
        os.remove(os.path.join(out_dir, shard))
  else:
    _save_plain(out_dir, out_base, tensors, basename, step)
    src_dir = os.path.dirname(os.path.abspath(prefix))
    for side in checkpoint.SIDE_FILES:
      src = os.path.join(src_dir, side)
      if os.path.exists(src) and src_dir != out_dir:
        with open(src, "rb") as f, atomic_write(os.path.join(out_dir, side), "wb") as out:
          shutil.copyfileobj(f, out)
  after = checkpoint_size(os.path.join(out_dir, out_base))
  return {"input": prefix, "output": os.path.join(out_dir, out_base), "kept": len(kept),
          "removed": len(dropped), "removed_names": dropped, "bytes_before": before,
          "bytes_after": after, "ratio": after / before if before else 0.0}


def run(cfg):
  """strip() with a StripConfig; returns its dict."""
  if cfg.in_place and cfg.output:
    raise InputError("--in_place", 0, "cannot be used with --output: replace the input or "
                     "write elsewhere, not both")
  return strip(cfg.checkpoint, cfg.output, cfg.remove_regex, cfg.keep_global_step, cfg.dtype,
               cfg.in_place, cfg.overwrite)


def _save_plain(directory, base, tensors, basename, step):
  """A new checkpoint named ``base`` in ``directory``, with a state file naming it."""
  os.makedirs(directory, exist_ok=True)
  if step is not None:
    checkpoint.save(directory, step, tensors, keep_max=0, basename=basename)
    return
  checkpoint.write_tensors(directory, base, tensors)
  checkpoint.write_state(directory, base, [base])


def same_tensors(prefix_a, prefix_b, names):
  """True when the named tensors are bit-identical in both checkpoints."""
  a, b = checkpoint.open_reader(prefix_a), checkpoint.open_reader(prefix_b)
  return all(np.array_equal(a.get_tensor(n), b.get_tensor(n)) for n in names)
