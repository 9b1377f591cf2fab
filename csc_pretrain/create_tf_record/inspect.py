r"""Prints the first instances of TFRecord files back as text and checks every record.

  python -m csc_pretrain.create_tf_record.inspect --input_file tf_examples.tfrecord \
      --vocab_file vocab.txt [--max_seq_length 128 --max_predictions_per_seq 20] [--show 3]

The lengths default to those in the records' stats.json (create_tf_record's).

Every record is parsed with TensorFlow's own parser against Google's schema
(names, dtypes, lengths); any record that does not fit stops the check with
its file and record number. Masked positions print as [input→label].
"""

import sys

from absl import app, flags

from csc_pretrain.bert import tfrecord
from csc_pretrain.bert.tokenization import load_vocab
from csc_pretrain.io_utils import InputError, check_range, expand_inputs, quiet_tensorflow, run_cli

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("input_file", None, "TFRecord files (comma-separated, globs).")
  flags.DEFINE_string("vocab_file", None, "vocab.txt the records were made with.")
  flags.DEFINE_integer("max_seq_length", None, "Expected sequence length (default: from the "
                       "records' stats.json, else 128).")
  flags.DEFINE_integer("max_predictions_per_seq", None, "Expected masked positions per record "
                       "(default: from the records' stats.json, else 20).")
  flags.DEFINE_integer("show", 3, "How many instances to print.")
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("vocab_file")


def check_flags(max_seq_length, max_predictions_per_seq, show=0):
  """Refuses lengths no record can have before any file is read."""
  check_range("--max_seq_length", max_seq_length, low=3)
  check_range("--max_predictions_per_seq", max_predictions_per_seq, low=1)
  if None not in (max_seq_length, max_predictions_per_seq) and (
      max_predictions_per_seq > max_seq_length):
    raise InputError("--max_predictions_per_seq", 0, f"{max_predictions_per_seq} is more than "
                     f"--max_seq_length {max_seq_length}")
  check_range("--show", show, low=0)


def render(parsed, inv_vocab):
  """One instance as text: tokens, with [input→label] at masked positions."""
  length = int(parsed["input_mask"].sum())
  tokens = [inv_vocab[i] for i in parsed["input_ids"][:length]]
  for pos, label, weight in zip(parsed["masked_lm_positions"], parsed["masked_lm_ids"],
                                parsed["masked_lm_weights"]):
    if weight > 0:
      tokens[pos] = f"[{tokens[pos]}→{inv_vocab[label]}]"
  return " ".join(tokens)


def main(argv):
  del argv

  def run():
    check_flags(FLAGS.max_seq_length, FLAGS.max_predictions_per_seq, FLAGS.show)
    paths = expand_inputs(FLAGS.input_file)
    lengths = tfrecord.resolve_lengths(paths, {key: FLAGS[key].value
                                               for key in tfrecord.LENGTH_KEYS})
    check_flags(lengths["max_seq_length"], lengths["max_predictions_per_seq"], FLAGS.show)
    inv_vocab = list(load_vocab(FLAGS.vocab_file))
    count = 0
    for path, n, parsed in tfrecord.check_records(paths, lengths["max_seq_length"],
                                                  lengths["max_predictions_per_seq"],
                                                  vocab_size=len(inv_vocab)):
      if count < FLAGS.show:
        print(f"--- {path} record {n}  next_sentence_label={int(parsed['next_sentence_labels'][0])}")
        print(render(parsed, inv_vocab))
      count += 1
    print(f"{count} records, all in Google BERT's schema "
          f"(max_seq_length {lengths['max_seq_length']}, max_predictions_per_seq "
          f"{lengths['max_predictions_per_seq']})", file=sys.stderr)

  run_cli(run)


if __name__ == "__main__":
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)
