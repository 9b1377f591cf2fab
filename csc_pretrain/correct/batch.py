"""``python -m csc_pretrain.correct`` without a subcommand: sentences in, JSON lines out.

The sentences come from the command line or a file, one a line; each result is
one JSON line (text, corrected, edits), to a file or stdout.
"""

import dataclasses
import json
import logging
import sys
import time
from typing import Optional

from csc_pretrain.correct.config import CorrectorConfig, make_corrector
from csc_pretrain.io_utils import InputError, atomic_write, read_lines


@dataclasses.dataclass(frozen=True)
class CorrectConfig:
  """What correcting was asked (its flags, same names, and the sentences given)."""
  corrector: CorrectorConfig
  texts: tuple = ()                   # sentences from the command line
  input_file: Optional[str] = None    # one sentence a line (instead of texts)
  output_file: Optional[str] = None   # default: stdout


def json_line(result):
  """One JSON line; characters stay readable, but a lone surrogate (from input bytes
  that were not UTF-8) cannot be written as UTF-8, so such a line is escaped."""
  line = json.dumps(result, ensure_ascii=False)
  if any("\ud800" <= ch <= "\udfff" for ch in line):
    line = json.dumps(result)
  return line + "\n"


def run(cfg):
  """Corrects ``cfg.input_file``'s lines, else ``cfg.texts``."""
  if cfg.input_file:
    texts = [line for _, line in read_lines(cfg.input_file)]
  elif cfg.texts:
    texts = list(cfg.texts)
  else:
    raise InputError("correct", 0, "give sentences as arguments or --input_file")
  corrector = make_corrector(cfg.corrector)
  start = time.time()
  results = corrector.correct(texts)
  seconds = time.time() - start
  lines = "".join(json_line(r) for r in results)
  if cfg.input_file:
    logging.info("corrected %d sentences in %.1f s (%.1f sentences/s), %d edits", len(texts),
                 seconds, len(texts) / max(seconds, 1e-9), sum(len(r["edits"]) for r in results))
  if cfg.output_file:
    with atomic_write(cfg.output_file) as f:
      f.write(lines)
  else:
    sys.stdout.write(lines)
