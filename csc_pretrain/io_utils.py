"""Input/output helpers shared by every stage.

Two promises the whole pipeline keeps:
  * bad input fails with one line naming ``file:line`` (``InputError``);
  * outputs appear whole or not at all: everything is written to a temporary
    file in the destination directory and renamed into place.
"""

import contextlib
import dataclasses
import glob
import importlib.abc
import importlib.util
import json
import logging
import os
import sys
import tempfile


# The characters the pipeline corrects and char_meta covers: the basic block of CJK
# Unified Ideographs. (BERT's tokenizer has its own, wider test, Google's.)
CJK_FIRST, CJK_LAST = 0x4E00, 0x9FFF


def is_cjk(char):
  return len(char) == 1 and CJK_FIRST <= ord(char) <= CJK_LAST


class InputError(Exception):
  """A problem with the user's input, reported as ``path:line: message``."""

  def __init__(self, path, line, message):
    self.path, self.line, self.message = str(path), line, message
    where = f"{self.path}:{line}" if line else self.path
    super().__init__(f"{where}: {message}")


def expand_inputs(spec):
  """Comma-separated paths and globs, in the order given (each glob sorted)."""
  paths = []
  for part in filter(None, (p.strip() for p in spec.split(","))):
    matches = sorted(glob.glob(part))
    if not matches:
      raise InputError(part, 0, "no such file")
    paths.extend(matches)
  return paths


def read_json(path):
  """A JSON file's value; InputError naming the file (and line) if missing or malformed."""
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except FileNotFoundError:
    raise InputError(path, 0, "no such file") from None
  except json.JSONDecodeError as e:
    raise InputError(path, e.lineno, f"not JSON: {e.msg}") from None


def read_lines(path):
  """Yields ``(line_number, text)`` for a UTF-8 file, without line endings.

  Streams the file; raises InputError on a missing file or on bytes that are
  not UTF-8, naming the line they are on.
  """
  if not os.path.isfile(path):
    raise InputError(path, 0, "no such file")
  with open(path, "rb") as f:
    for number, raw in enumerate(f, start=1):
      try:
        text = raw.decode("utf-8")
      except UnicodeDecodeError as e:
        raise InputError(path, number, f"not valid UTF-8 (byte {e.start})") from None
      if number == 1 and text.startswith("\ufeff"):
        text = text[1:]  # tolerate a byte-order mark, as Notepad writes one
      yield number, text.rstrip("\r\n")


@contextlib.contextmanager
def atomic_write(path, mode="w", overwrite=True):
  """Opens a temporary file next to ``path`` and renames it there on success.

  On any exception the temporary file is removed and ``path`` is untouched.
  """
  path = os.fspath(path)
  if not overwrite and os.path.exists(path):
    raise InputError(path, 0, "exists; refusing to overwrite (pass --overwrite)")
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                             dir=directory)
  try:
    set_default_mode(tmp)
    encoding = None if "b" in mode else "utf-8"
    with os.fdopen(fd, mode, encoding=encoding, newline=None if encoding is None else "\n") as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise


def set_default_mode(path):
  """mkstemp makes files 0600; outputs get the usual 0666 & ~umask."""
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(path, 0o666 & ~umask)


def check_can_write(paths, overwrite):
  """Fails before any work starts if an output exists and overwriting is off."""
  if overwrite:
    return
  for path in paths:
    if os.path.exists(path):
      raise InputError(path, 0, "exists; refusing to overwrite (pass --overwrite)")


def check_range(flag, value, low=None, high=None, low_open=False, high_open=False):
  """Refuses a flag value outside [low, high] (an open end excludes the bound).

  The error names the flag, e.g. ``--masked_lm_prob: must be in (0, 1], got 1.5``.
  """
  if value is None:
    return
  if value != value:  # NaN passes every comparison
    raise InputError(flag if flag.startswith("-") else "--" + flag, 0, "must be a number, got nan")
  too_low = low is not None and (value <= low if low_open else value < low)
  too_high = high is not None and (value >= high if high_open else value > high)
  if not (too_low or too_high):
    return
  if high is None:
    wanted = f"> {low}" if low_open else f">= {low}"
  elif low is None:
    wanted = f"< {high}" if high_open else f"<= {high}"
  else:
    wanted = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
  raise InputError(flag if flag.startswith("-") else "--" + flag, 0, f"must be {wanted}, got {value}")


def define_flag_table(table, config_class):
  """Defines one absl flag per row ``(name, kind, help[, enum_values])``.

  ``kind`` is string, integer, float, bool, list or enum. The default is the
  field of ``config_class`` with the same name (None when it has none), so a
  stage's defaults live in one place: its config dataclass.
  """
  from absl import flags  # here: the libraries import io_utils and need no absl
  # Attribute the flags to the caller, as if it had defined them: --help lists a
  # module's own flags, and these are the stage's.
  flags.disclaim_key_flags()
  fields = {f.name: f for f in dataclasses.fields(config_class)}
  for name, kind, help_text, *enum_values in table:
    field = fields[name]
    default = field.default
    if field.default_factory is not dataclasses.MISSING:
      default = field.default_factory()
    if default is dataclasses.MISSING:
      default = None
    if kind == "enum":
      flags.DEFINE_enum(name, default, enum_values[0], help_text)
    elif kind == "list":
      # absl's list parser takes a list or a comma-separated string, not a tuple.
      flags.DEFINE_list(name, None if default is None else list(default), help_text)
    else:
      getattr(flags, "DEFINE_" + kind)(name, default, help_text)


def flag_values(table):
  """``{name: value}`` of the flags in ``table``, as their config dataclass takes them."""
  from absl import flags
  return {name: flags.FLAGS[name].value for name, *_ in table}


def quiet_tensorflow():
  """Hides TensorFlow's C++ start-up log unless TF_CPP_MIN_LOG_LEVEL says otherwise.

  On every CPU machine it prints a screenful of notices, among them "failed call
  to cuInit", which reads like a failure. Level 3 hides most of it; the CUDA stub
  notices printed while TensorFlow loads ignore that level (tensorflow#100442),
  so the first ``import tensorflow`` also runs with the stderr descriptor closed
  off. Python errors still show. TF_CPP_MIN_LOG_LEVEL=0 shows it all again.
  """
  if os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") != "3":
    return
  if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport)
                                                 for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietImport())


class _QuietImport(importlib.abc.MetaPathFinder):
  """Runs the first import of the tensorflow package with file descriptor 2 on /dev/null."""

  def find_spec(self, name, path, target=None):
    if name != "tensorflow":
      return None
    sys.meta_path.remove(self)  # once, and never for our own lookup below
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
      return spec
    exec_module = spec.loader.exec_module

    def quiet_exec_module(module):
      sys.stderr.flush()
      saved = os.dup(2)
      devnull = os.open(os.devnull, os.O_WRONLY)
      try:
        os.dup2(devnull, 2)
        exec_module(module)
      finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)

    spec.loader.exec_module = quiet_exec_module
    return spec


class _ShortFormatter(logging.Formatter):
  """``12:03:45 message``: absl's default prefix (date, thread id, file:line) is
  for log files, not for a person at a terminal. Warnings and errors say so."""

  def __init__(self):
    super().__init__("%(asctime)s %(message)s", "%H:%M:%S")

  def format(self, record):
    text = super().format(record)
    if record.levelno >= logging.WARNING:
      time_part, _, message = text.partition(" ")
      text = f"{time_part} {record.levelname}: {message}"
    return text


def keep_freed_memory(limit=1 << 30):
  """Makes glibc's malloc keep freed blocks (up to ``limit`` bytes each) for reuse.

  A training step allocates and frees the same few hundred MB of tensors each
  time. By default glibc hands blocks over 32 MB (the vocabulary logits) back to
  the kernel with munmap and trims the heap, so every step faults the pages in
  again: about 80,000 page faults and a fifth of a core in the kernel per step on
  the speed benchmark's model. Kept, the pages are reused (the process keeps its
  peak size). Returns False where the C library has no mallopt (not glibc).
  """
  import ctypes
  import ctypes.util
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = libc.mallopt
  except (OSError, AttributeError):
    return False
  m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
  return bool(mallopt(m_mmap_threshold, limit) and mallopt(m_trim_threshold, limit))


def run_cli(main):
  """Runs ``main()`` and turns an InputError into one line on stderr, exit 2.

  Also sets what a person at a terminal should see: short log lines, and no
  TensorFlow start-up noise (see quiet_tensorflow).
  """
  quiet_tensorflow()
  from absl import logging as absl_logging
  absl_logging.get_absl_handler().setFormatter(_ShortFormatter())
  try:
    return main()
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
