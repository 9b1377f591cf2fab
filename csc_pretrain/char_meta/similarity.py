"""Visual similarity of every pair of characters, and the hand-set mixture ranking.

Visual similarity of characters a and b (each in [0, 1]):

    ids     FASPell's 1 - ED(ids_a, ids_b) / max(len), on stroke-level IDS,
            max over alternative decompositions;
    struct  the same on component-level IDS (⿰氵青): a component shared in the
            same position is one matching symbol there, however many strokes it
            has, so 清/请/情 (same 青 on the right) stay close;
    strokes the same on the 5-class stroke sequences (writing order);
    visual  = W_IDS ids + W_STRUCT struct + W_STROKES strokes.

The glyph measure (rendered bitmaps) is in glyph.py; the ranking that
confusion_sets.tsv and confusion_errors.tsv use is fitted to real errors, in
ranking.py. The hand-set mixture below still ranks confusion_phonetic.tsv and
confusion_visual.tsv, and its two per-row normalised parts are features of the
fitted ranking.

Mixture. The correct character of a real typo is nearly always a common one;
most typos sound alike, about a third look alike, many do both. The combined
score of a candidate c for a character w is the probability that c was meant,
under a two-part mixture, one part per kind of error:

    prior(c)     = (1 + freq c) ** PRIOR_POWER
    q_phon(c)    = prior(c) * exp(PHONETIC_SHARPNESS * (phonetic(w, c) - 1))
    q_vis(c)     = prior(c) * exp(VISUAL_SHARPNESS * (visual(w, c) - 1))
    combined(c)  = (1 - VISUAL_SHARE) * q_phon(c) / sum q_phon
                 + VISUAL_SHARE * q_vis(c) / sum q_vis          (sums over all c != w)

Normalising each part per row matters: a syllable shared by a hundred common
characters (shi4) spreads its phonetic mass thin, so a close look-alike (士/土)
still makes the top ten, while a character with few homophones keeps them on
top. The phonetic-only and visual-only sets rank by each part alone, among
candidates with phonetic >= MIN_PHONETIC or visual >= MIN_VISUAL. The
constants were set on the hand-written dev pairs in bench/data (never on a
public test set). Ties break by code point, so rankings are deterministic.

All pairs are computed in blocks of rows with rapidfuzz's ``cdist`` (C++, all
cores) and numpy.
"""

import dataclasses

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

W_IDS, W_STRUCT, W_STROKES = 0.6, 0.1, 0.3
PRIOR_POWER = 0.35         # real errors follow character frequency, sub-linearly
PHONETIC_SHARPNESS = 15.0  # 同音异调 (0.85) weighs exp(-2.25) ~ 1/10 of 同音同调
VISUAL_SHARPNESS = 12.0
VISUAL_SHARE = 0.4         # share of look-alike errors, a little above the ~1/3 reported
MIN_PHONETIC = 0.5         # phonetic-only sets: at most one fuzzy initial/final away
MIN_VISUAL = 0.5           # visual-only sets


@dataclasses.dataclass
class Shapes:
  """Per-character shape strings, aligned with a list of characters."""
  stroke_ids: list      # [[ids, ...], ...] alternatives per character
  component_ids: list   # [[ids, ...], ...]
  strokes: list         # ["4411...", ...] 5-class stroke sequences


def _flatten(alternatives):
  """Flattens per-character alternatives; returns (strings, owner index, offsets)."""
  strings, owners = [], []
  for i, alts in enumerate(alternatives):
    alts = alts or [""]
    strings.extend(alts)
    owners.extend([i] * len(alts))
  owners = np.asarray(owners, dtype=np.int64)
  return strings, owners, np.searchsorted(owners, np.arange(len(alternatives)))


class _AltSimilarity:
  """Normalised Levenshtein similarity with the max over alternatives on both sides."""

  def __init__(self, alternatives, workers):
    self.strings, self.owners, self.offsets = _flatten(alternatives)
    self.single = len(self.strings) == len(alternatives)
    self.workers = workers

  def rows(self, start, stop):
    return self.take(np.arange(start, stop))

  def take(self, indices):
    """Similarity of the characters ``indices`` to every character, [len(indices), N]."""
    indices = np.asarray(indices, np.int64)
    ends = np.append(self.offsets[1:], len(self.strings))
    if self.single:
      queries = [self.strings[i] for i in indices]
    else:
      queries = [s for i in indices for s in self.strings[self.offsets[i]:ends[i]]]
    sim = process.cdist(queries, self.strings, scorer=Levenshtein.normalized_similarity,
                        dtype=np.float32, workers=self.workers)
    if self.single:
      return sim
    sim = np.maximum.reduceat(sim, self.offsets, axis=1)
    starts = np.concatenate([[0], np.cumsum(ends[indices] - self.offsets[indices])[:-1]])
    return np.maximum.reduceat(sim, starts, axis=0)


def _remap_small_alphabet(alternatives):
  """Stroke-level IDS use ~50 distinct symbols; remapping them below U+0100
  lets rapidfuzz use its fastest lookup tables (about 1.5x faster)."""
  symbols = sorted({s for alts in alternatives for a in alts for s in a})
  if len(symbols) > 200:
    return alternatives
  table = {s: chr(0x21 + k) for k, s in enumerate(symbols)}
  return [["".join(table[s] for s in a) for a in alts] for alts in alternatives]


class VisualTable:
  """Visual similarity (ids, struct, strokes, visual) a block of rows at a time."""

  def __init__(self, shapes, workers=-1):
    self.ids = _AltSimilarity(_remap_small_alphabet(shapes.stroke_ids), workers)
    self.struct = _AltSimilarity(shapes.component_ids, workers)
    self.strokes = _AltSimilarity([[s] for s in shapes.strokes], workers)

  def rows(self, start, stop):
    return self.take(np.arange(start, stop))

  def take(self, indices):
    """(ids, struct, strokes, visual) of the characters ``indices`` against all."""
    ids = self.ids.take(indices)
    struct = self.struct.take(indices)
    strokes = self.strokes.take(indices)
    visual = W_IDS * ids + W_STRUCT * struct + W_STROKES * strokes
    return ids, struct, strokes, visual


def frequency_prior(freqs):
  """Candidate prior from raw character counts."""
  return np.power(1.0 + np.asarray(freqs, np.float64), PRIOR_POWER).astype(np.float32)


def _normalise(scores, valid):
  scores = np.where(valid, scores, 0.0)
  return scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-30)


def mixture(phonetic, visual, prior, valid):
  """Per-row normalised phonetic part, visual part and their mixture."""
  q_phon = _normalise(prior * np.exp(PHONETIC_SHARPNESS * (phonetic - 1.0)), valid)
  q_vis = _normalise(prior * np.exp(VISUAL_SHARPNESS * (visual - 1.0)), valid)
  return q_phon, q_vis, (1.0 - VISUAL_SHARE) * q_phon + VISUAL_SHARE * q_vis


# Columns of confusion_scores.tsv after char and candidate (build.rank_all).
SCORE_NAMES = ("ids", "struct", "strokes", "visual", "glyph", "phonetic", "combined", "error")


def _top_k(scores, k, valid):
  """Row-wise top-k column indices by score desc, code point asc; -1 where invalid."""
  scores = np.where(valid, scores.astype(np.float64), -np.inf)
  # Break exact ties by column index; 1e-12 * N stays far below any real score gap.
  scores = scores - np.arange(scores.shape[1], dtype=np.float64)[None, :] * 1e-12
  k = min(k, scores.shape[1])
  part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
  order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
  top = np.take_along_axis(part, order, axis=1)
  return np.where(np.isfinite(np.take_along_axis(scores, top, axis=1)), top, -1)


class _Bonus:
  """Sparse per-pair score additions, sliced into dense row blocks."""

  def __init__(self, pairs, n):
    items = sorted(pairs.items())
    self.n = n
    self.rows = np.array([i for (i, _), _ in items], np.int64)
    self.cols = np.array([j for (_, j), _ in items], np.int64)
    self.values = np.array([v for _, v in items], np.float32)

  def block(self, start, stop):
    out = np.zeros((stop - start, self.n), np.float32)
    lo, hi = np.searchsorted(self.rows, [start, stop])
    np.add.at(out, (self.rows[lo:hi] - start, self.cols[lo:hi]), self.values[lo:hi])
    return out
