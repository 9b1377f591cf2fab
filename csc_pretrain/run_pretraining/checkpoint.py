"""Name-based TF checkpoints, the kind Google's TF1 Saver writes and reads.

``model.ckpt-N.index`` + ``model.ckpt-N.data-00000-of-00001`` hold tensors by
plain name (``bert/encoder/layer_0/attention/self/query/kernel``, its
``/adam_m`` and ``/adam_v`` slots, ``global_step``), and the ``checkpoint``
text file names the latest one. Written by the SaveV2 op that TF1's Saver
uses, to a temporary prefix that is renamed into place, the state file last:
a run killed mid-save leaves the previous checkpoint as the latest.
"""

import os
import re
import tempfile

import tensorflow as tf

from csc_pretrain.io_utils import InputError, set_default_mode

STATE_FILE = "checkpoint"


def resolve(path):
  """A checkpoint prefix from a prefix, ``model.ckpt-N``, a file of it, or a directory."""
  if os.path.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      raise InputError(path, 0, "no checkpoint in this directory (no 'checkpoint' state file)")
    return latest
  path = re.sub(r"\.(index|meta|data-\d+-of-\d+)$", "", path)
  if not os.path.exists(path + ".index"):
    raise InputError(path, 0, "not a checkpoint: no .index file for this prefix")
  return path


def read_shapes(prefix):
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise InputError(prefix, 0, f"unreadable checkpoint: {str(e).splitlines()[0]}") from None
  return reader, reader.get_variable_to_shape_map()


def _write_state(directory, latest, all_paths):
  lines = [f'model_checkpoint_path: "{latest}"']
  lines += [f'all_model_checkpoint_paths: "{p}"' for p in all_paths]
  fd, tmp = tempfile.mkstemp(prefix=".checkpoint.", dir=directory)
  with os.fdopen(fd, "w") as f:
    f.write("\n".join(lines) + "\n")
  set_default_mode(tmp)
  os.replace(tmp, os.path.join(directory, STATE_FILE))


def list_checkpoints(directory):
  """Basenames in the state file, oldest first."""
  state = tf.train.get_checkpoint_state(directory)
  if state is None:
    return []
  return [os.path.basename(p) for p in state.all_model_checkpoint_paths]


def save(directory, step, tensors, keep_max=5, basename="model.ckpt"):
  """Writes ``{name: tensor}`` as ``directory/basename-step`` and returns the prefix."""
  os.makedirs(directory, exist_ok=True)
  final = f"{basename}-{int(step)}"
  tmp = os.path.join(directory, f".tmp-{final}-{os.getpid()}")
  names = sorted(tensors)
  tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names),
                    tensors=[tensors[n] for n in names])
  for suffix in (".data-00000-of-00001", ".index"):  # the index last: it makes the prefix exist
    os.replace(tmp + suffix, os.path.join(directory, final + suffix))
  kept = [p for p in list_checkpoints(directory) if p != final] + [final]
  removed = kept[:-keep_max] if keep_max and len(kept) > keep_max else []
  kept = kept[len(removed):]
  _write_state(directory, final, kept)
  for old in removed:
    for f in os.listdir(directory):
      if f.startswith(old + ".") and f[len(old) + 1:].split("-")[0] in ("index", "data", "meta"):
        os.remove(os.path.join(directory, f))
  return os.path.join(directory, final)


def restore(prefix, variables, regex=None, required=True):
  """Assigns checkpoint tensors to ``{name: variable}`` by name.

  With ``regex``, only names matching it are loaded. Every missing or
  mis-shaped variable is listed in one InputError before anything is assigned.
  Returns the names loaded.
  """
  reader, shapes = read_shapes(prefix)
  wanted = {n: v for n, v in variables.items() if regex is None or re.search(regex, n)}
  missing = sorted(n for n in wanted if n not in shapes)
  wrong = sorted(f"{n} {shapes[n]} (model wants {v.shape.as_list()})" for n, v in wanted.items()
                 if n in shapes and list(shapes[n]) != v.shape.as_list())
  problems = []
  if missing and required:
    problems.append(f"{len(missing)} missing: " + ", ".join(missing[:20]) +
                    (" ..." if len(missing) > 20 else ""))
  if wrong:
    problems.append(f"{len(wrong)} with another shape: " + "; ".join(wrong[:20]))
  if problems:
    raise InputError(prefix, 0, "does not fit the model: " + " | ".join(problems))
  loaded = []
  for name, var in wanted.items():
    if name in shapes:
      var.assign(reader.get_tensor(name).astype(var.dtype.as_numpy_dtype))
      loaded.append(name)
  return loaded
