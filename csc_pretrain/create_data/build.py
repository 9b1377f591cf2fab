"""Stage 2, top to bottom: read pairs -> align -> split -> count -> expand -> write."""

import collections
import contextlib
import dataclasses
import json
import logging
import os
import random

from csc_pretrain import pair_formats
from csc_pretrain.char_meta import formats
from csc_pretrain.create_data import mask_probability, pairs
from csc_pretrain.io_utils import InputError, atomic_write, check_can_write

OUTPUT_FILES = ("correct.txt", "wrong.txt", "mask_probability.sav", "mask_probability.tsv",
                "observed_confusions.tsv", "create_data_stats.json")


def pair_documents(path, fmt="auto"):
  """A pair file in any csc_pretrain.pair_formats layout, each pair a document of
  its own (these files hold independent sentences). Training keeps the strict
  rule: a malformed pair is an error naming file:line; pairs of unequal length
  pass on, to be aligned."""
  for rec in pair_formats.read(path, fmt):
    pair_formats.check(rec, allow=(pair_formats.UNEQUAL,))
    yield [pairs.Pair(rec.wrong, rec.correct, (rec.path, rec.line))]


def _documents(correct_file, wrong_file, pairs_file, pairs_format):
  if pairs_file:
    return pair_documents(pairs_file, pairs_format)
  if wrong_file:
    return pairs.read_parallel(correct_file, wrong_file)
  return pairs.read_correct_only(correct_file)


@dataclasses.dataclass(frozen=True)
class BuildConfig:
  """The stage's flags (field names are the flag names, defaults theirs); run() takes it."""
  output_dir: str = None
  correct_file: str = None
  wrong_file: str = None
  pairs_file: str = None
  pairs_format: str = "auto"
  confusion_dir: str = None
  mode: str = "corpus"
  synthetic_rate: float = 0.0
  synthetic_phonetic_share: float = 0.7
  observed: str = None
  observed_share: float = 0.5
  random_seed: int = 12345
  max_variants: int = 5
  max_error_ratio: float = 0.3
  t2s: bool = False
  base_rate: float = None
  smoothing: float = mask_probability.SMOOTHING
  split: bool = True
  expand: bool = True
  overwrite: bool = False


def run(cfg):
  """Runs the stage with a BuildConfig; returns build()'s stats dict."""
  return build(
      cfg.output_dir, correct_file=cfg.correct_file, wrong_file=cfg.wrong_file,
      pairs_file=cfg.pairs_file, pairs_format=cfg.pairs_format, confusion_dir=cfg.confusion_dir,
      mode=cfg.mode, synthetic_rate=cfg.synthetic_rate,
      synthetic_phonetic_share=cfg.synthetic_phonetic_share, seed=cfg.random_seed,
      max_variants=cfg.max_variants, max_error_ratio=cfg.max_error_ratio, t2s=cfg.t2s,
      base_rate=cfg.base_rate, smoothing=cfg.smoothing, split=cfg.split, expand=cfg.expand,
      overwrite=cfg.overwrite, observed=cfg.observed, observed_share=cfg.observed_share)


def build(output_dir, correct_file=None, wrong_file=None, pairs_file=None, pairs_format="auto",
          confusion_dir=None, mode="corpus", synthetic_rate=0.0, synthetic_phonetic_share=0.7,
          seed=12345, max_variants=5, max_error_ratio=0.3, t2s=False, base_rate=None,
          smoothing=mask_probability.SMOOTHING, split=True, expand=True, overwrite=False, observed=None,
          observed_share=0.5):
  """Runs the stage; returns the stats dict (also written as create_data_stats.json).

  ``observed``: a wrong<TAB>correct<TAB>count file (observed_confusions.tsv of a
  run on the domain's real pairs); synthetic errors draw from it first (a share
  ``observed_share`` of the errors of each character it has)."""
  paths = {name: os.path.join(output_dir, name) for name in OUTPUT_FILES}
  check_can_write(paths.values(), overwrite)
  if not (pairs_file or correct_file):
    raise InputError("create_data", 0, "pass --correct_file (with --wrong_file or "
                     "--synthetic_rate) or --pairs_file")
  if correct_file and not (wrong_file or pairs_file) and synthetic_rate <= 0:
    raise InputError(correct_file, 0, "clean text only: pass --wrong_file, or "
                     "--synthetic_rate to make errors from the confusion sets")
  if mode not in mask_probability.MODES:
    raise InputError("--mode", 0, f"must be one of {', '.join(mask_probability.MODES)}")

  # Confusion sets. The mask-probability prior and its phonetic/visual filters ask
  # "what was meant by this wrong character": the correction direction. Synthetic
  # errors ask "what does a writer type for this character": the error direction.
  phonetic_sets = visual_sets = confusability = None
  error_phonetic = error_visual = None
  if confusion_dir:
    def table(name):
      return os.path.join(confusion_dir, name)
    phonetic_sets = formats.read_confusion_sets(table(formats.PHONETIC_TABLE))
    visual_sets = formats.read_confusion_sets(table(formats.VISUAL_TABLE))
    confusability = mask_probability.read_confusability(table(formats.SCORES))
    if synthetic_rate > 0:
      error_phonetic = formats.read_confusion_sets(table(formats.ERROR_TABLE_PHONETIC))
      error_visual = formats.read_confusion_sets(table(formats.ERROR_TABLE_VISUAL))
  elif mode != "corpus" or synthetic_rate > 0:
    raise InputError("--confusion_dir", 0, f"mode {mode!r} and synthetic errors need the "
                     "char_meta outputs (run stage 1, pass its --output_dir)")
  if observed and synthetic_rate <= 0:
    raise InputError("--observed", 0, "is for synthetic errors: pass --synthetic_rate too")
  observed_by_correct = None
  if observed:
    observed_by_correct = pairs.observed_errors(formats.read_observed_confusions(observed))
  convert = pair_formats.t2s if t2s else None
  if convert:
    convert("")  # opencc missing: say so before any work

  stats = collections.Counter()
  skipped = collections.Counter()
  counts = mask_probability.ErrorCounts()
  with contextlib.ExitStack() as stack:
    correct_out = stack.enter_context(atomic_write(paths["correct.txt"]))
    wrong_out = stack.enter_context(atomic_write(paths["wrong.txt"]))
    docs_written = 0
    for doc_index, doc in enumerate(_documents(correct_file, wrong_file, pairs_file, pairs_format)):
      if convert:
        doc = [pairs.Pair(convert(p.wrong), convert(p.correct), p.where) for p in doc]
      if synthetic_rate > 0:
        rng = random.Random(f"{seed}:synthetic:{doc_index}")
        doc = pairs.add_synthetic_errors(doc, rng, synthetic_rate, synthetic_phonetic_share,
                                     error_phonetic, error_visual, observed=observed_by_correct,
                                     observed_share=observed_share)
      aligned = []
      for pair in doc:
        stats["pairs_read"] += 1
        result = pairs.align(pair, max_error_ratio)
        if result.pair is None:
          skipped[result.skipped] += 1
          continue
        stats["pairs_used"] += 1
        stats["insertions_undone"] += result.insertions
        stats["deletions_undone"] += result.deletions
        aligned.extend(pairs.split_long(result.pair) if split else [result.pair])
      if not aligned:
        continue
      for p in aligned:
        counts.add(p.wrong, p.correct)
      stats["sentences"] += len(aligned)
      stats["errors"] += sum(len(p.errors()) for p in aligned)
      variants = pairs.expand(aligned, f"{seed}:expand:{doc_index}", max_variants) if expand else [aligned]
      stats["clean_copies"] += len(variants) > 1
      stats["restored_variants"] += max(0, len(variants) - 2)
      for out_doc in variants:
        if docs_written:
          correct_out.write("\n")
          wrong_out.write("\n")
        correct_out.write("".join(p.correct + "\n" for p in out_doc))
        wrong_out.write("".join(p.wrong + "\n" for p in out_doc))
        docs_written += 1
        stats["sentences_written"] += len(out_doc)
    stats["documents_written"] = docs_written
    if stats["pairs_used"] == 0:
      source = pairs_file or correct_file
      raise InputError(source, 0, "no usable pairs" + (
          f" (skipped: {dict(skipped)})" if skipped else " (empty input)"))
    if counts.errors == 0 and base_rate is None:
      raise InputError(pairs_file or wrong_file or correct_file, 0,
                       "no errors in any pair: nothing to learn mask probabilities from "
                       "(pass pairs with errors, --synthetic_rate, or --base_rate)")

    probs, details = mask_probability.mask_probabilities(counts, mode, confusability, phonetic_sets,
                                           visual_sets, base_rate, smoothing)
    # Entered on the same stack: every output is renamed into place together, at the end.
    f = stack.enter_context(atomic_write(paths["mask_probability.sav"], "wb"))
    mask_probability.save(probs, f)
    f = stack.enter_context(atomic_write(paths["mask_probability.tsv"]))
    f.write("char\tp\tcorrect_count\twrong_count\ttop_correction\ttop_count\tprior\n")
    for ch in sorted(probs, key=lambda c: (-probs[c], c)):
      d = details[ch]
      f.write(f"{_printable(ch)}\t{probs[ch]:.6f}\t{d['correct_count']}\t{d['wrong_count']}\t"
              f"{_printable(d['top_correction'])}\t{d['top_count']}\t{d['prior']:.6f}\n")
    result = dict(stats, skipped=dict(skipped), mode=mode, seed=seed,
                  characters_with_probability=len(probs),
                  corpus_error_rate=round(counts.errors / max(1, counts.chinese_chars), 6))
    # The user's own wrong -> correct confusions, for char_meta --observed (none when
    # the errors are synthetic: those came from the tables in the first place).
    f = stack.enter_context(atomic_write(paths["observed_confusions.tsv"]))
    seen = {} if synthetic_rate > 0 else {
        (w, c): n for w, row in counts.confusions.items() for c, n in row.items()
        if w.isprintable() and c.isprintable() and not w.isspace() and not c.isspace()}
    f.write(formats.observed_confusions_text(seen, "from the aligned pairs; for char_meta "
                                             "--observed and create_data --observed"))
    f = stack.enter_context(atomic_write(paths["create_data_stats.json"]))
    json.dump(result, f, ensure_ascii=False, indent=2, sort_keys=True)
  logging.info("pairs read %d, used %d, skipped %s; %d sentences, %d errors, "
               "%d insertions and %d deletions undone; wrote %d documents",
               stats["pairs_read"], stats["pairs_used"], dict(skipped), stats["sentences"],
               stats["errors"], stats["insertions_undone"], stats["deletions_undone"],
               docs_written)
  return result


def _printable(ch):
  """Tabs and newlines would break the TSV; show them escaped."""
  return ch.encode("unicode_escape").decode("ascii") if ch in "\t\n\r" else ch
