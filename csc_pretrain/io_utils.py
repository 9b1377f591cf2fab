"""Input/output helpers shared by every stage.

Two promises the whole pipeline keeps:
  * bad input fails with one line naming ``file:line`` (``InputError``);
  * outputs appear whole or not at all: everything is written to a temporary
    file in the destination directory and renamed into place.
"""

import contextlib
import json
import os
import sys
import tempfile


class InputError(Exception):
  """A problem with the user's input, reported as ``path:line: message``."""

  def __init__(self, path, line, message):
    self.path, self.line, self.message = str(path), line, message
    where = f"{self.path}:{line}" if line else self.path
    super().__init__(f"{where}: {message}")


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


def run_cli(main):
  """Runs ``main()`` and turns an InputError into one line on stderr, exit 2."""
  try:
    return main()
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
