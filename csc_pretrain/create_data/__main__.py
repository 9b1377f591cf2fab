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
from csc_pretrain.io_utils import (InputError, check_range, define_flag_table, flag_values,
                                   quiet_tensorflow, run_cli)

FLAGS = flags.FLAGS

# name, kind, help[, enum values]. Defaults come from build.BuildConfig.
FLAG_TABLE = (
    ("correct_file", "string", "Correct text, one sentence a line, blank line between documents."),
    ("wrong_file", "string", "The same text with errors, line by line."),
    ("pairs_file", "string", "Pairs instead, in any layout of --pairs_format: wrong<TAB>correct, "
     "id<TAB>wrong<TAB>correct (FASPell), space-separated characters (LEMON, ECSpell), JSON "
     "(lines), SIGHAN training SGML."),
    ("pairs_format", "enum", "Layout of --pairs_file (auto: detected; see "
     "csc_pretrain.pair_formats).", [f for f in pair_formats.FORMATS if f != "sighan"]),
    ("output_dir", "string", "Where correct.txt, wrong.txt, mask_probability.* go."),
    ("confusion_dir", "string", "Stage 1 output dir (confusion sets and scores)."),
    ("mode", "enum", "Which errors make the mask probability: corpus (all), phonetic (speech), "
     "visual (OCR), both.", list(mask_probability.MODES)),
    ("synthetic_rate", "float", "Make wrong copies of --correct_file: chance that a Chinese "
     "character becomes an error."),
    ("synthetic_phonetic_share", "float", "Share of synthetic errors that sound alike (the rest "
     "look alike)."),
    ("observed", "string", "The domain's real confusions, wrong<TAB>correct<TAB>count "
     "(observed_confusions.tsv of a run on real pairs): synthetic errors draw from them first."),
    ("observed_share", "float", "Share of a character's synthetic errors drawn from --observed "
     "when it has any there."),
    ("random_seed", "integer", "Seed for variants and synthetic errors."),
    ("max_variants", "integer", "Partly restored copies per document at most."),
    ("max_error_ratio", "float", "Skip pairs with more edits than this share of the sentence."),
    ("t2s", "bool", "Convert traditional to simplified Chinese (opencc)."),
    ("base_rate", "float", "Errors per character for the prior (default: the corpus' own rate)."),
    ("smoothing", "float", "Pseudo-count pulling rare characters to the prior (0 gives FASPell's "
     "raw ratio)."),
    ("split", "bool", "Split sentences at 。；？！ (and commas past 100 chars)."),
    ("expand", "bool", "Add clean copies and partly restored variants."),
    ("overwrite", "bool", "Replace existing output files."),
)


def define_flags():
  define_flag_table(FLAG_TABLE, build.BuildConfig)
  flags.DEFINE_alias("pairs_layout", "pairs_format")
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
  cfg = build.BuildConfig(**flag_values(FLAG_TABLE))
  # Only the command line knows whether the layout was asked for or is the default.
  pairs_format_given = FLAGS["pairs_format"].present or FLAGS["pairs_layout"].present

  def run():
    check_flags(cfg.correct_file, cfg.wrong_file, cfg.pairs_file, cfg.synthetic_rate,
                cfg.synthetic_phonetic_share, cfg.max_error_ratio, cfg.max_variants,
                cfg.base_rate, cfg.smoothing, pairs_format_given, cfg.observed_share)
    return build.run(cfg)

  stats = run_cli(run)
  logging.info("summary: %s", stats)


def cli():
  """The console entry point (`csc-create-data` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
