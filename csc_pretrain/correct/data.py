"""Reading evaluation files into (id, wrong, correct) triples."""

import re

from csc_pretrain.io_utils import InputError, read_lines


def read_pairs(path):
  """``wrong<TAB>correct`` or ``id<TAB>wrong<TAB>correct`` lines."""
  out = []
  for number, line in read_lines(path):
    if not line.strip():
      continue
    fields = line.split("\t")
    if len(fields) == 2:
      sid, (wrong, correct) = str(number), fields
    elif len(fields) == 3:
      sid, wrong, correct = fields
    else:
      raise InputError(path, number, f"expected wrong<TAB>correct or id<TAB>wrong<TAB>correct, "
                       f"got {len(fields)} fields")
    if len(wrong) != len(correct):
      raise InputError(path, number, f"wrong and correct differ in length ({len(wrong)} vs "
                       f"{len(correct)}): CSC pairs substitute characters only")
    out.append((sid, wrong, correct))
  if not out:
    raise InputError(path, 0, "no pairs")
  return out


def read_sighan(input_path, truth_path):
  """SIGHAN bake-off files: ``(pid=ID)<TAB>sentence`` and truth lines
  ``ID, loc, char, loc, char`` (1-based locations) or ``ID, 0``."""
  sentences = {}
  for number, line in read_lines(input_path):
    if not line.strip():
      continue
    m = re.match(r"^\((?:pid|nid|sid)=([^)]+)\)\s*(.*)$", line.strip(), re.I)
    if not m:
      raise InputError(input_path, number, "expected (pid=ID)<TAB>sentence")
    sentences[m.group(1)] = m.group(2)
  out = []
  for number, line in read_lines(truth_path):
    if not line.strip():
      continue
    fields = [f.strip() for f in line.split(",")]
    sid = fields[0]
    if sid not in sentences:
      raise InputError(truth_path, number, f"id {sid!r} is not in {input_path}")
    wrong = sentences[sid]
    correct = list(wrong)
    rest = fields[1:]
    if rest != ["0"]:
      if len(rest) % 2:
        raise InputError(truth_path, number, "expected ID, loc, char[, loc, char ...] or ID, 0")
      for loc, ch in zip(rest[::2], rest[1::2]):
        if not loc.isdigit() or not 1 <= int(loc) <= len(wrong) or len(ch) != 1:
          raise InputError(truth_path, number, f"bad location/correction {loc!r}, {ch!r}")
        correct[int(loc) - 1] = ch
    out.append((sid, wrong, "".join(correct)))
  if not out:
    raise InputError(truth_path, 0, "no truth lines")
  return out
