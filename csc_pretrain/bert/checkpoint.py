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
# Files that travel with a checkpoint, and the flag that names each elsewhere.
SIDE_FILES = {"bert_config.json": "--bert_config_file", "vocab.txt": "--vocab_file"}


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


def side_file(prefix, name, given=None):
  """``given`` (a flag's value) if set, else the side file ``name`` next to ``prefix``;
  InputError when it does not exist."""
  path = given or os.path.join(os.path.dirname(prefix), name)
  if not os.path.exists(path):
    raise InputError(path, 0, f"no such file (pass {SIDE_FILES[name]})")
  return path


class Reader:
  """A checkpoint reader whose every failure is an InputError naming the checkpoint.

  ``tf.train.load_checkpoint`` reads only the .index; a missing, truncated or
  corrupt data file shows when a tensor is read, as an OpError or (a short read)
  an IndexError with a traceback. ``open_reader`` checks the data files' sizes
  up front, and ``get_tensor`` turns what is left (bad checksums) into one line.
  """

  def __init__(self, prefix, reader):
    self.prefix = prefix
    self._reader = reader

  def get_variable_to_shape_map(self):
    return self._reader.get_variable_to_shape_map()

  def get_variable_to_dtype_map(self):
    return self._reader.get_variable_to_dtype_map()

  def has_tensor(self, name):
    return self._reader.has_tensor(name)

  def get_tensor(self, name):
    try:
      return self._reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, ValueError, RuntimeError) as e:
      raise InputError(_data_path(self.prefix), 0, f"corrupt checkpoint: cannot read {name}: "
                       f"{_first_line(e)}") from None


def _first_line(error):
  lines = str(error).strip().splitlines()
  return lines[0] if lines else type(error).__name__


def _data_files(prefix):
  directory, base = os.path.split(prefix)
  pattern = re.compile(re.escape(base) + r"\.data-(\d+)-of-(\d+)$")
  found = []
  for f in os.listdir(directory or "."):
    m = pattern.match(f)
    if m:
      found.append((int(m.group(1)), int(m.group(2)), os.path.join(directory, f)))
  return sorted(found)


def _data_path(prefix):
  """The data file to name in an error: the only shard, else the prefix."""
  files = _data_files(prefix)
  return files[0][2] if len(files) == 1 else prefix


def _check_data_files(prefix, reader):
  """Fails on missing shards or data files shorter than the tensors the index lists.

  SaveV2 writes the tensors' bytes back to back, so the shards together hold at
  least the sum of their sizes (strings aside, whose size the index does not say).
  """
  files = _data_files(prefix)
  if not files:
    raise InputError(prefix + ".data-00000-of-00001", 0, "no such file: the checkpoint "
                     "has an .index but no data file")
  total = files[0][1]
  present = {shard for shard, _, _ in files}
  for shard in range(total):
    if shard not in present:
      raise InputError(f"{prefix}.data-{shard:05d}-of-{total:05d}", 0, "no such file: "
                       "a shard of this checkpoint is missing")
  shapes = reader.get_variable_to_shape_map()
  dtypes = reader.get_variable_to_dtype_map()
  expected = 0
  for name, shape in shapes.items():
    if dtypes[name] != tf.string:
      count = 1
      for dim in shape:
        count *= dim
      expected += count * dtypes[name].size
  actual = sum(os.path.getsize(path) for _, _, path in files)
  if actual < expected:
    raise InputError(_data_path(prefix), 0, f"truncated checkpoint: {actual} bytes of data, "
                     f"the index lists {expected}")


def open_reader(prefix):
  """A ``Reader`` for the checkpoint at ``prefix``, its data files checked."""
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as e:
    raise InputError(prefix + ".index", 0, f"unreadable checkpoint: {_first_line(e)}") from None
  _check_data_files(prefix, reader)
  return Reader(prefix, reader)


def read_shapes(prefix):
  """``(reader, {name: shape})`` of a checkpoint; InputError if it is unreadable."""
  reader = open_reader(prefix)
  return reader, reader.get_variable_to_shape_map()


def write_state(directory, latest, all_paths):
  """The ``checkpoint`` state file naming ``latest`` and ``all_paths``, atomically."""
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


def write_tensors(directory, base, tensors):
  """``{name: tensor}`` as the checkpoint ``directory/base`` (one data shard), whole or
  not at all: SaveV2 to a temporary prefix, then renamed, the index last (it is what
  makes the prefix exist). The state file is left alone."""
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, f".tmp-{base}-{os.getpid()}")
  names = sorted(tensors)
  tf.raw_ops.SaveV2(prefix=tmp, tensor_names=names, shape_and_slices=[""] * len(names),
                    tensors=[tensors[n] for n in names])
  for suffix in (".data-00000-of-00001", ".index"):
    os.replace(tmp + suffix, os.path.join(directory, base + suffix))
  return os.path.join(directory, base)


def save(directory, step, tensors, keep_max=5, basename="model.ckpt"):
  """Writes ``{name: tensor}`` as ``directory/basename-step`` and returns the prefix."""
  final = f"{basename}-{int(step)}"
  write_tensors(directory, final, tensors)
  kept = [p for p in list_checkpoints(directory) if p != final] + [final]
  removed = kept[:-keep_max] if keep_max and len(kept) > keep_max else []
  kept = kept[len(removed):]
  write_state(directory, final, kept)
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
