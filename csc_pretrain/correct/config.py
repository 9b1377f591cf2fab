"""How correct, tune, evaluate and serve set up a Corrector: one frozen config, no flags.

The fields are the shared flags of ``python -m csc_pretrain.correct`` (same
names); the CLI (csc_pretrain/correct/__main__.py) fills a CorrectorConfig once,
the functions here check it, read its files and build the Corrector.
"""

import dataclasses
import os
import sys
from typing import Optional

from csc_pretrain.io_utils import InputError, check_range

DEFAULT_MAX_SEQ_LENGTH = 128


@dataclasses.dataclass(frozen=True)
class CorrectorConfig:
  checkpoint: str                         # prefix, model.ckpt-N or directory
  bert_config_file: Optional[str] = None  # default: bert_config.json next to the checkpoint
  vocab_file: Optional[str] = None        # default: vocab.txt next to the checkpoint
  confusion_dir: Optional[str] = None     # char_meta output: only its candidates may replace
  thresholds: Optional[str] = None        # JSON from `tune`
  min_prob: Optional[float] = None        # overrides of the thresholds file's values
  margin: Optional[float] = None
  top_k: Optional[int] = None
  decoder: Optional[str] = None           # threshold | fitted
  protect: Optional[str] = None           # file: words or re:PATTERN never edited inside
  lexicon: Optional[str] = None           # file: domain words; or jieba, or jieba,FILE
  second_pass: bool = False
  # None: DEFAULT_MAX_SEQ_LENGTH, cut to the model's max_position_embeddings; a length
  # given explicitly is not cut but refused when the model is shorter.
  max_seq_length: Optional[int] = None
  batch_size: int = 32


def _config_next_to(cfg):
  """bert_config.json as the Corrector finds it: the given file, else next to the checkpoint."""
  if cfg.bert_config_file:
    return cfg.bert_config_file
  path = cfg.checkpoint
  here = path if os.path.isdir(path) else os.path.dirname(path)
  return os.path.join(here, "bert_config.json")


def check(cfg, thresholds=None):
  """Refuses out-of-range or contradictory values before a model is loaded.

  ``thresholds`` (a Thresholds, from the thresholds file and the overrides) is
  checked too; a bad value names the flag that set it, else the thresholds file.
  """
  check_range("--max_seq_length", cfg.max_seq_length, low=3)
  check_range("--batch_size", cfg.batch_size, low=1)
  limits = {"top_k": (1, None), "min_prob": (0, 1), "margin": (-1, 1)}
  for name, (low, high) in limits.items():
    value = getattr(thresholds, name) if thresholds else getattr(cfg, name)
    if value is None:
      continue
    wanted = f"must be in [{low}, {high}]" if high is not None else f"must be >= {low}"
    number = int if name == "top_k" else (int, float)
    if (isinstance(value, bool) or not isinstance(value, number) or value < low
        or (high is not None and value > high)):
      if getattr(cfg, name) is not None or not cfg.thresholds:
        raise InputError(f"--{name}", 0, f"{wanted}, got {value!r}")
      raise InputError(cfg.thresholds, 0, f"{name} is {value!r}: {wanted}")
  config_path = _config_next_to(cfg) if cfg.checkpoint else None
  if config_path and os.path.exists(config_path):
    from csc_pretrain.bert.modeling import BertConfig
    config = BertConfig.from_json_file(config_path)
    # The default is cut to the model's length; a length asked for explicitly is not.
    if cfg.max_seq_length is not None and cfg.max_seq_length > config.max_position_embeddings:
      raise InputError("--max_seq_length", 0, f"{cfg.max_seq_length} is more than the model's "
                       f"max_position_embeddings {config.max_position_embeddings} ({config_path})")
    top_k = thresholds.top_k if thresholds else cfg.top_k
    if top_k is not None and top_k > config.vocab_size:
      raise InputError("--top_k", 0, f"{top_k} is more than the model's vocab_size "
                       f"{config.vocab_size} ({config_path})")


def load_thresholds(cfg):
  """The thresholds file (or the defaults) with the config's overrides, checked."""
  from csc_pretrain.correct.corrector import Thresholds
  th = Thresholds.from_file(cfg.thresholds) if cfg.thresholds else Thresholds()
  for name in ("min_prob", "margin", "top_k", "decoder"):
    if getattr(cfg, name) is not None:
      setattr(th, name, getattr(cfg, name))
  check(cfg, th)
  tuned_with = (th.calibration or {}).get("constraints")
  used = constraints_record(cfg)
  if tuned_with is not None and tuned_with != used:
    # Not an error: a user may mean it. But the calibrated FPR was measured with those.
    print(f"warning: {cfg.thresholds} was tuned with {_flags(tuned_with)}, this run has "
          f"{_flags(used)}: its calibrated false-positive rate may not hold", file=sys.stderr)
  if th.decoder == "fitted" and th.fitted is None:
    raise InputError("--decoder", 0, "fitted needs a --thresholds file with a fitted boundary "
                     "(from `python -m csc_pretrain.correct tune --decoder fitted`)")
  return th


def constraints_record(cfg):
  """What ``tune`` writes into the calibration: the protect and lexicon flags it ran with."""
  return {"protect": cfg.protect, "lexicon": cfg.lexicon}


def _flags(record):
  given = [f"--{k} {v}" for k, v in record.items() if v]
  return " ".join(given) if given else "neither --protect nor --lexicon"


def load_constraints(cfg):
  """Constraints from the protect and lexicon files (None when neither is given)."""
  from csc_pretrain.correct.constraints import Constraints
  return Constraints.from_files(cfg.protect, cfg.lexicon)


def make_corrector(cfg, thresholds=None, constraints=None):
  """A Corrector as ``cfg`` describes it; ``thresholds`` replaces the thresholds file
  and its overrides (tune, which chooses them), ``constraints`` the protect and
  lexicon files (already read)."""
  from csc_pretrain.correct.corrector import Corrector
  thresholds = thresholds or load_thresholds(cfg)
  # A bad protect or lexicon line fails before the model loads.
  constraints = constraints or load_constraints(cfg)
  max_seq_length = (DEFAULT_MAX_SEQ_LENGTH if cfg.max_seq_length is None
                    else cfg.max_seq_length)
  return Corrector(cfg.checkpoint, cfg.bert_config_file, cfg.vocab_file, cfg.confusion_dir,
                   thresholds, max_seq_length, cfg.batch_size, constraints, cfg.second_pass)
