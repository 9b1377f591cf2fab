r"""Writes a BERT-Chinese-style vocab.txt for demos and tests (no checkpoint download here).

  python -m csc_pretrain.create_tf_record.build_vocab --input_file create_data/correct.txt \
      --char_meta_dir char_meta --max_size 8000 --output vocab.txt

Special tokens in Google's order ([PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK]),
ASCII, the corpus' characters and char_meta's most frequent ones by count, then
"##" continuations of letters and digits. With a real Google or HIT checkpoint,
use its own vocab.txt instead.
"""

import collections
import os

from absl import app, flags

from csc_pretrain.bert.tokenization import build_vocab
from csc_pretrain.io_utils import (InputError, atomic_write, check_can_write, check_range,
                                   expand_inputs, is_cjk, quiet_tensorflow, read_lines, run_cli)

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("input_file", None, "Corpus files (comma-separated, globs).")
  flags.DEFINE_string("char_meta_dir", None, "char_meta output dir: adds its characters "
                      "(by frequency) so confusion candidates are in the vocab.")
  flags.DEFINE_integer("max_size", None, "Vocab size cap (default: everything).")
  flags.DEFINE_string("output", None, "Where to write vocab.txt.")
  flags.DEFINE_bool("overwrite", False, "Replace an existing file.")
  flags.mark_flag_as_required("output")


def char_meta_counts(char_meta_dir):
  from csc_pretrain.char_meta import formats
  path = os.path.join(char_meta_dir, formats.CHAR_META_EXTRA)
  counts = {}
  for number, row in formats.read_char_meta_extra(path, ("char", "frequency")):
    try:
      count = int(row["frequency"])
    except ValueError:
      raise InputError(path, number, f"frequency {row['frequency']!r} is not an integer") from None
    if count < 0:
      raise InputError(path, number, f"frequency {count} is negative")
    if is_cjk(row["char"]):
      counts[row["char"]] = count
  return counts


def main(argv):
  del argv

  def run():
    if not (FLAGS.input_file or FLAGS.char_meta_dir):
      raise InputError("--input_file", 0, "nothing to build from: pass --input_file and/or "
                       "--char_meta_dir")
    check_range("--max_size", FLAGS.max_size, low=1)
    check_can_write([FLAGS.output], FLAGS.overwrite)
    corpus = collections.Counter()
    for path in expand_inputs(FLAGS.input_file) if FLAGS.input_file else []:
      for _, line in read_lines(path):
        corpus.update(ch for ch in line if not ch.isspace())
    general = char_meta_counts(FLAGS.char_meta_dir) if FLAGS.char_meta_dir else {}
    # Every corpus character outranks every character only char_meta knows.
    scale = 1 + max(general.values(), default=0)
    counts = {ch: n * scale for ch, n in corpus.items()}
    for ch, n in general.items():
      counts[ch] = counts.get(ch, 0) + n
    try:
      vocab = build_vocab([], counts, FLAGS.max_size)
    except ValueError as e:  # a max_size below the special tokens, ASCII and continuations
      raise InputError("--max_size", 0, str(e)) from None
    with atomic_write(FLAGS.output) as f:
      f.write("\n".join(vocab) + "\n")
    print(f"wrote {len(vocab)} tokens to {FLAGS.output}")

  run_cli(run)


if __name__ == "__main__":
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)
