r"""Evaluate spelling correction with a checkpoint; optionally before/after side by side.

  python -m csc_pretrain.correct evaluate --checkpoint out/pretrain_tiny/stripped \
      --test_file create_data/sample/heldout.tsv --confusion_dir char_meta
  python -m csc_pretrain.correct evaluate --checkpoint NEW --baseline_checkpoint START \
      --test_file ...
  python -m csc_pretrain.correct evaluate --checkpoint ... --test_file input.txt \
      --sighan_truth_file truth.txt --result_file result.txt
  python -m csc_pretrain.correct evaluate --checkpoint ... --test_file a.tsv,b.json \
      --clean_file clean.txt
  python -m csc_pretrain.correct evaluate --checkpoint ... --thresholds thresholds.json \
      --decoder fitted --protect protect.txt --lexicon lexicon.txt [--second_pass] --test_file ...

Test files may be in any layout csc_pretrain.pair_formats reads (auto-detected,
--format forces one). Prints sentence-level detection/correction P/R/F1 under
the strict convention and the official SIGHAN tool's, character-level P/R/F1,
accuracy and sentences/s; then one row per test file, recall per kind of gold
error, over-correction on --clean_file and the skipped pairs. The last line
printed is one JSON object with every figure. The corrector is set up as
``correct`` sets it up: --thresholds (from ``tune``, threshold rule or fitted
decoder, --decoder to pick), --protect, --lexicon and --second_pass.

Bad pairs never sink a benchmark (see csc_pretrain.correct.metrics): pairs whose
sides differ in length count at sentence level (as misses unless the output
equals the target) and are skipped at character level; malformed or empty
pairs, unknown ids and annotations that do not fit their sentence are skipped
entirely. Every skip is counted by reason ("skipped" in the JSON). With
--strict_input, any of them is an error naming file:line instead.

The SIGHAN-tool figures equal sighan15csc.jar's report on --result_file (tests/
test_evaluate.py runs the jar). With --t2s the result file holds simplified
corrections: give the jar a truth file converted the same way.
"""

import collections
import dataclasses
import json
import os
import time
from typing import Optional

from csc_pretrain import pair_formats
from csc_pretrain.correct import metrics
from csc_pretrain.correct.config import (CorrectorConfig, load_constraints, load_thresholds,
                                         make_corrector)
from csc_pretrain.io_utils import InputError, atomic_write


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
  """What ``python -m csc_pretrain.correct evaluate`` was asked (its flags, same names)."""
  corrector: CorrectorConfig
  test_file: str                      # comma-separated for several
  sighan_truth_file: Optional[str] = None  # comma-separated, one per test file
  format: str = "auto"                # a csc_pretrain.pair_formats layout
  t2s: bool = False
  strict_input: bool = False
  result_file: Optional[str] = None
  clean_file: Optional[str] = None    # comma-separated
  baseline_checkpoint: Optional[str] = None
  baseline_bert_config_file: Optional[str] = None  # default: corrector.bert_config_file
  baseline_vocab_file: Optional[str] = None        # default: corrector.vocab_file


# --- loading, scoring and writing: pure functions ------------------------------------------------

# Problems that still allow sentence-level scoring.
SENTENCE_LEVEL_OK = (pair_formats.UNEQUAL,)


@dataclasses.dataclass
class TestSet:
  path: str
  records: list   # usable records: fine, or unequal in length
  skipped: collections.Counter  # reason -> count, including unequal (character level only)


def load_test_set(path, truth_path=None, fmt="auto", t2s=False, strict=False):
  """Reads one test file, applying the skip rule (or, with ``strict``, raising)."""
  records, skipped = [], collections.Counter()
  for rec in pair_formats.read(path, fmt, truth_path, t2s):
    if strict:
      pair_formats.check(rec)
    if rec.problem:
      skipped[rec.problem] += 1
      if rec.problem not in SENTENCE_LEVEL_OK:
        continue
    records.append(rec)
  if not records:
    raise InputError(path, 0, "no usable pairs" + (f" (skipped: {dict(skipped)})" if skipped
                                                   else ""))
  return TestSet(path, records, skipped)


def load_clean(path, fmt="auto", t2s=False, strict=False):
  """Correct sentences from any layout (the correct side); reasons of skipped ones."""
  sentences, skipped = [], collections.Counter()
  for rec in pair_formats.read(path, fmt, None, t2s):
    if strict:
      pair_formats.check(rec, allow=SENTENCE_LEVEL_OK)
    if rec.problem and rec.problem not in SENTENCE_LEVEL_OK:
      skipped[rec.problem] += 1
      continue
    sentences.append(rec.correct)
  if not sentences:
    raise InputError(path, 0, "no sentences")
  return sentences, skipped


def score(test_sets, predictions, kind_of=None):
  """Summary dict: total figures at the top, ``files`` with one entry per test set
  when there are several, ``skipped`` counts by reason.

  ``predictions`` is a list (one per test set) of corrected sentences.
  """
  per_file = []
  everything = []
  for test_set, predicted in zip(test_sets, predictions):
    triples = [(r.wrong, r.correct, p) for r, p in zip(test_set.records, predicted)]
    everything.extend(triples)
    per_file.append(metrics.evaluate(triples, kind_of))
  out = metrics.evaluate(everything, kind_of)
  skipped = collections.Counter()
  for test_set in test_sets:
    skipped.update(test_set.skipped)
  out["skipped"] = dict(sorted(skipped.items()))
  if len(test_sets) > 1:
    out["files"] = {t.path: dict(m, skipped=dict(t.skipped)) for t, m in zip(test_sets, per_file)}
  return out


def result_line(sid, wrong, predicted):
  """One line of the official SIGHAN result format (1-based locations)."""
  edits = [f"{i + 1}, {p}" for i, (w, p) in enumerate(zip(wrong, predicted)) if w != p]
  return f"{sid}, {', '.join(edits) if edits else '0'}"


def result_lines(test_sets, predictions):
  """Result lines for every usable record. Ids must be unique for the scorer:
  the file's own ids when they are; else prefixed with the file name (several
  files numbered alike); else the file name and line (ids repeat within a file,
  as with label columns)."""
  keyed = [(os.path.basename(t.path), r) for t in test_sets for r in t.records]
  if len({r.id for _, r in keyed}) == len(keyed):
    ids = [r.id for _, r in keyed]
  elif len({(name, r.id) for name, r in keyed}) == len(keyed):
    ids = [f"{name}:{r.id}" for name, r in keyed]
  else:
    ids = [f"{name}:{r.line}" for name, r in keyed]
  flat = [p for predicted in predictions for p in predicted]
  return [result_line(sid, r.wrong, p) for sid, (_, r), p in zip(ids, keyed, flat)]


# --- running it ----------------------------------------------------------------------------------

def _split(value):
  return [v for v in (value or "").split(",") if v]


def _predict(corrector, texts):
  """Corrected texts and the seconds it took."""
  start = time.time()
  out = [r["corrected"] for r in corrector.correct(texts)] if texts else []
  return out, time.time() - start


def run_one(corrector_cfg, thresholds, test_sets, clean, kind_of, constraints=None):
  """Figures and predictions of the checkpoint ``corrector_cfg`` names, with these
  ``thresholds`` and ``constraints`` (already read; ``constraints`` None: none)."""
  corrector = make_corrector(corrector_cfg, thresholds, constraints)
  texts = [r.wrong for t in test_sets for r in t.records]
  corrector.correct(texts[:1])  # trace the model once, outside the timing
  flat, seconds = _predict(corrector, texts)
  predictions, start = [], 0
  for test_set in test_sets:
    predictions.append(flat[start:start + len(test_set.records)])
    start += len(test_set.records)
  m = score(test_sets, predictions, kind_of)
  m["sentences_per_second"] = len(texts) / seconds if seconds else 0.0
  m["checkpoint"] = corrector.prefix
  m["decoder"] = thresholds.decoder
  if clean is not None:
    sentences, skipped = clean
    cleaned, _ = _predict(corrector, sentences)
    m["overcorrection"] = dict(metrics.overcorrection(sentences, cleaned),
                               skipped=dict(sorted(skipped.items())))
  return m, predictions


FIGURES = [("strict_detection", "sentence detection, strict"),
           ("strict_correction", "sentence correction, strict"),
           ("sighan_detection", "sentence detection, SIGHAN tool"),
           ("sighan_correction", "sentence correction, SIGHAN tool"),
           ("char_detection", "character detection"),
           ("char_correction", "character correction")]


def report(results, baseline=None, look_alike_known=True):
  head = f"{'':36s}{'P':>8s}{'R':>8s}{'F1':>8s}"
  if baseline:
    head += f"   | baseline{'P':>5s}{'R':>8s}{'F1':>8s}   | delta F1"
  print(head)
  for key, label in FIGURES:
    row = f"{label:36s}" + "".join(f"{results[key][k]:8.3f}" for k in ("precision", "recall", "f1"))
    if baseline:
      row += "   |         " + "".join(f"{baseline[key][k]:8.3f}" for k in ("precision", "recall", "f1"))
      row += f"   | {results[key]['f1'] - baseline[key]['f1']:+.3f}"
    print(row)
  for key in ("sentence_accuracy", "sentences_per_second"):
    line = f"{key:36s}{results[key]:8.3f}"
    if baseline:
      line += f"   | baseline {baseline[key]:8.3f}   | delta {results[key] - baseline[key]:+.3f}"
    print(line)
  print(f"SIGHAN tool: accuracy {results['sighan_correction']['accuracy']:.3f}, false positive rate "
        f"{results['sighan_correction']['false_positive_rate']:.3f}; {results['sentences']} sentences, "
        f"{results['erroneous_sentences']} with errors")
  if "files" in results:
    print(f"\n{'per file (F1)':36s}{'n':>6s}{'strict det':>11s}{'strict cor':>11s}"
          f"{'SIGHAN cor':>11s}{'char cor':>10s}")
    rows = list(results["files"].items()) + [("total", results)]
    for path, m in rows:
      print(f"{os.path.basename(path):36s}{m['sentences']:6d}{m['strict_detection']['f1']:11.3f}"
            f"{m['strict_correction']['f1']:11.3f}{m['sighan_correction']['f1']:11.3f}"
            f"{m['char_correction']['f1']:10.3f}")
  if results.get("per_kind"):
    print(f"\n{'gold errors by kind':36s}{'n':>6s}{'det R':>8s}{'cor R':>8s}")
    for kind in metrics.KINDS:
      if kind not in results["per_kind"]:
        continue
      k = results["per_kind"][kind]
      print(f"{kind:36s}{k['errors']:6d}{k['detection_recall']:8.3f}{k['correction_recall']:8.3f}")
    if not look_alike_known:
      print("(no --confusion_dir: look-alike errors are counted under 'other')")
  if "overcorrection" in results:
    o = results["overcorrection"]
    print(f"\nover-correction on {o['sentences']} clean sentences: {o['changed_sentence_share']:.3%} "
          f"changed, {o['changed_per_1000_characters']:.2f} changed characters per 1,000")
  coverage = results["coverage"]
  skipped = results["skipped"]
  print(f"\ncoverage: sentence-level figures {coverage['sentence_level']} sentences, "
        f"character-level {coverage['character_level']}")
  print("skipped: " + (", ".join(f"{reason} {n}" for reason, n in skipped.items()) or "none") +
        (f" ({pair_formats.UNEQUAL}: character level only)"
         if pair_formats.UNEQUAL in skipped else ""))


def run(cfg):
  """Evaluates as ``cfg`` says: prints the report, then one JSON line with every
  figure (also returned), and writes the result file if asked."""
  thresholds = load_thresholds(cfg.corrector)  # bad values fail before any file is read
  constraints = load_constraints(cfg.corrector)
  test_files, truth_files = _split(cfg.test_file), _split(cfg.sighan_truth_file)
  if truth_files and len(truth_files) != len(test_files):
    raise InputError("--sighan_truth_file", 0, f"{len(truth_files)} truth files for "
                     f"{len(test_files)} test files: give one per test file")
  test_sets = [load_test_set(path, truth_files[i] if truth_files else None, cfg.format,
                             cfg.t2s, cfg.strict_input)
               for i, path in enumerate(test_files)]
  clean = None
  if cfg.clean_file:
    sentences, skipped = [], collections.Counter()
    for path in _split(cfg.clean_file):
      more, why = load_clean(path, cfg.format, cfg.t2s, cfg.strict_input)
      sentences.extend(more)
      skipped.update(why)
    clean = (sentences, skipped)
  visual = None
  confusion_dir = cfg.corrector.confusion_dir
  if confusion_dir:
    from csc_pretrain.char_meta import formats
    visual = formats.read_confusion_sets(os.path.join(confusion_dir, formats.VISUAL_TABLE))
  kind_of = metrics.ErrorKinds(visual)

  results, predictions = run_one(cfg.corrector, thresholds, test_sets, clean, kind_of,
                                 constraints)
  if cfg.result_file:
    with atomic_write(cfg.result_file) as f:
      f.write("".join(line + "\n" for line in result_lines(test_sets, predictions)))
  baseline = None
  if cfg.baseline_checkpoint:
    baseline_cfg = dataclasses.replace(
        cfg.corrector, checkpoint=cfg.baseline_checkpoint,
        bert_config_file=cfg.baseline_bert_config_file or cfg.corrector.bert_config_file,
        vocab_file=cfg.baseline_vocab_file or cfg.corrector.vocab_file)
    baseline, _ = run_one(baseline_cfg, thresholds, test_sets, clean, kind_of, constraints)
  report(results, baseline, look_alike_known=visual is not None)
  summary = dict(results, look_alike_kind=visual is not None)
  if baseline:
    summary = {"pretrained": results, "baseline": baseline,
               "delta_f1": {k: results[k]["f1"] - baseline[k]["f1"] for k, _ in FIGURES},
               "skipped": results["skipped"], "coverage": results["coverage"],
               "look_alike_kind": visual is not None}
  print(json.dumps(summary, ensure_ascii=False, sort_keys=True))
  return summary
