r"""Stage 3 CLI: masked-LM TFRecords. Flags follow Google's create_pretraining_data.py.

  python -m csc_pretrain.create_tf_record --input_file create_data/correct.txt \
      --wrong_input_file create_data/wrong.txt --output_file create_data/tf_examples.tfrecord \
      --vocab_file vocab.txt --mask_probability_file create_data/mask_probability.sav \
      --confusion_dir char_meta

On N machines, the same command with --num_shards N --shard_index i (0..N-1) on
machine i writes tf_examples-0000i-of-0000N.tfrecord and its stats.json; then

  python -m csc_pretrain.create_tf_record merge_stats --output create_data/tf_examples.stats.json \
      'create_data/tf_examples-*-of-0000N.tfrecord.stats.json'

checks that every shard is there, made with the same settings, and sums them.
"""

import logging
import sys

from absl import app, flags

from csc_pretrain.create_tf_record import build, instances
from csc_pretrain.io_utils import InputError, quiet_tensorflow, run_cli

FLAGS = flags.FLAGS


def define_flags():
  # Google's flags, Google's defaults.
  flags.DEFINE_string("input_file", None, "Correct text: comma-separated files or globs, one "
                      "sentence a line, blank line between documents.")
  flags.DEFINE_string("output_file", None, "Output TFRecord; several comma-separated = shards.")
  flags.DEFINE_string("vocab_file", None, "The BERT vocab.txt of the checkpoint you continue.")
  flags.DEFINE_bool("do_lower_case", True, "Lowercase and strip accents (uncased models).")
  flags.DEFINE_bool("do_whole_word_mask", False, "Mask whole words: jieba words for Chinese, "
                    "WordPiece words otherwise.")
  flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
  flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked positions per sequence.")
  flags.DEFINE_integer("random_seed", 12345, "Random seed.")
  flags.DEFINE_integer("dupe_factor", 10, "Passes over the data, each with other masks.")
  flags.DEFINE_float("masked_lm_prob", 0.15, "Share of tokens predicted.")
  flags.DEFINE_float("short_seq_prob", 0.1, "Chance of a shorter target length.")
  # CSC additions.
  flags.DEFINE_string("wrong_input_file", None, "The same text with errors, line by line "
                      "(create_data's wrong.txt); errors are always predicted.")
  flags.DEFINE_string("mask_probability_file", None, "create_data's mask_probability.sav: "
                      "weights for choosing the extra masked positions.")
  flags.DEFINE_string("confusion_dir", None, "char_meta's output dir: where same-pinyin, "
                      "similar-pinyin and look-alike replacements come from.")
  flags.DEFINE_string("replace_proportions",
                      ",".join(f"{k}={v}" for k, v in instances.DEFAULT_PROPORTIONS.items()),
                      "What an extra masked position's input becomes: "
                      + "|".join(instances.REPLACE_KINDS) + " (PLOME-like default).")
  flags.DEFINE_bool("single_segment", False, "One contiguous segment per instance instead of "
                    "Google's A/B pairs (no NSP; next_sentence_labels is written as 0).")
  flags.DEFINE_integer("num_workers", None, "Worker processes (default: all cores).")
  flags.DEFINE_integer("chunk_documents", 1000, "Documents processed together: the scope of "
                       "shuffling and of random next segments.")
  flags.DEFINE_integer("num_shards", 1, "Machines sharing the corpus: each makes the groups "
                       "of --chunk_documents whose index is --shard_index modulo this.")
  flags.DEFINE_integer("shard_index", 0, "This machine's shard, 0 .. num_shards - 1; its "
                       "outputs are named NAME-0000i-of-0000N.EXT.")
  flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
  for name in ("input_file", "output_file", "vocab_file"):
    flags.mark_flag_as_required(name)


def define_merge_flags():
  flags.DEFINE_string("output", None, "Where the summed stats.json goes.")
  flags.DEFINE_bool("overwrite", False, "Replace an existing output file.")
  flags.mark_flag_as_required("output")


def merge_main(argv):
  """merge_stats: the shards' stats.json files (paths or globs) -> one stats.json."""
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

  def run():
    if not argv[2:]:
      raise InputError("merge_stats", 0, "give the shards' stats.json files (paths or globs)")
    paths = build.expand_inputs(",".join(argv[2:]))
    return build.merge_stats_files(paths, FLAGS.output, FLAGS.overwrite)

  merged = run_cli(run)
  logging.info("%d shards, %d instances -> %s", merged["num_shards"], merged["instances"],
               FLAGS.output)


def main(argv):
  del argv
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

  def run():
    try:
      proportions = instances.parse_proportions(FLAGS.replace_proportions)
    except ValueError as e:
      raise InputError("--replace_proportions", 0, str(e)) from None
    config = instances.MaskingConfig(
        max_seq_length=FLAGS.max_seq_length, max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
        single_segment=FLAGS.single_segment, whole_word_mask=FLAGS.do_whole_word_mask,
        proportions=proportions)
    return build.build(
        FLAGS.input_file, FLAGS.output_file, FLAGS.vocab_file,
        wrong_input_file=FLAGS.wrong_input_file, mask_probability_file=FLAGS.mask_probability_file,
        confusion_dir=FLAGS.confusion_dir, config=config, dupe_factor=FLAGS.dupe_factor,
        random_seed=FLAGS.random_seed, do_lower_case=FLAGS.do_lower_case,
        num_workers=FLAGS.num_workers, chunk_documents=FLAGS.chunk_documents,
        overwrite=FLAGS.overwrite, num_shards=FLAGS.num_shards, shard_index=FLAGS.shard_index)[0]

  stats = run_cli(run)
  logging.info("stats: %s", stats)


def cli():
  """The console entry point (`csc-create-tf-record` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  if sys.argv[1:2] == ["merge_stats"]:
    define_merge_flags()
    app.run(merge_main)
  else:
    define_flags()
    app.run(main)


if __name__ == "__main__":
  cli()
