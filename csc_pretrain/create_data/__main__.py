r"""Stage 2 CLI: aligned training pairs and mask probabilities.

  python -m csc_pretrain.create_data --correct_file correct.txt --wrong_file wrong.txt \
      --confusion_dir char_meta --output_dir create_data/out
  python -m csc_pretrain.create_data --pairs_file train.tsv --output_dir out
  python -m csc_pretrain.create_data --correct_file domain.txt --synthetic_rate 0.05 \
      --confusion_dir char_meta --output_dir out
"""

import logging

from absl import app, flags

from csc_pretrain import pair_formats
from csc_pretrain.create_data import build, mask_probability
from csc_pretrain.io_utils import InputError, check_range, quiet_tensorflow, run_cli

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("correct_file", None, "Correct text, one sentence a line, blank line "
                      "between documents.")
  flags.DEFINE_string("wrong_file", None, "The same text with errors, line by line.")
  flags.DEFINE_string("pairs_file", None, "Pairs instead, in any layout of --pairs_format: "
                      "wrong<TAB>correct, id<TAB>wrong<TAB>correct (FASPell), space-separated "
                      "characters (LEMON, ECSpell), JSON (lines), SIGHAN training SGML.")
  flags.DEFINE_enum("pairs_format", "auto", [f for f in pair_formats.FORMATS if f != "sighan"],
                    "Layout of --pairs_file (auto: detected; see csc_pretrain.pair_formats).")
  flags.DEFINE_alias("pairs_layout", "pairs_format")
  flags.DEFINE_string("output_dir", None, "Where correct.txt, wrong.txt, mask_probability.* go.")
  flags.DEFINE_string("confusion_dir", None, "Stage 1 output dir (confusion sets and scores).")
  flags.DEFINE_enum("mode", "corpus", list(mask_probability.MODES),
                    "Which errors make the mask probability: corpus (all), phonetic (speech), "
                    "visual (OCR), both.")
  flags.DEFINE_float("synthetic_rate", 0.0, "Make wrong copies of --correct_file: chance that "
                     "a Chinese character becomes an error.")
  flags.DEFINE_float("synthetic_phonetic_share", 0.7, "Share of synthetic errors that sound "
                     "alike (the rest look alike).")
  flags.DEFINE_string("observed", None, "The domain's real confusions, wrong<TAB>correct<TAB>"
                      "count (observed_confusions.tsv of a run on real pairs): synthetic errors "
                      "draw from them first.")
  flags.DEFINE_float("observed_share", 0.5, "Share of a character's synthetic errors drawn "
                     "from --observed when it has any there.")
  flags.DEFINE_integer("random_seed", 12345, "Seed for variants and synthetic errors.")
  flags.DEFINE_integer("max_variants", 5, "Partly restored copies per document at most.")
  flags.DEFINE_float("max_error_ratio", 0.3, "Skip pairs with more edits than this share of "
                     "the sentence.")
  flags.DEFINE_bool("t2s", False, "Convert traditional to simplified Chinese (opencc).")
  flags.DEFINE_float("base_rate", None, "Errors per character for the prior (default: the "
                     "corpus' own rate).")
  flags.DEFINE_float("smoothing", mask_probability.SMOOTHING, "Pseudo-count pulling rare "
                     "characters to the prior (0 gives FASPell's raw ratio).")
  flags.DEFINE_bool("split", True, "Split sentences at 。；？！ (and commas past 100 chars).")
  flags.DEFINE_bool("expand", True, "Add clean copies and partly restored variants.")
  flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
  flags.mark_flag_as_required("output_dir")


def check_flags(correct_file=None, wrong_file=None, pairs_file=None, synthetic_rate=0.0,
                synthetic_phonetic_share=0.7, max_error_ratio=0.3, max_variants=5,
                base_rate=None, smoothing=mask_probability.SMOOTHING, pairs_format_given=False,
                observed_share=0.5):
  """Refuses out-of-range or contradictory flags before any file is read."""
  if pairs_file and (correct_file or wrong_file):
    given = "--correct_file" if correct_file else "--wrong_file"
    raise InputError("--pairs_file", 0, f"cannot be used with {given}: pass one input")
  if wrong_file and not correct_file:
    raise InputError("--wrong_file", 0, "needs --correct_file (the same text without errors)")
  if not (pairs_file or correct_file):
    raise InputError("--correct_file", 0, "no input: pass --correct_file (with --wrong_file or "
                     "--synthetic_rate) or --pairs_file")
  if pairs_format_given and not pairs_file:
    raise InputError("--pairs_format", 0, "needs --pairs_file")
  check_range("--max_error_ratio", max_error_ratio, low=0, high=1, low_open=True)
  check_range("--synthetic_rate", synthetic_rate, low=0, high=1)
  check_range("--synthetic_phonetic_share", synthetic_phonetic_share, low=0, high=1)
  check_range("--observed_share", observed_share, low=0, high=1)
  check_range("--max_variants", max_variants, low=0)
  check_range("--base_rate", base_rate, low=0, high=1)
  check_range("--smoothing", smoothing, low=0)


def main(argv):
  del argv
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

  def run():
    check_flags(FLAGS.correct_file, FLAGS.wrong_file, FLAGS.pairs_file, FLAGS.synthetic_rate,
                FLAGS.synthetic_phonetic_share, FLAGS.max_error_ratio, FLAGS.max_variants,
                FLAGS.base_rate, FLAGS.smoothing,
                FLAGS["pairs_format"].present or FLAGS["pairs_layout"].present,
                FLAGS.observed_share)
    return build.build(
        FLAGS.output_dir, correct_file=FLAGS.correct_file, wrong_file=FLAGS.wrong_file,
        pairs_file=FLAGS.pairs_file, pairs_format=FLAGS.pairs_format,
        confusion_dir=FLAGS.confusion_dir, mode=FLAGS.mode, synthetic_rate=FLAGS.synthetic_rate,
        synthetic_phonetic_share=FLAGS.synthetic_phonetic_share, seed=FLAGS.random_seed,
        max_variants=FLAGS.max_variants, max_error_ratio=FLAGS.max_error_ratio, t2s=FLAGS.t2s,
        base_rate=FLAGS.base_rate, smoothing=FLAGS.smoothing, split=FLAGS.split,
        expand=FLAGS.expand, overwrite=FLAGS.overwrite, observed=FLAGS.observed,
        observed_share=FLAGS.observed_share)

  stats = run_cli(run)
  logging.info("summary: %s", stats)


def cli():
  """The console entry point (`csc-create-data` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
