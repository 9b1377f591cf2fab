"""Reading, aligning, splitting and expanding correct/wrong sentence pairs.

A document is a list of ``Pair``s; after ``align`` both sides of a pair have
the same length, so position i of ``wrong`` is the input for position i of
``correct`` (what the masked LM is trained to put back).
"""

import dataclasses
import random

from rapidfuzz.distance import Levenshtein

from csc_pretrain.io_utils import InputError, is_cjk, read_lines

SENTENCE_ENDS = "。；？！!?;"
LONG_SENTENCE = 100  # past this many characters, also split at commas
COMMAS = "，,"


@dataclasses.dataclass
class Pair:
  wrong: str
  correct: str
  where: tuple = ("", 0)  # (path, line) the pair came from, for messages

  def errors(self):
    return [i for i, (w, c) in enumerate(zip(self.wrong, self.correct)) if w != c]


# --- readers: each yields documents (lists of Pairs), streaming ------------------------
# (pair files in the public layouts are read by csc_pretrain.pair_formats; see build.py)

def read_parallel(correct_path, wrong_path):
  """Two aligned files, one sentence a line, a blank line between documents."""
  doc = []
  correct_lines, wrong_lines = read_lines(correct_path), read_lines(wrong_path)
  while True:
    c, w = next(correct_lines, None), next(wrong_lines, None)
    if c is None or w is None:
      if c is not None or w is not None:
        longer, shorter, line = ((correct_path, wrong_path, c[0]) if c is not None
                                 else (wrong_path, correct_path, w[0]))
        raise InputError(longer, line, f"has more lines than {shorter}")
      break
    (number, correct), (_, wrong) = c, w
    if not correct.strip() or not wrong.strip():
      if correct.strip() or wrong.strip():
        blank = correct_path if not correct.strip() else wrong_path
        raise InputError(blank, number, "a document break (blank line) here but not in the "
                         "other file: the two files do not line up")
      if doc:
        yield doc
      doc = []
      continue
    doc.append(Pair(wrong.strip(), correct.strip(), (wrong_path, number)))
  if doc:
    yield doc


def read_correct_only(path):
  """Clean text in the document layout; ``wrong`` starts as a copy."""
  doc = []
  for number, line in read_lines(path):
    if not line.strip():
      if doc:
        yield doc
      doc = []
      continue
    doc.append(Pair(line.strip(), line.strip(), (path, number)))
  if doc:
    yield doc


# --- alignment -----------------------------------------------------------------------------

@dataclasses.dataclass
class Alignment:
  pair: Pair = None          # aligned pair, None when skipped
  skipped: str = ""          # reason when skipped
  insertions: int = 0        # characters the wrong side lacks
  deletions: int = 0         # characters the wrong side has in excess


def align(pair, max_error_ratio=0.3):
  """Makes both sides the same length, keeping substitutions only.

  Equal lengths compare position by position, unless a shift (one character
  dropped and another added) makes the Hamming distance larger than the edit
  distance: such a pair is realigned like an unequal one. Unequal lengths are
  aligned by Levenshtein edit operations; the wrong side's insertions and
  deletions are undone (reported, not learned). Pairs whose edits exceed
  ``max_error_ratio`` of the sentence are skipped: they are rewrites, not typos.
  """
  wrong, correct = pair.wrong, pair.correct
  limit = max(1, int(max_error_ratio * len(correct)))
  if len(wrong) == len(correct):
    hamming = sum(w != c for w, c in zip(wrong, correct))
    if hamming <= 1 or hamming <= Levenshtein.distance(wrong, correct, score_cutoff=hamming):
      if hamming > limit:
        return Alignment(skipped="too many errors")
      return Alignment(pair=pair)
  ops = Levenshtein.editops(wrong, correct)
  if len(ops) > limit:
    return Alignment(skipped="unalignable (too many edits)" if len(wrong) != len(correct)
                     else "too many errors")
  aligned = list(correct)
  insertions = deletions = 0
  for op in ops:
    if op.tag == "replace":
      aligned[op.dest_pos] = wrong[op.src_pos]
    elif op.tag == "insert":
      insertions += 1
    else:
      deletions += 1
  return Alignment(pair=Pair("".join(aligned), correct, pair.where),
                   insertions=insertions, deletions=deletions)


# --- splitting and expansion ------------------------------------------------------------------

def split_long(pair):
  """Splits at 。；？！ (and at commas once a piece passes 100 characters)."""
  pieces, start = [], 0
  for i, ch in enumerate(pair.correct):
    end = i + 1
    if ch in SENTENCE_ENDS or (ch in COMMAS and end - start > LONG_SENTENCE):
      if end < len(pair.correct):
        pieces.append((start, end))
        start = end
  pieces.append((start, len(pair.correct)))
  return [Pair(pair.wrong[a:b], pair.correct[a:b], pair.where) for a, b in pieces
          if pair.correct[a:b].strip()]


def expand(doc, seed, max_variants=5):
  """The document, then (if it has errors) a clean copy, then variants with
  1 … n-1 of its n errors restored (at most ``max_variants``, seeded)."""
  errors = [(s, i) for s, p in enumerate(doc) for i in p.errors()]
  out = [doc]
  if not errors:
    return out
  out.append([Pair(p.correct, p.correct, p.where) for p in doc])
  rng = random.Random(seed)
  ks = list(range(1, len(errors)))
  if len(ks) > max_variants:
    ks = sorted(rng.sample(ks, max_variants))
  for k in ks:
    restore = set(rng.sample(errors, k))
    out.append([Pair("".join(c if (s, i) in restore else w
                             for i, (w, c) in enumerate(zip(p.wrong, p.correct))),
                     p.correct, p.where) for s, p in enumerate(doc)])
  return out


# --- synthetic errors ---------------------------------------------------------------------------

def observed_errors(observed_counts):
  """{(wrong, correct): n} -> {correct: (wrongs, counts)}, for add_synthetic_errors."""
  by_correct = {}
  for (w, c), n in sorted(observed_counts.items()):
    by_correct.setdefault(c, ([], []))
    by_correct[c][0].append(w)
    by_correct[c][1].append(n)
  return by_correct


def add_synthetic_errors(doc, rng, rate, phonetic_share, phonetic_sets, visual_sets, top_n=10,
                         observed=None, observed_share=0.5):
  """Wrong copies of clean text, made with the char_meta confusion sets.

  Each Chinese character becomes an error with probability ``rate``. For a
  character with observed errors (``observed``, from observed_errors: the
  domain's real confusions), the error is one of those, drawn by count, with
  probability ``observed_share``. Otherwise it is phonetic with probability
  ``phonetic_share`` (else visual), drawn from that set's top ``top_n`` with
  weight 1/rank, so the closest confusions are the most frequent, as in real
  typing and ASR errors.
  """
  out = []
  for p in doc:
    chars = list(p.correct)
    for i, ch in enumerate(chars):
      if not is_cjk(ch) or rng.random() >= rate:
        continue
      if observed and ch in observed and rng.random() < observed_share:
        chars[i] = rng.choices(observed[ch][0], weights=observed[ch][1])[0]
        continue
      sets = phonetic_sets if rng.random() < phonetic_share else visual_sets
      cands = sets.get(ch, [])[:top_n] or (visual_sets if sets is phonetic_sets
                                           else phonetic_sets).get(ch, [])[:top_n]
      if cands:
        chars[i] = rng.choices(cands, weights=[1 / (r + 1) for r in range(len(cands))])[0]
    out.append(Pair("".join(chars), p.correct, p.where))
  return out
