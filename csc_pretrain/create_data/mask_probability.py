"""Per-character mask probabilities from error statistics.

FASPell's estimate for a character w that gets typed by mistake:

    p_faspell[w] = min(max_c confusions[w -> c] / correct_count[w], 1)

where confusions[w -> c] counts w written where c was meant, and
correct_count[w] counts w used correctly (as the correct text's character).
Rare characters make that ratio jumpy (one slip in three uses gives 0.33), and
characters never seen wrong get 0. We shrink towards a prior instead:

    p[w] = min((max_c confusions'[w -> c] + SMOOTHING * prior[w])
               / (correct_count[w] + SMOOTHING), 1)

    prior[w] = base_rate * confusability[w] / mean confusability

base_rate is the corpus' errors per Chinese character; confusability[w] is how
close w's best candidates are (mean phonetic or visual score of its top five,
from char_meta's confusion_scores.tsv), so a character with many near
homophones is masked more often even before it is seen wrong. Without
confusion sets the prior is flat (base_rate).

``mode`` says which errors count and which confusability shapes the prior:
corpus (every error, combined score), phonetic (only errors whose correction is
in w's phonetic set), visual (only those in its visual set), both (either set).
Speech users want phonetic, OCR users visual.
"""

import collections
import math
import pickle

from csc_pretrain.io_utils import InputError, is_cjk

MODES = ("corpus", "phonetic", "visual", "both")
PICKLE_PROTOCOL = 4  # Python 3.7 (TF 1.15 users) reads protocol 4
SMOOTHING = 5.0
TOP_FOR_CONFUSABILITY = 5


class ErrorCounts:
  """Counts accumulated over aligned pairs, one sentence at a time."""

  def __init__(self):
    self.correct_count = collections.Counter()
    self.confusions = collections.defaultdict(collections.Counter)
    self.chinese_chars = 0
    self.errors = 0

  def add(self, wrong, correct):
    self.correct_count.update(correct)
    for w, c in zip(wrong, correct):
      if is_cjk(c):
        self.chinese_chars += 1
      if w != c:
        self.confusions[w][c] += 1
        self.errors += 1


def read_confusability(scores_path):
  """{char: {"phonetic": x, "visual": y, "corpus": z}} from confusion_scores.tsv."""
  from csc_pretrain.io_utils import InputError, read_lines
  by_char = collections.defaultdict(lambda: {"p": [], "v": [], "c": []})
  header = None
  for number, line in read_lines(scores_path):
    fields = line.split("\t")
    if header is None:
      header = {name: k for k, name in enumerate(fields)}
      if not {"char", "candidate", "phonetic", "visual", "combined", "sets"} <= set(header):
        raise InputError(scores_path, number, "not a char_meta confusion_scores.tsv header")
      continue
    if not line:
      continue  # char_meta writes an empty line for a character with no candidates
    if len(fields) != len(header):
      raise InputError(scores_path, number, f"malformed score line: {len(fields)} fields, "
                       f"the header has {len(header)}")
    char, sets = fields[header["char"]], fields[header["sets"]]
    if len(char) != 1 or len(fields[header["candidate"]]) != 1:
      raise InputError(scores_path, number, "malformed score line: char and candidate must be "
                       "one character each")
    if set(sets) - set("cpv"):
      raise InputError(scores_path, number, f"malformed score line: sets {sets!r} is not made "
                       "of c, p and v")
    try:
      phonetic, visual = float(fields[header["phonetic"]]), float(fields[header["visual"]])
    except ValueError:
      raise InputError(scores_path, number, "malformed score line: a score is not a number") from None
    if not (math.isfinite(phonetic) and math.isfinite(visual)):
      raise InputError(scores_path, number, "malformed score line: a score is not finite")
    entry = by_char[char]
    if "p" in sets:
      entry["p"].append(phonetic)
    if "v" in sets:
      entry["v"].append(visual)
    if "c" in sets:
      entry["c"].append(max(phonetic, visual))
  if not by_char:
    raise InputError(scores_path, 0, "no scores")

  def top_mean(xs):
    xs = sorted(xs, reverse=True)[:TOP_FOR_CONFUSABILITY]
    return sum(xs) / TOP_FOR_CONFUSABILITY if xs else 0.0

  return {ch: {"phonetic": top_mean(e["p"]), "visual": top_mean(e["v"]),
               "corpus": top_mean(e["c"])} for ch, e in by_char.items()}


def _confusability(entry, mode):
  if mode == "both":
    return (entry["phonetic"] + entry["visual"]) / 2
  return entry[mode]


def mask_probabilities(counts, mode="corpus", confusability=None, phonetic_sets=None,
                       visual_sets=None, base_rate=None, smoothing=SMOOTHING):
  """Returns ``({char: p}, {char: details})`` for every character seen in the
  corpus and, with confusability, every character char_meta knows."""
  if mode not in MODES:
    raise ValueError(f"mode must be one of {MODES}")
  if base_rate is None:
    base_rate = counts.errors / max(1, counts.chinese_chars)

  def counted(w, c):
    if mode == "corpus":
      return True
    in_p = c in (phonetic_sets or {}).get(w, ())
    in_v = c in (visual_sets or {}).get(w, ())
    return {"phonetic": in_p, "visual": in_v, "both": in_p or in_v}[mode]

  chars = set(counts.correct_count) | set(counts.confusions)
  if confusability:
    chars |= set(confusability)
    weights = [_confusability(confusability[c], mode) for c in confusability]
    mean_conf = sum(weights) / len(weights) if weights else 0.0
  probs, details = {}, {}
  for w in sorted(chars):
    if confusability and mean_conf > 0:
      prior = base_rate * _confusability(confusability.get(w, {"phonetic": 0, "visual": 0,
                                                              "corpus": 0}), mode) / mean_conf
    else:
      prior = base_rate
    kept = {c: n for c, n in counts.confusions.get(w, {}).items() if counted(w, c)}
    top_c, top_n = max(kept.items(), key=lambda kv: (kv[1], kv[0])) if kept else ("", 0)
    seen = counts.correct_count.get(w, 0)
    p = min((top_n + smoothing * prior) / (seen + smoothing), 1.0)
    probs[w] = float(p)
    details[w] = {"correct_count": seen, "wrong_count": sum(counts.confusions.get(w, {}).values()),
                  "top_correction": top_c, "top_count": top_n, "prior": prior}
  return probs, details


# --- mask_probability.sav: a pickled plain dict[str, float], as FASPell-style code loads it ---

def save(probs, f):
  """Writes ``probs`` to the binary file object ``f``."""
  pickle.dump(dict(probs), f, protocol=PICKLE_PROTOCOL)


def load(path):
  """The dict[str, float] of a mask_probability.sav; InputError naming the file."""
  try:
    with open(path, "rb") as f:
      probs = pickle.load(f)
  except FileNotFoundError:
    raise InputError(path, 0, "no such file") from None
  except Exception as e:  # pickle raises many kinds
    raise InputError(path, 0, f"not a pickle: {e}") from None
  if not isinstance(probs, dict) or not probs:
    raise InputError(path, 0, f"expected a non-empty pickled dict[str, float], got "
                     f"{type(probs).__name__}{' (empty)' if not probs else ''}")
  for key, value in probs.items():
    # bool is an int to Python, and a NaN weight would poison every draw.
    if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
      raise InputError(path, 0, f"expected a pickled dict[str, float]: entry {key!r}: {value!r}")
    if not 0 <= value <= 1:
      raise InputError(path, 0, f"mask probability of {key!r} is {value}, not in [0, 1]")
  return probs
