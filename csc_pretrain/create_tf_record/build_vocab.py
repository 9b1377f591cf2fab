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

from csc_pretrain.create_tf_record.build import expand_inputs
from csc_pretrain.create_tf_record.tokenization import build_vocab
from csc_pretrain.io_utils import InputError, atomic_write, check_can_write, read_lines, run_cli

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
  path = os.path.join(char_meta_dir, "char_meta_extra.tsv")
  counts = {}
  for number, line in read_lines(path):
    fields = line.split("\t")
    if number == 1:
      if "frequency" not in fields:
        raise InputError(path, 1, "not a char_meta_extra.tsv header")
      col = fields.index("frequency")
      continue
    if len(fields[0]) == 1 and 0x4E00 <= ord(fields[0]) <= 0x9FFF:
      counts[fields[0]] = int(fields[col])
  return counts


def main(argv):
  del argv

  def run():
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
    vocab = build_vocab([], counts, FLAGS.max_size)
    with atomic_write(FLAGS.output) as f:
      f.write("\n".join(vocab) + "\n")
    print(f"wrote {len(vocab)} tokens to {FLAGS.output}")

  run_cli(run)


if __name__ == "__main__":
  define_flags()
  app.run(main)
