"""The fitted ranking: a log-linear model of real errors, in both directions.

For a row character r and every other character x, a score

    score(r, x) = sum_k weight_k * feature_k(r, x) + network(features(r, x))

ranks x, where the network (``Network``) is one hidden layer of HIDDEN ReLU units
over the standardised BASE_FEATURES: it lets kinds of evidence combine, which the
sum cannot. Its softmax over all x of a row, mixed with a LOOK_ALIKE_SHARE of the
hand-set mixture's look-alike part (see ``probabilities``), is the probability

    correction direction  P(correct = x | wrong = r)    (confusion_sets.tsv)
    error direction       P(wrong = x | correct = r)    (confusion_errors.tsv)

Both use the same features, with the column character's frequency: writers
mean common characters (correction) and also *type* common ones (errors), so
each direction has its own weights, fitted on real wrong/correct pairs.

Features (all in [0, 1], see FEATURES): sound-alike kinds from phonetic.PhoneticBits
(same syllable and tone, same syllable other tone, neutral tone, fuzzy initial or
final, same initial or final; for any readings and for the first ones), the
continuous phonetic similarity, each visual measure (IDS, component IDS, stroke
sequence, rendered glyph at two scales) with two hinges so the model can make
"very alike" count more than "somewhat alike", the log-probabilities of the
hand-set mixture and its two parts (similarity.mixture: they are normalised per
row), log frequency of the column character, and whether both are among the
most common characters (function-character confusions: 的/地/得, 了/的),
whether the column is among the WIDE_RANK most common (alone, and with any shared
initial or final), and the word frames both fill (lexicon.py: log count, any, any
with a common column). The row character's own frequency is the same for every
candidate of its row, so a softmax ignores it except through such interactions.

Two more features come from a corpus of real errors, the *prior* (``Prior``;
the shipped one is SIGHAN 2013-15's training pairs, counts only, in
real_error_pairs.tsv): ``seen``, log(1 + times this very pair was an error),
and ``popular``, log(1 + times the column character was the correction (or the
typo, in the error direction) of any error). Their weights are fitted
*jackknifed*: each fitting corpus is scored with the prior of the others only,
so the weights say how much a pair seen in *another* corpus of real errors is
worth, not how well a corpus predicts itself.

Three more count the fitting corpora's error pairs by sound (``Sounds``,
SOUND_FEATURES): log(1 + distinct pairs whose two characters' toneless
syllables, or initials, or finals were those of this pair). They carry over to
pairs never seen: they say which sounds real writers mix up (SIGHAN's learners:
z/zh, j/q, b/p, in/ing, an/ang), not which characters. They are fitted
jackknifed too, and their counts are part of the model: the weights file holds
them, so they stay when a build turns the prior off.

Fitting (``fit``) maximises the log-likelihood of the observed pairs under a
sampled softmax: per row, the observed targets, the HARD best candidates of a
fixed proposal score and RANDOM uniformly drawn others (their logits get
log(rest / RANDOM), so the sum estimates the full softmax), with an L2 penalty.
Plain numpy, Adam, full batch: first the linear weights, then (``fit_network``)
those and the network together. Weights are learnt per kind of pair, never per
pair, so the ranking carries over to pairs and domains the fitting data never
saw; pairs come in only through the prior, soft, and through a user's own
observed confusions (build.py --observed), which come first.
"""

import concurrent.futures
import dataclasses
import json
import math
import os
import re

import numpy as np

from csc_pretrain.char_meta import phonetic, similarity
from csc_pretrain.io_utils import InputError

DIRECTIONS = ("correct", "error")
# Each visual measure with the two points above which it counts more (hinges).
HINGES = {"ids": (0.5, 0.75), "struct": (0.5, 0.75), "strokes": (0.5, 0.75),
          "glyph": (0.5, 0.75), "glyph_coarse": (0.8, 0.9)}
VISUAL_MEASURES = tuple(HINGES)
COMMON_RANK = 300          # "both common": each among the 300 most frequent characters
WIDE_RANK = 1000           # "common column": among the 1000 most frequent
HARD, RANDOM = 200, 100    # sampled softmax: proposal's best + uniform others
L2 = 1e-3
STEPS, LEARNING_RATE = 250, 0.1
# The small network on top of the linear score (see ``fit_network``): hidden ReLU
# units, its own L2 (strong: it must not learn the fitting sets' pairs), steps.
HIDDEN, NET_L2, NET_STEPS, NET_LEARNING_RATE = 16, 3e-2, 400, 0.02

_BITS = (("same_tone", phonetic.SAME_TONE), ("same_syllable", phonetic.SAME_SYLLABLE),
         ("same_tone_first", phonetic.SAME_TONE_FIRST),
         ("same_syllable_first", phonetic.SAME_SYLLABLE_FIRST),
         ("neutral_tone", phonetic.NEUTRAL), ("fuzzy_initial", phonetic.FUZZY_INITIAL),
         ("fuzzy_final", phonetic.FUZZY_FINAL), ("near_same_tone", phonetic.NEAR_SAME_TONE),
         ("same_initial", phonetic.SAME_INITIAL), ("same_final", phonetic.SAME_FINAL),
         ("same_initial_tone", phonetic.SAME_INITIAL_TONE),
         ("same_final_tone", phonetic.SAME_FINAL_TONE), ("aspirated", phonetic.ASPIRATED),
         ("umlaut", phonetic.UMLAUT), ("near_syllable", phonetic.NEAR_SYLLABLE),
         ("near_syllable_tone", phonetic.NEAR_SYLLABLE_TONE))
BASE_FEATURES = (tuple(name for name, _ in _BITS) + ("phonetic",)
            + tuple(f"{m}{suffix}" for m in VISUAL_MEASURES
                    for suffix in ("",) + tuple(f"_h{int(h * 100)}" for h in HINGES[m]))
            + ("mixture", "mixture_phonetic", "mixture_visual")
            + ("freq", "both_common", "common_sound", "freq_if_homophone",
               "no_reading", "col_common_wide", "near_common")
            + ("frames", "frames_any", "frames_common"))
PRIOR_FEATURES = ("seen", "popular")
SOUND_FEATURES = tuple(f"seen_{part}s" for part in phonetic.SOUND_PARTS)
FEATURES = BASE_FEATURES + PRIOR_FEATURES + SOUND_FEATURES
# Prior counts enter as log(1 + count) / PRIOR_SCALE: about 1 at 150 errors.
PRIOR_SCALE = 5.0

# log q of the hand-set mixture and of its parts (similarity.mixture), mapped from
# [-MIXTURE_FLOOR, 0] to [0, 1]: normalised per row, they know how crowded a
# row's syllable is, which a per-pair feature cannot.
MIXTURE_FLOOR = 25.0

# The proposal for hard negatives and the start of the fit: the hand-set mixture
# (log of its probability, MIXTURE_FLOOR per unit) plus a little of the sound-alike
# kinds it under-weights, so fuzzy pairs and other tones get into the sample.
PROPOSAL = {"mixture": MIXTURE_FLOOR, "same_syllable": 2.0, "fuzzy_initial": 2.0,
            "fuzzy_final": 2.0, "glyph_coarse_h90": 2.0}


# Share of the final probability given, in a row the prior has errors for, to the
# prior's own P(col | row): counts, as a row's empirical distribution. Another
# "or": a pair seen as a real error stays near the top however unlike it looks.
PRIOR_SHARE = 0.1

# Share of the final probability given to the hand-set mixture's look-alike part
# (similarity.mixture's q_vis, normalised per row): a log-linear score can only *add* evidence, so a
# close look-alike that sounds nothing alike would stay buried behind the many
# homophones of real errors; mixing in probability space is an "or".
LOOK_ALIKE_SHARE = 0.2


def probabilities(scores, q_visual, valid, share=LOOK_ALIKE_SHARE, rows=None, prior=None,
                  prior_share=PRIOR_SHARE):
  """Row-wise softmax of fitted ``scores`` mixed with the look-alike part ``q_visual``
  (``raw["look_alike"]`` after ``features``) and, for rows the ``prior`` has seen
  as errors, with the prior's own distribution over their columns."""
  scores = np.where(valid, scores, -np.inf)
  p = np.exp(scores - scores.max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  p = (1.0 - share) * p + share * np.where(valid, q_visual, 0.0)
  if prior is not None and prior_share > 0:
    q = prior.distribution(rows)
    has = q.sum(axis=1, keepdims=True) > 0
    p = np.where(has, (1.0 - prior_share) * p + prior_share * q, p)
  return p


def default_weights_file():
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), "ranking_weights.json")


def default_prior_file():
  """The shipped prior: wrong<TAB>correct<TAB>count of the SIGHAN 2013-15 training
  errors (simplified), written by the fit command next to the weights."""
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), "real_error_pairs.tsv")


@dataclasses.dataclass
class Tables:
  """Everything the features of a block of rows need, aligned with ``chars``."""
  chars: list
  visual: object          # similarity.VisualTable
  glyph: object           # glyph.GlyphTable
  phonetic: object        # phonetic.PhoneticTable
  bits: object            # phonetic.PhoneticBits
  freq: np.ndarray        # [N] raw counts
  has_reading: np.ndarray  # [N] bool
  sounds: list            # [N] phonetic.sound_parts of each character (None: no reading)
  frames: object = None   # lexicon.FrameTable (None: its features are 0)

  def __post_init__(self):
    counts = np.asarray(self.freq, np.float64)
    self.prior = similarity.frequency_prior(counts)
    self.log_freq = (np.log1p(counts) / max(math.log1p(counts.max()), 1.0)).astype(np.float32)
    # Rank by count, ties by index, so "common" is deterministic.
    order = np.lexsort((np.arange(len(counts)), -counts))
    self.common = np.zeros(len(counts), bool)
    self.common[order[:COMMON_RANK]] = counts[order[:COMMON_RANK]] > 0
    self.common_wide = np.zeros(len(counts), bool)
    self.common_wide[order[:WIDE_RANK]] = counts[order[:WIDE_RANK]] > 0


class Prior:
  """Counts of real errors for one direction: ``pairs`` {(row, col): n} and each
  column character's total as the target of an error (see the module doc)."""

  def __init__(self, pairs, n):
    self.pairs = dict(pairs)
    self.columns = np.zeros(n, np.float64)
    by_row = {}
    for (r, c), count in sorted(self.pairs.items()):
      self.columns[c] += count
      by_row.setdefault(r, []).append((c, count))
    self._counts = {r: (np.array([c for c, _ in v], np.int64),
                        np.array([k for _, k in v], np.float64)) for r, v in by_row.items()}
    self.popular = (np.log1p(self.columns) / PRIOR_SCALE).astype(np.float32)

  @classmethod
  def of(cls, pair_counts, chars, direction):
    """The prior of {(wrong, correct): n} for ``direction`` over ``chars``."""
    index = {c: i for i, c in enumerate(chars)}
    return cls(oriented(pair_counts, index, direction), len(chars))

  def seen(self, rows):
    """[len(rows), N] float32: the ``seen`` feature of every pair of ``rows``."""
    out = np.zeros((len(rows), len(self.columns)), np.float32)
    for k, r in enumerate(rows):
      if int(r) in self._counts:
        cols, counts = self._counts[int(r)]
        out[k, cols] = np.log1p(counts) / PRIOR_SCALE
    return out

  def distribution(self, rows):
    """[len(rows), N] float64: each row's errors as a distribution (0 for unseen rows)."""
    out = np.zeros((len(rows), len(self.columns)), np.float64)
    for k, r in enumerate(rows):
      if int(r) in self._counts:
        cols, counts = self._counts[int(r)]
        out[k, cols] = counts / counts.sum()
    return out

  def features(self, rows, cols):
    """[R, M, 2] (seen, popular) of the given (row, column) pairs; cols -1 = padding."""
    out = np.zeros(cols.shape + (2,), np.float32)
    safe = np.maximum(cols, 0)
    out[..., 0] = np.take_along_axis(self.seen(rows), safe, axis=1)
    out[..., 1] = self.popular[safe]
    return np.where((cols >= 0)[..., None], out, 0.0)


class Sounds:
  """Error pairs counted by the sounds of their two characters, for one direction:
  ``pairs[part]`` {(row's sound, column's sound): distinct error pairs}, for each
  part of phonetic.SOUND_PARTS. Pairs, not errors: one frequent pair (的/地, 377
  errors) must not make its sounds (e/i) confusable for every character."""

  def __init__(self, pairs):
    self.pairs = {part: dict(pairs.get(part, {})) for part in phonetic.SOUND_PARTS}
    self._bound = None  # (tables, [(ids [N], log counts [V + 1, V + 1])] per part)

  @classmethod
  def of(cls, pair_counts, tables):
    """The distinct pairs of {(row, col): n} (indices into ``tables``) by sound."""
    pairs = {part: {} for part in phonetic.SOUND_PARTS}
    for r, c in sorted(pair_counts):
      a, b = tables.sounds[r], tables.sounds[c]
      if a is not None and b is not None:
        for part, key in zip(phonetic.SOUND_PARTS, zip(a, b)):
          pairs[part][key] = pairs[part].get(key, 0) + 1
    return cls(pairs)

  def transposed(self):
    """The other direction's Sounds."""
    return Sounds({part: {(b, a): n for (a, b), n in counts.items()}
                   for part, counts in self.pairs.items()})

  def _tables(self, tables):
    """Per part, each character's sound id and the log counts by ids; the last id
    stands for "no reading" and counts nothing. Kept for the last ``tables``."""
    bound = self._bound
    if bound is None or bound[0] is not tables:
      parts = []
      for k, part in enumerate(phonetic.SOUND_PARTS):
        values = sorted({s[k] for s in tables.sounds if s is not None})
        index = {v: i for i, v in enumerate(values)}
        ids = np.array([len(values) if s is None else index[s[k]] for s in tables.sounds],
                       np.int64)
        counts = np.zeros((len(values) + 1, len(values) + 1), np.float32)
        for (a, b), n in self.pairs[part].items():
          if a in index and b in index:
            counts[index[a], index[b]] = math.log1p(n) / PRIOR_SCALE
        parts.append((ids, counts))
      bound = self._bound = (tables, parts)
    return bound[1]

  def rows(self, tables, rows):
    """Yields (name, [len(rows), N] float32) for each of SOUND_FEATURES."""
    rows = np.asarray(rows, np.int64)
    for name, (ids, counts) in zip(SOUND_FEATURES, self._tables(tables)):
      yield name, counts[ids[rows]][:, ids]

  def features(self, tables, rows, cols):
    """[R, M, len(SOUND_FEATURES)] of the given (row, column) pairs; cols -1 = padding."""
    rows = np.asarray(rows, np.int64)
    safe = np.maximum(cols, 0)
    out = np.stack([counts[ids[rows][:, None], ids[safe]]
                    for ids, counts in self._tables(tables)], axis=-1)
    return np.where((cols >= 0)[..., None], out, 0.0).astype(np.float32)

  def to_json(self):
    return {part: [[a, b, n] for (a, b), n in sorted(counts.items())]
            for part, counts in self.pairs.items()}

  @classmethod
  def from_json(cls, data):
    if not isinstance(data, dict) or set(data) != set(phonetic.SOUND_PARTS):
      raise ValueError(f"expected lists for {', '.join(phonetic.SOUND_PARTS)}")
    pairs = {}
    for part, rows in data.items():
      if not all(isinstance(a, str) and isinstance(b, str) and isinstance(n, int) and n > 0
                 for a, b, n in rows):
        raise ValueError(f"{part}: expected [sound, sound, count > 0] entries")
      pairs[part] = {(a, b): n for a, b, n in rows}
    return cls(pairs)


def map_blocks(fn, starts, threads=None):
  """fn(start) for each block start, on ``threads`` threads (default one per core),
  results in order. numpy and rapidfuzz release the GIL on whole blocks, so the
  threads share the tables without copies and still use every core."""
  with concurrent.futures.ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
    yield from pool.map(fn, starts)


MEASURES = ("ids", "struct", "strokes", "visual", "glyph", "glyph_coarse", "phonetic", "bits")


def measures(tables, rows):
  """The raw pairwise measures of characters ``rows`` against all, each [len(rows), N]."""
  ids, struct, strokes, visual = tables.visual.take(rows)
  glyph, glyph_coarse = tables.glyph.take(rows)
  return {"ids": ids, "struct": struct, "strokes": strokes, "visual": visual,
          "glyph": glyph, "glyph_coarse": glyph_coarse,
          "phonetic": tables.phonetic.rows_of(rows), "bits": tables.bits.take(rows)}


def features(tables, rows, raw, with_bits=True):
  """Yields (name, [len(rows), N] float32) for every name in BASE_FEATURES, in
  order (without the sound-alike bit features when not ``with_bits``: see
  ``scores``); the prior's come from ``Prior``, the sound counts' from ``Sounds``."""
  bits = raw["bits"]
  for name, bit in _BITS if with_bits else ():
    yield name, ((bits & bit) > 0).astype(np.float32)
  yield "phonetic", raw["phonetic"]
  for m in VISUAL_MEASURES:
    x = np.clip(raw[m], 0.0, 1.0)
    yield m, x
    for h in HINGES[m]:
      yield f"{m}_h{int(h * 100)}", np.maximum(x - h, 0.0) / (1.0 - h)
  valid = np.ones(bits.shape, bool)
  valid[np.arange(len(rows)), rows] = False
  # Kept in ``raw``: build.rank_all ranks the phonetic and visual lists by them.
  raw["mixture"] = similarity.mixture(raw["phonetic"], raw["visual"], tables.prior[None, :],
                                      valid)[:2]
  q_phon, q_vis = raw["mixture"]
  # The look-alike part of the final probabilities (see ``probabilities``). Taking
  # max(visual, glyph) here instead spread it over too many glyph-alikes: the
  # look-alike kind lost 10-17 points of cross-set recall@10 on SIGHAN.
  raw["look_alike"] = q_vis
  mixed = (1.0 - similarity.VISUAL_SHARE) * q_phon + similarity.VISUAL_SHARE * q_vis
  # The mixture itself is an "or" of its parts; the parts' logs can only add up ("and").
  for name, q in (("mixture", mixed), ("mixture_phonetic", q_phon), ("mixture_visual", q_vis)):
    with np.errstate(divide="ignore"):
      yield name, (np.maximum(np.log(q), -MIXTURE_FLOOR) / MIXTURE_FLOOR + 1.0).astype(np.float32)
  col = tables.log_freq[None, :]
  yield "freq", np.broadcast_to(col, bits.shape)
  both_common = tables.common[rows][:, None] & tables.common[None, :]
  yield "both_common", both_common.astype(np.float32)
  sound = (bits & (phonetic.SAME_INITIAL | phonetic.SAME_FINAL | phonetic.SAME_SYLLABLE)) > 0
  yield "common_sound", (both_common & sound).astype(np.float32)
  yield "freq_if_homophone", col * ((bits & phonetic.SAME_SYLLABLE) > 0)
  yield "no_reading", np.broadcast_to(~tables.has_reading[None, :], bits.shape).astype(np.float32)
  wide = np.broadcast_to(tables.common_wide[None, :], bits.shape)
  yield "col_common_wide", wide.astype(np.float32)
  near = (bits & (phonetic.SAME_INITIAL | phonetic.SAME_FINAL | phonetic.ASPIRATED
                  | phonetic.UMLAUT | phonetic.NEAR_SYLLABLE | phonetic.FUZZY_INITIAL
                  | phonetic.FUZZY_FINAL)) > 0
  yield "near_common", (wide & near).astype(np.float32)
  if tables.frames is None:
    zero = np.zeros(bits.shape, np.float32)
    for name in ("frames", "frames_any", "frames_common"):
      yield name, zero
    return
  shared = tables.frames.take(rows)
  yield "frames", np.log1p(shared) / 3.0
  yield "frames_any", (shared > 0).astype(np.float32)
  yield "frames_common", ((shared > 0) & wide).astype(np.float32)


def scores(tables, rows, raw, weight_sets, priors=None, rows_per_product=16):
  """[len(rows), N] float32 scores for each of ``weight_sets`` ({feature: w} each,
  "mlp": a ``Network`` or none, "sounds": ``Sounds`` or none), with the ``Prior``
  of each (``priors``, aligned; None: no prior). Also leaves the block's
  ``raw["mixture"]`` and ``raw["look_alike"]`` (see ``features``).

  Every set's linear part and network run in one matrix product per
  ``rows_per_product`` rows, on features made for those rows only (a whole
  block's features took the build over 2 GiB)."""
  units = _Units(weight_sets)
  n = len(tables.chars)
  outs = [np.empty((len(rows), n), np.float32) for _ in weight_sets]
  mixture = [np.empty((len(rows), n), np.float32) for _ in range(2)]  # q_phon, q_vis
  for i in range(0, len(rows), rows_per_product):
    part = slice(i, i + rows_per_product)
    sub_raw = {k: raw[k][part] for k in MEASURES}
    # The inputs feature-major, [inputs, rows, N], so each copy is contiguous; the
    # product reads them transposed, one [N, inputs] row at a time: the same
    # shapes whatever the block, so the same sums (byte-identical tables).
    x = np.empty((len(DENSE_INPUTS), len(rows[part]), n), np.float32)
    for name, value in features(tables, rows[part], sub_raw, with_bits=False):
      x[DENSE_INPUTS.index(name)] = value
    for full, q in zip(mixture, sub_raw["mixture"]):
      full[part] = q
    u = np.matmul(x.transpose(1, 2, 0), units.dense)  # [rows, N, units]
    u += np.take(units.bit_table, sub_raw["bits"], axis=0)
    linear, hidden = u[..., :len(weight_sets)], u[..., len(weight_sets):]
    np.maximum(hidden, 0.0, out=hidden)
    for k, out in enumerate(outs):
      out[part] = linear[..., k]
      if units.out[k] is not None:
        out[part] += hidden[..., units.at[k]:units.at[k + 1]] @ units.out[k]
  raw["mixture"] = tuple(mixture)
  raw["look_alike"] = mixture[1]
  for weights, prior, out in zip(weight_sets, priors or [None] * len(outs), outs):
    if prior is not None:
      out += np.float32(weights.get("seen", 0.0)) * prior.seen(rows)
      out += np.float32(weights.get("popular", 0.0)) * prior.popular[None, :]
    if weights.get("sounds") is not None:
      for name, value in weights["sounds"].rows(tables, rows):
        out += np.float32(weights.get(name, 0.0)) * value
  return outs


class _Units:
  """The weight sets as one layer: a linear unit per set, then each set's hidden
  units. ``dense`` [DENSE_INPUTS, units]; ``bit_table`` [bit patterns, units]: the
  bit features and biases; ``out[k]``: set k's output weights, or None (no network),
  over hidden units ``at[k]:at[k + 1]``."""

  def __init__(self, weight_sets):
    nets = [weights.get("mlp") for weights in weight_sets]
    linear = np.array([[weights.get(name, 0.0) for weights in weight_sets]
                       for name in DENSE_INPUTS], np.float32)
    bits = pattern_table({name: np.array([w.get(name, 0.0) for w in weight_sets], np.float32)
                          for name, _ in _BITS}, np.zeros(len(weight_sets), np.float32))
    with_net = [net for net in nets if net is not None]
    self.dense = np.concatenate([linear] + [net.dense for net in with_net], axis=1)
    self.bit_table = np.concatenate([bits] + [net.bit_table for net in with_net], axis=1)
    self.at = np.cumsum([0] + [0 if net is None else len(net.out) for net in nets])
    self.out = [None if net is None else net.out for net in nets]


def pattern_table(values, start):
  """[patterns, ...]: for every bit pattern, ``start`` plus ``values[name]`` of each
  bit feature it sets. The bit features add up to one lookup per pair."""
  patterns = np.arange(2 * max(bit for _, bit in _BITS), dtype=np.int64)
  table = np.tile(start, (len(patterns),) + (1,) * np.ndim(start))
  for name, bit in _BITS:
    if name in values:
      table += ((patterns & bit) > 0).reshape((-1,) + (1,) * np.ndim(start)) * values[name]
  return table


def score(tables, rows, weights, raw=None, prior=None):
  """[len(rows), N] float32 scores of one direction's ``weights`` {feature: w}."""
  raw = measures(tables, rows) if raw is None else raw
  return scores(tables, rows, raw, [weights], [prior])[0]


class Network:
  """The score's non-linear part: one hidden ReLU layer over the standardised
  BASE_FEATURES, relu((x - mean) / scale @ hidden + bias) @ out. It lets kinds of
  evidence combine (a frequent column *and* shared word frames *and* no shared
  sound), which a sum of weights cannot; the prior's features stay linear only.

  ``params``: {"inputs": [F names], "mean", "scale": [F], "hidden": [F, H],
  "bias", "out": [H]}, as ``fit_network`` makes them and the weights file holds."""

  def __init__(self, params):
    self.params = params
    names = list(params["inputs"])
    mean, scale, hidden, bias, out = (np.asarray(params[k], np.float64)
                                      for k in ("mean", "scale", "hidden", "bias", "out"))
    if not (mean.shape == scale.shape == (len(names),) and bias.shape == out.shape
            and hidden.shape == (len(names),) + bias.shape):
      raise ValueError("inputs, mean, scale [F], hidden [F, H], bias, out [H] do not fit")
    if set(names) - set(BASE_FEATURES):
      raise ValueError(f"unknown inputs: {', '.join(sorted(set(names) - set(BASE_FEATURES)))}")
    # Standardising folds into the hidden layer: x @ (hidden / scale) + bias'.
    hidden = hidden / scale[:, None]
    by_name = dict(zip(names, hidden))
    zero = np.zeros(len(out))
    self.dense = np.stack([by_name.get(n, zero) for n in DENSE_INPUTS]).astype(np.float32)
    # The bit features and the bias add up to one row of units per bit pattern.
    self.bit_table = pattern_table(by_name, bias - mean @ hidden).astype(np.float32)
    self.out = out.astype(np.float32)


DENSE_INPUTS = tuple(n for n in BASE_FEATURES if n not in dict(_BITS))


# --- the weights file -----------------------------------------------------------

def load_weights(path=None):
  """{direction: {feature: weight}} from a ranking_weights.json."""
  path = path or default_weights_file()
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except FileNotFoundError:
    raise InputError(path, 0, "no such file") from None
  except (ValueError, UnicodeDecodeError) as e:
    raise InputError(path, 0, f"not a ranking weights JSON file: {e}") from None
  if not isinstance(data, dict) or any(d not in data.get("weights", {}) for d in DIRECTIONS):
    raise InputError(path, 0, "expected {\"weights\": {\"correct\": {...}, \"error\": {...}}}")
  sounds = data.get("sound_pairs")
  if sounds is not None:
    try:
      sounds = Sounds.from_json(sounds)
    except (TypeError, ValueError) as e:
      raise InputError(path, 0, f"bad \"sound_pairs\" entry: {e}") from None
  out = {}
  for d in DIRECTIONS:
    given = dict(data["weights"][d])
    net = given.pop("mlp", None)
    unknown = set(given) - set(FEATURES)
    if unknown:
      raise InputError(path, 0, f"unknown features in {d!r}: {', '.join(sorted(unknown))}")
    out[d] = {k: float(v) for k, v in given.items()}
    if sounds is not None:  # the file holds them in the correction direction
      out[d]["sounds"] = sounds if d == "correct" else sounds.transposed()
    if net is not None:
      try:
        out[d]["mlp"] = Network(net)
      except (KeyError, TypeError, ValueError) as e:
        raise InputError(path, 0, f"bad \"mlp\" entry in {d!r}: {e}") from None
  return out


def weights_json(weights, note):
  """The weights file's text: stable key order, rounded, so refits diff cleanly."""
  data = {"format": "csc_pretrain char_meta ranking weights, see ranking.py",
          "note": note,
          "weights": {d: {k: round(float(weights[d].get(k, 0.0)), 4) + 0.0 for k in FEATURES}
                      for d in DIRECTIONS}}
  if weights["correct"].get("sounds") is not None:
    data["sound_pairs"] = weights["correct"]["sounds"].to_json()
  for d in DIRECTIONS:
    if "mlp" in weights[d]:
      data["weights"][d]["mlp"] = {
          k: v if k == "inputs" else np.round(np.asarray(v, np.float64), 5).tolist()
          for k, v in weights[d]["mlp"].params.items()}
  text = json.dumps(data, ensure_ascii=False, indent=1)
  # One line per list of numbers (the network's vectors and matrix rows).
  text = re.sub(r"\[[^\[\]{}]*\]", lambda m: " ".join(m.group(0).split()), text)
  return text + "\n"


# --- fitting ----------------------------------------------------------------------

@dataclasses.dataclass
class Sample:
  """Per row, a fixed set of candidate columns and their features: X [R, M, F]."""
  rows: np.ndarray        # [R] row indices
  cols: np.ndarray        # [R, M] column indices (-1 = padding)
  x: np.ndarray           # [R, M, F] float32
  offset: np.ndarray      # [R, M] log sampling weight (-inf for padding)


def sample(tables, rows, must_include, hard=HARD, random=RANDOM, seed=0, block=32, threads=None):
  """Candidate columns of each row: ``must_include[r]`` (the targets), the proposal's
  ``hard`` best and ``random`` uniform others (seeded per row: deterministic, whatever
  the ``block`` size and number of ``threads``)."""
  n = len(tables.chars)
  rows = np.asarray(rows, np.int64)
  width = hard + random + max([len(v) for v in must_include.values()] + [1])
  cols = np.full((len(rows), width), -1, np.int64)
  offset = np.full((len(rows), width), -np.inf, np.float32)
  x = np.zeros((len(rows), width, len(FEATURES)), np.float32)

  def sample_block(start):
    part = rows[start:start + block]
    raw = measures(tables, part)
    feats = np.stack([v for _, v in features(tables, part, raw)], axis=-1)  # prior's: 0
    proposal = score(tables, part, PROPOSAL, raw)
    for k, r in enumerate(part):
      forced = sorted(set(must_include.get(int(r), ())))
      taken = np.zeros(n, bool)
      taken[forced] = True
      taken[r] = True
      order = np.argsort(-proposal[k], kind="stable")
      top = [int(c) for c in order[:hard + len(forced) + 1] if not taken[c]][:hard]
      taken[top] = True
      rest = np.flatnonzero(~taken)
      rng = np.random.default_rng(seed * 1_000_003 + int(ord(tables.chars[r])))
      drawn = np.sort(rng.choice(rest, size=min(random, len(rest)), replace=False))
      chosen = np.array(forced + top + drawn.tolist(), np.int64)
      i = start + k  # each block writes only its own rows
      cols[i, :len(chosen)] = chosen
      offset[i, :len(forced) + len(top)] = 0.0
      if len(drawn):
        offset[i, len(forced) + len(top):len(chosen)] = math.log(len(rest) / len(drawn))
      x[i, :len(chosen), :len(BASE_FEATURES)] = feats[k, chosen]

  list(map_blocks(sample_block, range(0, len(rows), block), threads))
  return Sample(rows, cols, x, offset)


def with_prior(sample_, keep, prior, sounds=None, tables=None):
  """The rows ``keep`` (bool [R]) of ``sample_``, their prior features from ``prior``
  and their sound features from ``sounds`` (a ``Sounds`` of ``tables``)."""
  x = sample_.x[keep].copy()
  rows, cols = sample_.rows[keep], sample_.cols[keep]
  at = len(BASE_FEATURES)
  if prior is not None:
    x[..., at:at + len(PRIOR_FEATURES)] = prior.features(rows, cols)
  if sounds is not None:
    x[..., at + len(PRIOR_FEATURES):] = sounds.features(tables, rows, cols)
  return Sample(rows, cols, x, sample_.offset[keep])


def stack(samples):
  """One Sample of the rows of all ``samples`` (the same width)."""
  return Sample(*(np.concatenate([getattr(s, f.name) for s in samples])
                  for f in dataclasses.fields(Sample)))


def _fit_rows(sample_, targets):
  """The rows with a target: [R*M, F] features, [R, M] log sampling weights
  (finite), targets, [R, 1] counts per row, and the total count."""
  keep = targets.sum(axis=1) > 0
  x, offset, targets = sample_.x[keep], sample_.offset[keep], targets[keep]
  off = np.where(np.isfinite(offset), offset, -1e9)
  total = max(float(targets.sum()), 1.0)
  flat = x.reshape(-1, x.shape[-1])  # matrix-vector products run on BLAS
  return flat, off, targets, targets.sum(axis=1, keepdims=True), total


def _softmax_rows(logits):
  logits -= logits.max(axis=1, keepdims=True)
  p = np.exp(logits)
  p /= p.sum(axis=1, keepdims=True)
  return p


def _adam(param, grad, m, v, step, learning_rate):
  """One Adam step: the new (param, m, v)."""
  m = 0.9 * m + 0.1 * grad
  v = 0.999 * v + 0.001 * grad * grad
  step_size = learning_rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
  return param - step_size, m, v


def fit_weights(sample_, targets, l2=L2, steps=STEPS, learning_rate=LEARNING_RATE):
  """Weights maximising sum count * log P(target | row) on ``sample_``.

  ``targets``: [R, M] float32 counts of each candidate as the observed target.
  Returns {feature: weight}.
  """
  flat, off, targets, row_counts, total = _fit_rows(sample_, targets)
  w = np.array([PROPOSAL.get(k, 0.0) for k in FEATURES], np.float64)
  m = np.zeros_like(w)
  v = np.zeros_like(w)
  for step in range(1, steps + 1):
    p = _softmax_rows((flat @ w.astype(np.float32)).reshape(off.shape) + off)
    # d(-loglik)/dw = sum_rows count_row * E_p[x] - sum targets x
    resid = (row_counts * p - targets).astype(np.float32)
    grad = (resid.reshape(-1) @ flat).astype(np.float64) / total + l2 * w
    w, m, v = _adam(w, grad, m, v, step, learning_rate)
  return {k: float(val) for k, val in zip(FEATURES, w)}


def fit_network(sample_, targets, weights, hidden=HIDDEN, l2=NET_L2, steps=NET_STEPS,
                learning_rate=NET_LEARNING_RATE, seed=0):
  """``weights`` (from ``fit_weights``) and a ``Network`` on top, fitted together on
  the same sampled likelihood. Returns the weights with the network's parameters
  under "mlp". The network reads BASE_FEATURES only: the prior's features are
  weaker in the jackknifed fit (one corpus fewer) than in use; a linear weight
  carries that over, the network did not (cross-set recall@10 fell 1.7 points)."""
  flat, off, targets, row_counts, total = _fit_rows(sample_, targets)
  base = flat[:, :len(BASE_FEATURES)]
  mean, scale = base.mean(axis=0), base.std(axis=0) + 1e-3
  z = ((base - mean) / scale).astype(np.float32)
  rng = np.random.default_rng(seed)
  params = [np.array([weights.get(k, 0.0) for k in FEATURES], np.float32),
            (rng.standard_normal((z.shape[1], hidden)) * 0.1 / math.sqrt(z.shape[1])
             ).astype(np.float32),
            np.zeros(hidden, np.float32), np.zeros(hidden, np.float32)]
  decay = [L2, l2, 0.0, l2]
  m = [np.zeros_like(p) for p in params]
  v = [np.zeros_like(p) for p in params]
  for step in range(1, steps + 1):
    w, a, b, out = params
    pre = z @ a + b
    h = np.maximum(pre, 0.0)
    p = _softmax_rows((flat @ w + h @ out).reshape(off.shape) + off)
    resid = ((row_counts * p - targets) / total).astype(np.float32).reshape(-1)
    d_pre = np.outer(resid, out) * (pre > 0)
    grads = [resid @ flat, z.T @ d_pre, d_pre.sum(axis=0), resid @ h]
    for i, g in enumerate(grads):
      params[i], m[i], v[i] = _adam(params[i], g + decay[i] * params[i], m[i], v[i], step,
                                    learning_rate)
  w, a, b, out = params
  fitted = {k: float(val) for k, val in zip(FEATURES, w)}
  fitted["mlp"] = Network({"inputs": list(BASE_FEATURES), "mean": mean.tolist(),
                           "scale": scale.tolist(), "hidden": a.tolist(),
                           "bias": b.tolist(), "out": out.tolist()})
  return fitted


def target_matrix(sample_, pair_counts):
  """[R, M] counts of (row, col) in ``pair_counts`` {(row index, col index): count}."""
  out = np.zeros(sample_.cols.shape, np.float32)
  for i, r in enumerate(sample_.rows):
    for j, c in enumerate(sample_.cols[i]):
      if c >= 0:
        out[i, j] = pair_counts.get((int(r), int(c)), 0)
  return out


def ranks(tables, pair_counts, scorers, block=64, threads=None):
  """0-based rank of every (row, col) of ``pair_counts`` among all other characters
  of its row (ties by column index), under each of ``scorers``
  {name: fn(rows, raw measures) -> [b, N] scores}: {name: {(row, col): rank}}."""
  by_row = {}
  for r, c in pair_counts:
    by_row.setdefault(r, []).append(c)
  rows = np.array(sorted(by_row), np.int64)
  n = len(tables.chars)

  def rank_block(start):
    part = rows[start:start + block]
    raw = measures(tables, part)
    found = {name: {} for name in scorers}
    for name, fn in scorers.items():
      s = np.asarray(fn(part, raw), np.float64).copy()
      s[np.arange(len(part)), part] = -np.inf
      for k, r in enumerate(part):
        for c in by_row[int(r)]:
          t = s[k, c]
          found[name][(int(r), c)] = int((s[k] > t).sum()
                                         + ((s[k] == t) & (np.arange(n) < c)).sum())
    return found

  out = {name: {} for name in scorers}
  for found in map_blocks(rank_block, range(0, len(rows), block), threads):
    for name in scorers:
      out[name].update(found[name])
  return out


def oriented(pair_counts, index, direction):
  """{(wrong, correct): n} chars -> {(row, col): n} indices for ``direction``
  (correct: row = wrong; error: row = correct), pairs outside ``index`` dropped."""
  out = {}
  for (w, c), count in pair_counts.items():
    if w in index and c in index and w != c:
      key = (index[w], index[c]) if direction == "correct" else (index[c], index[w])
      out[key] = out.get(key, 0) + count
  return out


def jackknifed(sample_, corpora, tables, direction, use_prior=True):
  """(Sample, targets) stacking, for each corpus in ``corpora`` (a list of
  {(wrong, correct): n}), its rows with its own pairs as targets and the prior
  and sounds of all the *other* corpora (see the module doc). ``sample_`` must
  cover every row and target of every corpus."""
  index = {c: i for i, c in enumerate(tables.chars)}
  parts, targets = [], []
  for k, counts in enumerate(corpora):
    mine = oriented(counts, index, direction)
    rows = {r for r, _ in mine}
    keep = np.array([int(r) in rows for r in sample_.rows])
    others = {}
    for j, other in enumerate(corpora):
      if j != k:
        for pair, n in other.items():
          others[pair] = others.get(pair, 0) + n
    prior = sounds = None
    if use_prior and others:
      seen = oriented(others, index, direction)
      prior, sounds = Prior(seen, len(index)), Sounds.of(seen, tables)
    part = with_prior(sample_, keep, prior, sounds, tables)
    parts.append(part)
    targets.append(target_matrix(part, mine))
  return stack(parts), np.concatenate(targets)


def fit(tables, corpora, seed=0, log=None):
  """Both directions' weights fitted to ``corpora``, a list of {(wrong, correct):
  count} from different sources; with one corpus the prior and the sound counts
  get no weight, and no sound counts are kept."""
  index = {c: i for i, c in enumerate(tables.chars)}
  weights = {}
  for direction in DIRECTIONS:
    everything = {}
    for counts in corpora:
      for pair, n in oriented(counts, index, direction).items():
        everything[pair] = everything.get(pair, 0) + n
    if not everything:
      raise InputError("fit", 0, "no wrong/correct pair with both characters in the charset")
    targets = {}
    for r, c in everything:
      targets.setdefault(r, []).append(c)
    s = sample(tables, sorted(targets), targets, seed=seed)
    x, y = jackknifed(s, corpora, tables, direction, use_prior=len(corpora) > 1)
    weights[direction] = fit_network(x, y, fit_weights(x, y), seed=seed)
    if len(corpora) > 1:
      weights[direction]["sounds"] = Sounds.of(everything, tables)
    if log:
      log(f"fitted {direction} direction on {sum(everything.values()):.0f} errors, "
          f"{len(everything)} pairs, {len(targets)} rows, {len(corpora)} corpora; "
          + ", ".join(f"{k} {weights[direction][k]:.2f}"
                      for k in PRIOR_FEATURES + SOUND_FEATURES))
  return weights
