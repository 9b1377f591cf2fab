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
from csc_pretrain.io_utils import define_flag_table, flag_values, quiet_tensorflow, run_cli

# name, kind, help. Defaults come from build.BuildConfig.
FLAG_TABLE = (
    # Google's flags, Google's defaults.
    ("input_file", "string", "Correct text: comma-separated files or globs, one sentence a line, "
     "blank line between documents."),
    ("output_file", "string", "Output TFRecord; several comma-separated = shards."),
    ("vocab_file", "string", "The BERT vocab.txt of the checkpoint you continue."),
    ("do_lower_case", "bool", "Lowercase and strip accents (uncased models)."),
    ("do_whole_word_mask", "bool", "Mask whole words: jieba words for Chinese, WordPiece words "
     "otherwise."),
    ("max_seq_length", "integer", "Maximum sequence length."),
    ("max_predictions_per_seq", "integer", "Maximum masked positions per sequence."),
    ("random_seed", "integer", "Random seed."),
    ("dupe_factor", "integer", "Passes over the data, each with other masks."),
    ("masked_lm_prob", "float", "Share of tokens predicted."),
    ("short_seq_prob", "float", "Chance of a shorter target length."),
    # CSC additions.
    ("wrong_input_file", "string", "The same text with errors, line by line (create_data's "
     "wrong.txt); errors are always predicted."),
    ("mask_probability_file", "string", "create_data's mask_probability.sav: weights for "
     "choosing the extra masked positions."),
    ("confusion_dir", "string", "char_meta's output dir: where same-pinyin, similar-pinyin and "
     "look-alike replacements come from."),
    ("replace_proportions", "string", "What an extra masked position's input becomes: "
     + "|".join(instances.REPLACE_KINDS) + " (PLOME-like default)."),
    ("single_segment", "bool", "One contiguous segment per instance instead of Google's A/B "
     "pairs (no NSP; next_sentence_labels is written as 0)."),
    ("num_workers", "integer", "Worker processes (default: all cores)."),
    ("chunk_documents", "integer", "Documents processed together: the scope of shuffling and of "
     "random next segments."),
    ("num_shards", "integer", "Machines sharing the corpus: each makes the groups of "
     "--chunk_documents whose index is --shard_index modulo this."),
    ("shard_index", "integer", "This machine's shard, 0 .. num_shards - 1; its outputs are named "
     "NAME-0000i-of-0000N.EXT."),
    ("overwrite", "bool", "Replace existing output files."),
)

# merge_stats: defaults from build.MergeConfig.
MERGE_FLAG_TABLE = (
    ("output", "string", "Where the summed stats.json goes."),
    ("overwrite", "bool", "Replace an existing output file."),
)


def define_flags():
  define_flag_table(FLAG_TABLE, build.BuildConfig)
  for name in ("input_file", "output_file", "vocab_file"):
    flags.mark_flag_as_required(name)


def define_merge_flags():
  define_flag_table(MERGE_FLAG_TABLE, build.MergeConfig)
  flags.mark_flag_as_required("output")


def merge_main(argv):
  """merge_stats: the shards' stats.json files (paths or globs) -> one stats.json."""
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  cfg = build.MergeConfig(stats_files=tuple(argv[2:]), **flag_values(MERGE_FLAG_TABLE))
  merged = run_cli(lambda: build.run_merge(cfg))
  logging.info("%d shards, %d instances -> %s", merged["num_shards"], merged["instances"],
               cfg.output)


def main(argv):
  del argv
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  cfg = build.BuildConfig(**flag_values(FLAG_TABLE))
  stats = run_cli(lambda: build.run(cfg))
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
