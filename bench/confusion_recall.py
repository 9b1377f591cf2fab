"""Recall@k of confusion rankings on real error pairs, by kind of error.

  python bench/confusion_recall.py [--pairs FILE ...] [--confusion_dir DIR ...]
      [--sighan_dir ../shared/data/sighan] [--charset FILE] [--no_cv]

Pair files: ``wrong<TAB>correct[<TAB>count]`` lines, or ``ERROR.txt:CORRECT.txt``
(two line-aligned files of equal-length sentences). With --confusion_dir, the
correction table (confusion_sets.tsv) of each directory is measured on every pair
file (top 50 at most, as written). The kinds:

    same-tone   same syllable, same tone        (在/再)
    other-tone  same syllable, other tone       (一 yi1 / 以 yi3, 那 na4 / 哪 na3)
    sim-pinyin  a fuzzy initial or final        (尽 jin / 竟 jing)
    look-alike  none of those, glyph >= 0.7 or IDS visual >= 0.6   (官/宫)
    other       the rest (的/了, 有/要)

Cross-validation (default when the SIGHAN training sets are at --sighan_dir; it
says so and skips when they are not): for each of the three sets, the weights
are fitted on the other two and every pair of the held-out set is ranked among
all characters of the charset (default: all of U+4E00..U+9FFF), by

    old       the hand-set mixture (similarity.mixture) of the first release
    no prior  the fitted ranking (ranking.py) without the prior and sound features
    linear    the fitted ranking with the prior and sound counts, its linear part
              only (ranking.fit_weights, before ranking.fit_network)
    new       the fitted ranking with the two fitting sets' pairs as its prior and
              sound counts (jackknifed between them when fitting): the shipped
              configuration
    new+obs   that, with the two fitting sets' pairs also as observed confusions
              (build.py --observed, which puts them first)

in the correction direction (the wrong character's row), split into pairs seen
and not seen in the fitting sets, and in the error direction (the correct
character's row). The SIGHAN data is read in place, never copied.
"""

import argparse
import collections
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from csc_pretrain.char_meta import build, formats, phonetic, ranking, similarity  # noqa: E402

KS = (1, 5, 10, 20, 50)
KINDS = ("same-tone", "other-tone", "sim-pinyin", "look-alike", "other")
SETS = ("13", "14", "15")
DEFAULT_SIGHAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "shared", "data", "sighan")


def kind_of(bits, glyph, visual):
  """The error kind of one pair from its raw measures."""
  if bits & phonetic.SAME_TONE:
    return "same-tone"
  if bits & phonetic.SAME_SYLLABLE:
    return "other-tone"
  if bits & (phonetic.FUZZY_INITIAL | phonetic.FUZZY_FINAL):
    return "sim-pinyin"
  if glyph >= 0.7 or visual >= 0.6:
    return "look-alike"
  return "other"


def read_pairs(spec):
  if ":" in spec and not os.path.exists(spec):
    error_path, correct_path = spec.split(":", 1)
    return formats.read_parallel_confusions(error_path, correct_path)
  return formats.read_observed_confusions(spec)


def summary(ranks, counts, kinds):
  """{kind: (errors, {k: recall})} from 0-based ranks and per-pair counts."""
  groups = collections.defaultdict(list)
  for pair, count in counts.items():
    groups["all"].append((ranks.get(pair, 10 ** 9), count))
    groups[kinds[pair]].append((ranks.get(pair, 10 ** 9), count))
  out = {}
  for kind, items in groups.items():
    total = sum(c for _, c in items)
    out[kind] = (total, {k: sum(c for r, c in items if r < k) / total for k in KS})
  return out


def print_summary(title, by_kind):
  print(title)
  for kind in ("all",) + KINDS:
    if kind in by_kind:
      total, rec = by_kind[kind]
      print(f"  {kind:10s} n={total:5.0f} " + " ".join(f"@{k}={100 * rec[k]:5.1f}" for k in KS))


def measure_pairs(tables, counts, direction="correct"):
  """Kinds of {(wrong, correct): n} pairs (by the correction-direction row)."""
  index = {c: i for i, c in enumerate(tables.chars)}
  oriented = ranking.oriented(counts, index, "correct")
  kinds = {}
  by_row = collections.defaultdict(list)
  for r, c in oriented:
    by_row[r].append(c)
  rows = np.array(sorted(by_row), np.int64)
  for start in range(0, len(rows), 128):
    part = rows[start:start + 128]
    bits = tables.bits.take(part)
    ids, struct, strokes, visual = tables.visual.take(part)
    glyph = tables.glyph.take(part)[0]
    for k, r in enumerate(part):
      for c in by_row[int(r)]:
        kind = kind_of(int(bits[k, c]), float(glyph[k, c]), float(visual[k, c]))
        kinds[(int(r), c)] = kind
  if direction == "error":
    kinds = {(c, r): k for (r, c), k in kinds.items()}
  return oriented if direction == "correct" else ranking.oriented(counts, index, "error"), kinds


def table_recall(sets, counts, kinds_by_char):
  ranks = {}
  for (w, c) in counts:
    cands = sets.get(w, [])
    ranks[(w, c)] = cands.index(c) if c in cands else 10 ** 9
  return summary(ranks, counts, kinds_by_char)


def cross_validate(tables, sets_counts, log, args_shares=()):
  index = {c: i for i, c in enumerate(tables.chars)}
  freq_prior = similarity.frequency_prior(tables.freq)
  everything = collections.Counter()
  for counts in sets_counts.values():
    everything.update(counts)
  samples, kinds = {}, {}
  for direction in ranking.DIRECTIONS:
    all_oriented, kinds[direction] = measure_pairs(tables, everything, direction)
    targets = collections.defaultdict(list)
    for r, c in all_oriented:
      targets[r].append(c)
    t0 = time.time()
    samples[direction] = ranking.sample(tables, sorted(targets), targets)
    log(f"sampled {direction} rows: {len(targets)} in {time.time() - t0:.0f}s")

  def old(rows, raw):
    valid = np.ones(raw["bits"].shape, bool)
    valid[np.arange(len(rows)), rows] = False
    return similarity.mixture(raw["phonetic"], raw["visual"], freq_prior[None, :], valid)[2]

  pooled = {}  # (direction label, scorer, subset) -> (ranks, counts, kinds) keyed by fold+pair
  for held_out in SETS:
    fitting = [sets_counts[name] for name in SETS if name != held_out]
    fitting_sum = collections.Counter()
    for counts in fitting:
      fitting_sum.update(counts)
    for direction in ranking.DIRECTIONS:
      s = samples[direction]
      seen = ranking.oriented(fitting_sum, index, direction)
      fitted = {}
      for use_prior in (False, True):
        x, y = ranking.jackknifed(s, fitting, tables, direction, use_prior)
        linear = ranking.fit_weights(x, y)
        fitted[use_prior] = ranking.fit_network(x, y, linear)
        if use_prior:  # as ranking.fit: the fitting sets' pairs counted by sound
          sounds = ranking.Sounds.of(seen, tables)
          fitted["linear"] = dict(linear, sounds=sounds)
          fitted[True]["sounds"] = sounds
      test = ranking.oriented(sets_counts[held_out], index, direction)
      prior = ranking.Prior(seen, len(tables.chars))
      bonus_pairs = {p: build.OBSERVED_WEIGHT * float(np.log1p(n)) for p, n in seen.items()}
      bonus = similarity._Bonus(bonus_pairs, len(tables.chars))

      def new(rows, raw, w=fitted[True], prior=prior, share=ranking.LOOK_ALIKE_SHARE,
              prior_share=ranking.PRIOR_SHARE):
        s = ranking.score(tables, rows, w, raw, prior)
        valid = np.ones(s.shape, bool)
        valid[np.arange(len(rows)), rows] = False
        return ranking.probabilities(s, raw["look_alike"], valid, share, rows, prior,
                                     prior_share)

      def new_obs(rows, raw, bonus=bonus):
        p = new(rows, raw)
        for k, r in enumerate(rows):  # rows are not contiguous: add bonus row by row
          p[k] += bonus.block(int(r), int(r) + 1)[0]
        return p

      scorers = {"old": old, "no prior": lambda rows, raw: new(rows, raw, fitted[False], None),
                 "linear": lambda rows, raw: new(rows, raw, fitted["linear"]),
                 "new": new, "new+obs": new_obs}
      for share in args_shares:
        scorers[f"new,prior share {share}"] = (
            lambda rows, raw, share=share: new(rows, raw, prior_share=share))
      t0 = time.time()
      ranks = ranking.ranks(tables, test, scorers)
      log(f"ranked {len(test)} held-out pairs of {held_out}, {direction}, {time.time() - t0:.0f}s")
      kinds_d = kinds[direction]
      label = "wrong->correct" if direction == "correct" else "correct->wrong (error direction)"
      unseen = {p: n for p, n in test.items() if p not in seen}
      for name in scorers:
        for subset, counts in (("all pairs", test), ("unseen pairs", unseen)):
          key = (label, name, subset)
          pooled.setdefault(key, ({}, {}, {}))
          for pair, n in counts.items():
            fold_pair = (held_out,) + pair
            pooled[key][0][fold_pair] = ranks[name].get(pair, 10 ** 9)
            pooled[key][1][fold_pair] = n
            pooled[key][2][fold_pair] = kinds_d[pair]
        print_summary(f"fold: fit {'+'.join(s for s in SETS if s != held_out)}, held out "
                      f"{held_out}; {label}; {name}; all pairs", summary(ranks[name], test, kinds_d))
        if direction == "correct" and not name.startswith("new,"):
          seen_test = {p: n for p, n in test.items() if p in seen}
          print_summary(f"  ... {name}; pairs not seen in the fitting sets",
                        summary(ranks[name], unseen, kinds_d))
          print_summary(f"  ... {name}; pairs seen in the fitting sets",
                        summary(ranks[name], seen_test, kinds_d))
      sys.stdout.flush()
  print("\npooled over the three folds (each held-out set ranked by the weights and prior "
        "fitted on the other two)")
  for (label, name, subset), (ranks, counts, kinds_) in pooled.items():
    print_summary(f"pooled; {label}; {name}; {subset}", summary(ranks, counts, kinds_))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--pairs", nargs="*", default=[])
  parser.add_argument("--confusion_dir", nargs="*", default=[])
  parser.add_argument("--sighan_dir", default=DEFAULT_SIGHAN)
  parser.add_argument("--charset", default=None)
  parser.add_argument("--no_cv", action="store_true")
  parser.add_argument("--shares", type=float, nargs="*", default=[],
                      help="also rank with these prior shares (ranking.PRIOR_SHARE)")
  args = parser.parse_args()

  def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

  sighan = {s: (os.path.join(args.sighan_dir, f"train{s}_error.txt"),
                os.path.join(args.sighan_dir, f"train{s}_correct.txt")) for s in SETS}
  have_sighan = all(os.path.exists(p) for paths in sighan.values() for p in paths)
  run_cv = not args.no_cv and have_sighan
  if not args.no_cv and not have_sighan:
    print(f"SIGHAN training sets not found at {args.sighan_dir}: cross-validation skipped")
  if not (run_cv or args.pairs):
    return
  chars, infos, _ = build.load_sources(charset=args.charset)
  tables = build.make_tables(chars, infos, words=build.lexicon_words(build.JIEBA))
  log(f"tables for {len(chars)} characters")
  for spec in args.pairs:
    counts = read_pairs(spec)
    index = {c: i for i, c in enumerate(chars)}
    _, kinds = measure_pairs(tables, counts)
    kinds_by_char = {(w, c): kinds[(index[w], index[c])] for (w, c) in counts
                     if (w, c) in counts and w in index and c in index and w != c}
    counts = {p: n for p, n in counts.items() if p in kinds_by_char}
    for confusion_dir in args.confusion_dir:
      sets = formats.read_confusion_sets(os.path.join(confusion_dir, formats.CORRECTION_TABLE))
      print_summary(f"{spec} with {confusion_dir}", table_recall(sets, counts, kinds_by_char))
  if run_cv:
    sets_counts = {s: formats.read_parallel_confusions(*sighan[s]) for s in SETS}
    cross_validate(tables, sets_counts, log, args.shares)


if __name__ == "__main__":
  main()
