"""Flags shared by the correct, evaluate and serve commands."""

import os

from absl import flags

from csc_pretrain.io_utils import InputError, check_range

FLAGS = flags.FLAGS


def define_common_flags():
  flags.DEFINE_string("checkpoint", None, "Checkpoint prefix, model.ckpt-N or directory.")
  flags.DEFINE_string("bert_config_file", None, "Default: bert_config.json next to the checkpoint.")
  flags.DEFINE_string("vocab_file", None, "Default: vocab.txt next to the checkpoint.")
  flags.DEFINE_string("confusion_dir", None, "char_meta output: only its candidates may replace a "
                      "character (recommended).")
  flags.DEFINE_string("thresholds", None, "JSON from `tune` (min_prob, margin, top_k).")
  flags.DEFINE_float("min_prob", None, "Override: a candidate's least probability.")
  flags.DEFINE_float("margin", None, "Override: how much it must beat the original's probability.")
  flags.DEFINE_integer("top_k", None, "Override: candidates read per position.")
  flags.DEFINE_enum("decoder", None, ["threshold", "fitted"], "Override the thresholds file's "
                    "rule: threshold (min_prob/margin) or fitted (the confidence-similarity "
                    "boundary `tune --decoder fitted` wrote). Default: the file's, else threshold.")
  flags.DEFINE_string("protect", None, "Words, or regexes written re:PATTERN, one a line, never "
                      "edited inside (drug names, legal terms, product codes).")
  flags.DEFINE_string("lexicon", None, "Domain words, one a line: a correction that breaks one "
                      "is refused, one that makes one is favoured.")
  flags.DEFINE_bool("second_pass", False, "Read corrected sentences again; keep a new edit only "
                    "next to a first-round edit (two-character errors).")
  flags.DEFINE_integer("max_seq_length", 128, "Longer texts are corrected in windows.")
  flags.DEFINE_integer("batch_size", 32, "Sentences per model call.")
  flags.mark_flag_as_required("checkpoint")


def _config_next_to(checkpoint_path):
  """bert_config.json as the Corrector finds it: the flag, else next to the checkpoint."""
  if FLAGS.bert_config_file:
    return FLAGS.bert_config_file
  here = checkpoint_path if os.path.isdir(checkpoint_path) else os.path.dirname(checkpoint_path)
  return os.path.join(here, "bert_config.json")


def check_common_flags(thresholds=None):
  """Refuses out-of-range or contradictory shared flags before a model is loaded.

  ``thresholds`` (a Thresholds, from --thresholds and the overrides) is checked
  too; a bad value names the flag that set it, else the thresholds file.
  """
  check_range("--max_seq_length", FLAGS.max_seq_length, low=3)
  check_range("--batch_size", FLAGS.batch_size, low=1)
  limits = {"top_k": (1, None), "min_prob": (0, 1), "margin": (-1, 1)}
  for name, (low, high) in limits.items():
    value = getattr(thresholds, name) if thresholds else FLAGS[name].value
    if value is None:
      continue
    wanted = f"must be in [{low}, {high}]" if high is not None else f"must be >= {low}"
    number = int if name == "top_k" else (int, float)
    if (isinstance(value, bool) or not isinstance(value, number) or value < low
        or (high is not None and value > high)):
      if FLAGS[name].value is not None or not FLAGS.thresholds:
        raise InputError(f"--{name}", 0, f"{wanted}, got {value!r}")
      raise InputError(FLAGS.thresholds, 0, f"{name} is {value!r}: {wanted}")
  config_path = _config_next_to(FLAGS.checkpoint) if FLAGS.checkpoint else None
  if config_path and os.path.exists(config_path):
    from csc_pretrain.run_pretraining.modeling import BertConfig
    config = BertConfig.from_json_file(config_path)
    # The default is cut to the model's length; a length asked for explicitly is not.
    if FLAGS["max_seq_length"].present and FLAGS.max_seq_length > config.max_position_embeddings:
      raise InputError("--max_seq_length", 0, f"{FLAGS.max_seq_length} is more than the model's "
                       f"max_position_embeddings {config.max_position_embeddings} ({config_path})")
    top_k = thresholds.top_k if thresholds else FLAGS.top_k
    if top_k is not None and top_k > config.vocab_size:
      raise InputError("--top_k", 0, f"{top_k} is more than the model's vocab_size "
                       f"{config.vocab_size} ({config_path})")


def thresholds_from_flags():
  from csc_pretrain.correct.corrector import Thresholds
  th = Thresholds.from_file(FLAGS.thresholds) if FLAGS.thresholds else Thresholds()
  for name in ("min_prob", "margin", "top_k", "decoder"):
    if FLAGS[name].value is not None:
      setattr(th, name, FLAGS[name].value)
  check_common_flags(th)
  if th.decoder == "fitted" and th.fitted is None:
    raise InputError("--decoder", 0, "fitted needs a --thresholds file with a fitted boundary "
                     "(from `python -m csc_pretrain.correct tune --decoder fitted`)")
  return th


def constraints_from_flags():
  """Constraints from --protect and --lexicon (None when neither is given)."""
  from csc_pretrain.correct.constraints import Constraints
  return Constraints.from_files(FLAGS.protect, FLAGS.lexicon)


def make_corrector(thresholds=None, constraints=None):
  """A Corrector from the shared flags; ``thresholds`` replaces --thresholds and its
  overrides (tune, which chooses them), ``constraints`` --protect and --lexicon
  (already read)."""
  from csc_pretrain.correct.corrector import Corrector
  thresholds = thresholds or thresholds_from_flags()
  # A bad --protect or --lexicon line fails before the model loads.
  constraints = constraints or constraints_from_flags()
  return Corrector(FLAGS.checkpoint, FLAGS.bert_config_file, FLAGS.vocab_file,
                   FLAGS.confusion_dir, thresholds, FLAGS.max_seq_length,
                   FLAGS.batch_size, constraints, FLAGS.second_pass)
