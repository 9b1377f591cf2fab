"""Flags shared by the correct, evaluate and serve commands."""

from absl import flags

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
  flags.DEFINE_integer("max_seq_length", 128, "Longer texts are corrected in windows.")
  flags.DEFINE_integer("batch_size", 32, "Sentences per model call.")
  flags.mark_flag_as_required("checkpoint")


def thresholds_from_flags():
  from csc_pretrain.correct.corrector import Thresholds
  th = Thresholds.from_file(FLAGS.thresholds) if FLAGS.thresholds else Thresholds()
  for name in ("min_prob", "margin", "top_k"):
    if FLAGS[name].value is not None:
      setattr(th, name, FLAGS[name].value)
  return th


def make_corrector():
  from csc_pretrain.correct.corrector import Corrector
  return Corrector(FLAGS.checkpoint, FLAGS.bert_config_file, FLAGS.vocab_file,
                   FLAGS.confusion_dir, thresholds_from_flags(), FLAGS.max_seq_length,
                   FLAGS.batch_size)
