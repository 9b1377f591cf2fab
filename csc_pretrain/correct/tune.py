"""Choosing the corrector's thresholds on a dev set (the model runs once per sentence).

tune       the old objective: the grid point with the best F1.
calibrate  recall against over-correction. Every setting of a rule is a point
           (recall on the dev pairs, false-positive rate on clean sentences):
           the threshold rule's grid, and the fitted decoder's offsets. The
           chosen point has the best recall whose FPR (share of clean sentences
           changed) and, if asked, changed characters per 1,000 stay within
           the budget. Recall is strict sentence-level correction recall.
           With the corrector's second pass, the chosen point is re-run with it
           and must still keep the budget (pick_second_pass).
run        ``python -m csc_pretrain.correct tune`` from a TuneConfig: reads the
           files, chooses, prints the report, writes the JSON (and the plot).
"""

import dataclasses
import itertools
import json
import os
from typing import Optional

import numpy as np

from csc_pretrain.correct import config as corrector_config, decoder, metrics
from csc_pretrain.correct.corrector import Thresholds
from csc_pretrain.io_utils import InputError, atomic_write, check_range

MIN_PROBS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
TOP_KS = (1, 3, 5, 10)
OFFSETS = 200  # most offsets swept on the fitted decoder's curve


def threshold_settings():
  """The threshold rule's grid: one setting (a dict of its values) per point."""
  return [{"min_prob": min_prob, "margin": margin, "top_k": top_k}
          for top_k, min_prob, margin in itertools.product(TOP_KS, MIN_PROBS, MARGINS)]


def rule(setting, fitted=None):
  """The Thresholds of one setting: the threshold rule's values, or the fitted
  decoder ``fitted`` at the setting's offset."""
  if "offset" in setting:
    return Thresholds(decoder="fitted",
                      fitted=dataclasses.replace(fitted, offset=setting["offset"]))
  return Thresholds(min_prob=setting["min_prob"], margin=setting["margin"], top_k=setting["top_k"])


def tune(corrector, triples, objective="strict_correction"):
  """Best Thresholds by ``objective`` F1 (ties: higher precision, then stricter)."""
  cands = corrector.candidates([w for _, w, _ in triples], top_k=max(TOP_KS))
  best = None
  for setting in threshold_settings():
    th = rule(setting)
    predicted = [corrector.decide(c, th)[0] for c in cands]
    m = metrics.evaluate([(w, c, p) for (_, w, c), p in zip(triples, predicted)])[objective]
    key = (m["f1"], m["precision"], th.min_prob, th.margin, -th.top_k)
    if best is None or key > best[0]:
      best = (key, th, m)
  return best[1], best[2]


# --- points, curves and the budget: pure functions -----------------------------------------------

def point(setting, triples, predicted, clean, cleaned):
  """One point of a curve: ``setting`` (a dict of the rule's values) with strict
  correction P/R/F1 on the dev ``triples`` and over-correction on ``clean``."""
  m = metrics.evaluate([(w, c, p) for (_, w, c), p in zip(triples, predicted)])
  o = metrics.overcorrection(clean, cleaned)
  cor = m["strict_correction"]
  return dict(setting, recall=cor["recall"], precision=cor["precision"], f1=cor["f1"],
              fpr=o["changed_sentence_share"], changes_per_1000=o["changed_per_1000_characters"])


def within(p, max_fpr=None, max_changes_per_1000=None):
  return ((max_fpr is None or p["fpr"] <= max_fpr + 1e-12) and
          (max_changes_per_1000 is None or p["changes_per_1000"] <= max_changes_per_1000 + 1e-12))


def pick(points, max_fpr=None, max_changes_per_1000=None):
  """(chosen point, whether it is within the budget).

  No budget: the best F1 (ties: precision). A budget: the best recall among the
  points within it (ties: lower FPR, then fewer changes, then precision); when
  no point is within it, the one with the lowest FPR, flagged.
  """
  if max_fpr is None and max_changes_per_1000 is None:
    return max(points, key=lambda p: (p["f1"], p["precision"])), True
  inside = [p for p in points if within(p, max_fpr, max_changes_per_1000)]
  if not inside:
    return min(points, key=lambda p: (p["fpr"], p["changes_per_1000"], -p["recall"])), False
  return max(inside, key=lambda p: (p["recall"], -p["fpr"], -p["changes_per_1000"],
                                    p["precision"])), True


def frontier(points):
  """The curve worth showing: by rising FPR, each point with more recall than any
  point at or below its FPR (the rest are beaten on both axes)."""
  out = []
  for p in sorted(points, key=lambda p: (p["fpr"], -p["recall"], p["changes_per_1000"])):
    if not out or p["recall"] > out[-1]["recall"]:
      out.append(p)
  return out


def curve_table(name, points, chosen=None):
  """The frontier of ``points`` as text rows (recall vs FPR)."""
  keys = [k for k in points[0] if k not in ("recall", "precision", "f1", "fpr", "changes_per_1000")]
  rows = [f"{name}: recall vs false-positive rate (frontier of {len(points)} settings)",
          f"  {'FPR':>6s} {'chg/1k':>7s} {'recall':>7s} {'prec':>6s} {'F1':>6s}  setting"]
  for p in frontier(points):
    mark = "  <- chosen" if chosen is not None and p is chosen else ""
    setting = ", ".join(f"{k} {p[k]:.4g}" if isinstance(p[k], float) else f"{k} {p[k]}"
                        for k in keys)
    rows.append(f"  {p['fpr']:6.3f} {p['changes_per_1000']:7.2f} {p['recall']:7.3f} "
                f"{p['precision']:6.3f} {p['f1']:6.3f}  {setting}{mark}")
  if chosen is not None and not any(p is chosen for p in frontier(points)):
    rows.append(f"  chosen (not on the frontier): FPR {chosen['fpr']:.3f}, recall "
                f"{chosen['recall']:.3f}")
  return "\n".join(rows)


def plot_curves(curves, path, max_fpr=None, chosen=None):
  """A PNG of recall against FPR, one line per rule in ``curves`` ({name: points});
  the budget as a dashed line and each rule's ``chosen`` point ringed."""
  import matplotlib
  matplotlib.use("Agg")  # files only: no display needed
  import matplotlib.pyplot as plt
  from csc_pretrain.io_utils import atomic_write
  fig, ax = plt.subplots(figsize=(6, 4.5))
  for name, points in curves.items():
    front = frontier(points)
    line, = ax.plot([p["fpr"] for p in front], [p["recall"] for p in front], marker=".",
                    drawstyle="steps-post", label=name)
    if chosen and name in chosen:
      ax.plot([chosen[name]["fpr"]], [chosen[name]["recall"]], "o", markersize=11,
              markerfacecolor="none", color=line.get_color())
  if max_fpr is not None:
    ax.axvline(max_fpr, linestyle="--", color="grey", label=f"budget FPR {max_fpr:g}")
  ax.set_xlabel("false-positive rate (share of clean sentences changed)")
  ax.set_ylabel("correction recall (strict, dev pairs)")
  ax.set_xlim(left=0)
  ax.set_ylim(bottom=0)
  ax.grid(alpha=0.3)
  ax.legend(loc="lower right")
  fig.tight_layout()
  with atomic_write(path, "wb") as f:
    fig.savefig(f, format="png", dpi=120)
  plt.close(fig)


# --- running the rules over a dev set ------------------------------------------------------------

@dataclasses.dataclass
class DevData:
  """A dev set read by the model once: the pairs and the clean sentences with
  their Candidates and frozen positions (protected terms, lexicon words)."""
  triples: list        # [(id, wrong, correct)]
  clean: list          # [sentence]
  dev_cands: list
  clean_cands: list
  dev_frozen: list
  clean_frozen: list

  @classmethod
  def read(cls, corrector, triples, clean, top_k=max(TOP_KS)):
    cands = corrector.candidates([w for _, w, _ in triples] + list(clean), top_k=top_k)
    frozen = [corrector.constraints.frozen(c.text) if corrector.constraints else set()
              for c in cands]
    n = len(triples)
    return cls(list(triples), list(clean), cands[:n], cands[n:], frozen[:n], frozen[n:])


def threshold_points(corrector, dev):
  """The threshold rule's grid as points."""
  points = []
  for setting in threshold_settings():
    th = rule(setting)
    predicted = [corrector.decide(c, th, f)[0] for c, f in zip(dev.dev_cands, dev.dev_frozen)]
    cleaned = [corrector.decide(c, th, f)[0] for c, f in zip(dev.clean_cands, dev.clean_frozen)]
    points.append(point(setting, dev.triples, predicted, dev.clean, cleaned))
  return points


def fit_decoder(corrector, dev, top_k=max(TOP_KS), per_char=True):
  """A decoder.Fitted on the dev pairs (positives: the gold corrections among the
  candidates) and the clean sentences (negatives only)."""
  targets = [c for _, _, c in dev.triples] + dev.clean
  x, y, originals = decoder.training_rows(dev.dev_cands + dev.clean_cands, targets, top_k,
                                          corrector.allowed, corrector.similarity,
                                          corrector.constraints, corrector.dictionary)
  return decoder.fit(x, y, originals, per_char=per_char, top_k=top_k)


def fitted_points(corrector, dev, fitted):
  """The fitted decoder's offsets as points: the best candidate per position is
  scored once, then each offset keeps those with z >= offset."""
  th = Thresholds(decoder="fitted", fitted=fitted)

  def scored(cands_list, frozen_list):
    return [decoder.proposals(c, th, corrector.allowed, corrector.similarity,
                              corrector.constraints, f, corrector.dictionary)
            for c, f in zip(cands_list, frozen_list)]

  dev_props = scored(dev.dev_cands, dev.dev_frozen)
  clean_props = scored(dev.clean_cands, dev.clean_frozen)
  zs = np.array([p[3] for props in dev_props + clean_props for p in props])
  # Above every score (no edit at all), then each quantile of the scores: each
  # offset lets the next slice of edits in.
  offsets = [float(zs.max()) + 1.0 if len(zs) else 0.0]
  if len(zs):
    quantiles = np.quantile(zs, np.linspace(0, 1, min(OFFSETS, len(zs))))
    offsets += [float(q) for q in np.unique(quantiles)]
  points = []
  for offset in offsets:
    def run(cands_list, props_list):
      return [decoder.apply(c.text, [p for p in props if p[3] >= offset])[0]
              for c, props in zip(cands_list, props_list)]
    points.append(point({"offset": offset}, dev.triples, run(dev.dev_cands, dev_props),
                        dev.clean, run(dev.clean_cands, clean_props)))
  return points


# --- with the second pass: the chosen point is checked, not assumed -------------------------------

SECOND_PASS_CHECKS = 20  # points re-run with the second pass, best first, before giving up


def second_pass_point(corrector, dev, setting, fitted=None, cache=None):
  """``setting``'s point with the corrector's second pass too. The corrected
  sentences are read by the model again; ``cache`` {text: Candidates} keeps
  those outputs across settings, which mostly share their corrected sentences."""
  th = rule(setting, fitted)
  cache = {} if cache is None else cache

  def read(texts):
    missing = sorted({t for t in texts if t not in cache})
    if missing:
      cache.update(zip(missing, corrector.candidates(missing, top_k=max(TOP_KS))))
    return [cache[t] for t in texts]

  def run(cands_list, frozen_list):
    results = [dict(zip(("text", "corrected", "edits"), (c.text,) + corrector.decide(c, th, f)))
               for c, f in zip(cands_list, frozen_list)]
    corrector.read_again(results, frozen_list, th, read)
    return [r["corrected"] for r in results]

  return dict(point(setting, dev.triples, run(dev.dev_cands, dev.dev_frozen), dev.clean,
                    run(dev.clean_cands, dev.clean_frozen)), second_pass=True)


def pick_second_pass(corrector, dev, points, max_fpr=None, max_changes_per_1000=None,
                     fitted=None, checks=SECOND_PASS_CHECKS):
  """pick() for a corrector that reads its corrections again. The curve is the
  first pass's (a second pass per point would read the model hundreds of times);
  the second pass only adds edits, so a point over the budget stays over it. The
  points pick() would choose are re-run with the second pass, best first, and
  the first that keeps the budget (no budget: the best F1 of those re-run) is
  chosen, with its second-pass figures."""
  cache = {}
  if max_fpr is None and max_changes_per_1000 is None:
    best = sorted(points, key=lambda p: (p["f1"], p["precision"]), reverse=True)[:checks]
    return max((second_pass_point(corrector, dev, p, fitted, cache) for p in best),
               key=lambda p: (p["f1"], p["precision"])), True
  inside = sorted([p for p in points if within(p, max_fpr, max_changes_per_1000)],
                  key=lambda p: (p["recall"], -p["fpr"], -p["changes_per_1000"], p["precision"]),
                  reverse=True)
  for p in inside[:checks]:
    checked = second_pass_point(corrector, dev, p, fitted, cache)
    if within(checked, max_fpr, max_changes_per_1000):
      return checked, True
  # Nothing checked keeps the budget: the strictest point, flagged.
  strictest = min(points, key=lambda p: (p["fpr"], p["changes_per_1000"], -p["recall"]))
  checked = second_pass_point(corrector, dev, strictest, fitted, cache)
  return checked, within(checked, max_fpr, max_changes_per_1000)


@dataclasses.dataclass
class Calibration:
  thresholds: Thresholds   # what to write to thresholds.json
  curves: dict             # rule name -> points
  chosen: dict             # rule name -> chosen point
  inside: dict             # rule name -> whether the chosen point is within the budget
  fitted: object = None    # decoder.Fitted, offset set


def calibrate(corrector, dev, max_fpr=None, max_changes_per_1000=None, decoder_name="threshold",
              per_char=True):
  """Calibrates the threshold rule and, with ``decoder_name`` "fitted", fits and
  calibrates the decoder too; the Thresholds carry both (the decoder named is the
  default)."""
  def choose(points, fitted=None):
    if getattr(corrector, "second_pass", False):
      return pick_second_pass(corrector, dev, points, max_fpr, max_changes_per_1000, fitted)
    return pick(points, max_fpr, max_changes_per_1000)

  curves, chosen, inside = {}, {}, {}
  curves["threshold"] = threshold_points(corrector, dev)
  chosen["threshold"], inside["threshold"] = choose(curves["threshold"])
  best = chosen["threshold"]
  fitted = None
  if decoder_name == "fitted":
    fitted = fit_decoder(corrector, dev, per_char=per_char)
    curves["fitted"] = fitted_points(corrector, dev, fitted)
    chosen["fitted"], inside["fitted"] = choose(curves["fitted"], fitted)
    fitted.offset = chosen["fitted"]["offset"]
  record = {"max_fpr": max_fpr, "max_changes_per_1000": max_changes_per_1000,
            "dev_pairs": len(dev.triples), "clean_sentences": len(dev.clean),
            "chosen": {name: _json_point(p) for name, p in chosen.items()},
            "within_budget": dict(inside)}
  th = dataclasses.replace(rule(best), decoder=decoder_name, fitted=fitted, calibration=record)
  return Calibration(th, curves, chosen, inside, fitted)


def report(result):
  """A Calibration as text: each rule's curve, the fitted boundary, the chosen points."""
  parts = [curve_table(name, points, result.chosen[name])
           for name, points in result.curves.items()]
  if result.fitted is not None:
    parts.append(result.fitted.describe())
  chosen = []
  for name, p in result.chosen.items():
    note = "" if result.inside[name] else "  NOT within the budget: no setting is (lowest FPR)"
    if p.get("second_pass"):
      note = ", with the second pass" + note
    chosen.append(f"chosen {name}: recall {p['recall']:.3f} (P {p['precision']:.3f}, F1 "
                  f"{p['f1']:.3f}), FPR {p['fpr']:.3f}, {p['changes_per_1000']:.2f} changes "
                  f"per 1,000{note}")
  return "\n\n".join(parts + ["\n".join(chosen)])


def _json_point(p):
  return {k: round(v, 6) if isinstance(v, float) else v for k, v in p.items()}


# --- the command ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TuneConfig:
  """What ``python -m csc_pretrain.correct tune`` was asked (its flags, same names)."""
  corrector: corrector_config.CorrectorConfig
  dev_file: Optional[str] = None      # dev pairs, any csc_pretrain.pair_formats layout
  output: Optional[str] = None        # the thresholds JSON
  clean_file: Optional[str] = None    # comma-separated; default with a budget: the dev pairs'
                                      # correct sides
  max_fpr: Optional[float] = None
  max_changes_per_1000: Optional[float] = None
  plot: Optional[str] = None          # default: next to output
  per_char: bool = True


def run(cfg):
  """Chooses thresholds as ``cfg`` says and writes them (see the module docstring)."""
  from csc_pretrain import pair_formats
  from csc_pretrain.correct import evaluate
  if not cfg.dev_file or not cfg.output:
    raise InputError("tune", 0, "needs --dev_file and --output")
  check_range("--max_fpr", cfg.max_fpr, 0, 1)
  check_range("--max_changes_per_1000", cfg.max_changes_per_1000, 0, 1000)
  budget = cfg.max_fpr is not None or cfg.max_changes_per_1000 is not None
  decoder_name = cfg.corrector.decoder or "threshold"
  # bad lines fail before anything is read
  constraints = corrector_config.load_constraints(cfg.corrector)
  triples = pair_formats.read_triples(cfg.dev_file)
  if not (budget or cfg.clean_file or decoder_name == "fitted" or cfg.corrector.second_pass):
    # The original objective: the best F1, three numbers out.
    corrector_config.check(cfg.corrector)
    best, m = tune(corrector_config.make_corrector(cfg.corrector, Thresholds(), constraints),
                   triples)
    with atomic_write(cfg.output) as f:
      json.dump(best.to_json(), f, indent=2)
    print(f"best on {len(triples)} dev pairs: {best.to_json()} -> strict correction "
          f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}; wrote {cfg.output}")
    return
  if cfg.clean_file:
    clean = [s for path in cfg.clean_file.split(",") if path
             for s in evaluate.load_clean(path)[0]]
    source = cfg.clean_file
  else:
    clean = [c for _, _, c in triples]
    source = f"the correct side of {cfg.dev_file}"
  corrector_config.check(cfg.corrector)
  corrector = corrector_config.make_corrector(cfg.corrector, Thresholds(top_k=max(TOP_KS)),
                                              constraints)
  dev = DevData.read(corrector, triples, clean)
  result = calibrate(corrector, dev, cfg.max_fpr, cfg.max_changes_per_1000, decoder_name,
                     cfg.per_char)
  result.thresholds.calibration["clean_source"] = source
  # The fit and the FPR hold for these; correct and evaluate warn when theirs differ.
  result.thresholds.calibration["constraints"] = corrector_config.constraints_record(
      cfg.corrector)
  print(f"{len(triples)} dev pairs; false-positive rate on {len(clean)} clean sentences "
        f"({source})\n")
  print(report(result))
  plot = cfg.plot or os.path.splitext(cfg.output)[0] + ".png"
  labels = {"threshold": "threshold rule", "fitted": "fitted decoder"}
  plot_curves({labels[k]: v for k, v in result.curves.items()}, plot, cfg.max_fpr,
              {labels[k]: v for k, v in result.chosen.items()})
  with atomic_write(cfg.output) as f:
    json.dump(result.thresholds.to_json(), f, indent=2, ensure_ascii=False)
  print(f"wrote {cfg.output} (decoder {decoder_name}) and {plot}")
