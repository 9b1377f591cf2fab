"""Training instances from parallel documents, and confusion-weighted masking.

Segmenting follows Google's create_pretraining_data.py: sentences of a
document are packed into chunks of a target length (shorter with probability
short_seq_prob); a chunk is cut into segment A and B, and half the time B comes
from another document (next_sentence_labels = 1). Both streams, correct and
wrong, are cut at the same places, so position i of the input always lines up
with position i of the label. ``single_segment`` packs consecutive sentences
into one segment instead (no NSP; the label is written as 0).

Masking, per instance, within ``max_predictions_per_seq`` and ``masked_lm_prob``:

  1. every real error (wrong token != correct token) is predicted, first:
     input = the wrong token, label = the correct one. Errors beyond the
     budget are put right in the input and counted as cut;
  2. extra positions fill the rest of the budget, drawn without replacement
     with weight mask_probability[char] (+ a floor), whole jieba words at once
     with whole-word masking;
  3. an extra position's input becomes, by ``replace_proportions``: a same-pinyin
     character, a similar-pinyin one, a look-alike, a random token, [MASK], or
     stays unchanged. Confusion candidates are drawn with weight 1/rank.
"""

import bisect
import collections
import dataclasses
import itertools
import math
import random

REPLACE_KINDS = ("same_pinyin", "similar_pinyin", "visual", "random", "keep", "mask")
DEFAULT_PROPORTIONS = {"same_pinyin": 0.30, "similar_pinyin": 0.30, "visual": 0.15,
                       "random": 0.10, "keep": 0.15, "mask": 0.0}
WEIGHT_FLOOR = 0.01  # every token keeps some chance to be masked


@dataclasses.dataclass
class Sentence:
  correct: list    # token ids of the correct text
  wrong: list      # token ids of the wrong text, same length
  words: list      # word index of each token (whole-word masking groups)


@dataclasses.dataclass
class Instance:
  input_ids: list
  segment_ids: list
  masked_lm_positions: list
  masked_lm_ids: list
  is_random_next: bool
  kinds: list      # what happened at each masked position (error, same_pinyin, ...)


@dataclasses.dataclass
class MaskingConfig:
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  masked_lm_prob: float = 0.15
  short_seq_prob: float = 0.1
  single_segment: bool = False
  whole_word_mask: bool = False
  proportions: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_PROPORTIONS))


@dataclasses.dataclass
class Vocabulary:
  """What masking needs to know about token ids."""
  cls_id: int
  sep_id: int
  mask_id: int
  size: int
  random_ids: list          # ids a random replacement may take (no special tokens)
  mask_weight: list         # [size] weight of each token id as an extra position
  same_pinyin: dict         # id -> [ids] best first
  similar_pinyin: dict
  visual: dict


# --- segmenting (Google's algorithm, in lockstep) ------------------------------------------

def _truncate_pair(a, b, max_tokens, rng):
  """Drops tokens from the longer segment, at its front or back at random."""
  la, lb = len(a[0]), len(b[0])
  cuts = [0, 0, 0, 0]  # a front, a back, b front, b back
  while la + lb > max_tokens:  # the draws one at a time, the deleting once at the end
    if la > lb:
      la -= 1
      cuts[0 if rng.random() < 0.5 else 1] += 1
    else:
      lb -= 1
      cuts[2 if rng.random() < 0.5 else 3] += 1
  for segment, front, back in ((a, cuts[0], cuts[1]), (b, cuts[2], cuts[3])):
    if front or back:
      for stream in segment:
        stream[:] = stream[front:len(stream) - back]


def _concat(sentences, number_words=True):
  """[correct, wrong, words] of the sentences end to end. Word numbers only
  group whole-word masking: without it they are joined as they are."""
  correct, wrong, words = [], [], []
  offset = 0
  for s in sentences:
    correct += s.correct
    wrong += s.wrong
    if number_words:
      words += [w + offset for w in s.words]
      offset += (max(s.words) + 1) if s.words else 0
    else:
      words += s.words
  return [correct, wrong, words]


def segment_document(documents, index, config, rng):
  """Yields (segment_a, segment_b or None, is_random_next) for one document."""
  document = documents[index]
  wwm = config.whole_word_mask
  max_tokens = config.max_seq_length - (2 if config.single_segment else 3)
  target = max_tokens
  if rng.random() < config.short_seq_prob:
    target = rng.randint(2, max_tokens)
  chunk, length, i = [], 0, 0
  while i < len(document):
    chunk.append(document[i])
    length += len(document[i].correct)
    if i == len(document) - 1 or length >= target:
      if chunk:
        if config.single_segment:
          a = _concat(chunk, wwm)
          _truncate_pair(a, [[], [], []], max_tokens, rng)
          yield a, None, False
        else:
          a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
          a = _concat(chunk[:a_end], wwm)
          random_next = len(chunk) == 1 or rng.random() < 0.5
          if random_next and len(documents) > 1:
            b_target = target - len(a[0])
            for _ in range(10):
              other = rng.randint(0, len(documents) - 1)
              if other != index:
                break
            other_doc = documents[other]
            start = rng.randint(0, len(other_doc) - 1)
            picked, got = [], 0
            for s in other_doc[start:]:
              picked.append(s)
              got += len(s.correct)
              if got >= b_target:
                break
            b = _concat(picked, wwm)
            i -= len(chunk) - a_end  # the unused sentences start the next chunk
          else:
            random_next = False
            b = _concat(chunk[a_end:], wwm)
          _truncate_pair(a, b, max_tokens, rng)
          if a[0] and b[0]:
            yield a, b, random_next
      chunk, length = [], 0
    i += 1


# --- masking --------------------------------------------------------------------------------------

def _pick_ranked(cands, rng):
  """A candidate with weight 1/(rank+1): the closest confusions come most often."""
  total = sum(1.0 / (r + 1) for r in range(len(cands)))
  x = rng.random() * total
  for r, c in enumerate(cands):
    x -= 1.0 / (r + 1)
    if x <= 0:
      return c
  return cands[-1]


CONFUSION_KINDS = ("same_pinyin", "similar_pinyin", "visual")
_BORROW = {"same_pinyin": ("same_pinyin", "similar_pinyin", "visual"),
           "similar_pinyin": ("similar_pinyin", "same_pinyin", "visual"),
           "visual": ("visual", "same_pinyin", "similar_pinyin")}


def _replacement(token, kind, vocab, proportions, rng):
  """Input token for an extra position; returns (id, kind actually used).

  A character with no candidate of the drawn kind borrows another confusion
  kind; a token with none at all (digits, punctuation, Latin) draws again among
  random / keep / mask in their configured proportions.
  """
  if kind in CONFUSION_KINDS:
    for k in _BORROW[kind]:
      cands = getattr(vocab, k).get(token)
      if cands:
        return _pick_ranked(cands, rng), k
    rest = {k: proportions[k] for k in ("random", "keep", "mask")}
    if sum(rest.values()) <= 0:
      rest = {"random": 1.0}
    kind = rng.choices(list(rest), list(rest.values()))[0]
  if kind == "random":
    return vocab.random_ids[rng.randint(0, len(vocab.random_ids) - 1)], "random"
  if kind == "mask":
    return vocab.mask_id, "mask"
  return token, "keep"


class _Draw:
  """``rng.choices(kinds, weights)[0]`` with the cumulative weights summed once: the
  same arithmetic as random.choices (bisect on random() * total), so the same draws."""

  def __init__(self, weights):
    self.kinds, self.cum = tuple(weights), list(itertools.accumulate(weights.values()))
    self.total, self.hi = self.cum[-1] + 0.0, len(self.cum) - 1
    if not 0.0 < self.total < math.inf:
      raise ValueError("replacement proportions must have a positive, finite total")

  def __call__(self, rng):
    return self.kinds[bisect.bisect(self.cum, rng.random() * self.total, 0, self.hi)]


class MaskTables:
  """What mask_instance looks up, computed once instead of once per position;
  every draw stays as in _replacement and _pick_ranked."""

  def __init__(self, config, vocab):
    self.vocab = vocab
    # 1 / weight as the exponent of Efraimidis-Spirakis keys; same float as computed inline.
    self.inv_weight = [1.0 / (w + WEIGHT_FLOOR) for w in vocab.mask_weight]
    self.draw_kind = _Draw(config.proportions)
    rest = {k: config.proportions[k] for k in ("random", "keep", "mask")}
    self.draw_rest = _Draw(rest if sum(rest.values()) > 0 else {"random": 1.0})
    # kind -> {token: (candidates, kind lent, sum of the rank weights)}, the borrowing
    # of _replacement resolved.
    totals = {}
    self.confusions = {}
    for kind in CONFUSION_KINDS:
      table = {}
      for k in reversed(_BORROW[kind]):  # the first kind with candidates wins
        for t, c in getattr(vocab, k).items():
          if c:
            if len(c) not in totals:
              totals[len(c)] = sum(1.0 / (r + 1) for r in range(len(c)))
            table[t] = (c, k, totals[len(c)])
      self.confusions[kind] = table

  def replacement(self, token, kind, rng):
    """_replacement(token, kind, ...) with the same draws."""
    if kind in self.confusions:
      found = self.confusions[kind].get(token)
      if found:
        cands, kind, total = found
        x = rng.random() * total  # _pick_ranked
        for r, c in enumerate(cands):
          x -= _RECIPROCALS[r] if r < 256 else 1.0 / (r + 1)
          if x <= 0:
            return c, kind
        return cands[-1], kind
      kind = self.draw_rest(rng)
    if kind == "random":
      ids = self.vocab.random_ids
      return ids[rng.randint(0, len(ids) - 1)], "random"
    if kind == "mask":
      return self.vocab.mask_id, "mask"
    return token, "keep"


_RECIPROCALS = [1.0 / (r + 1) for r in range(256)]
_STAT_KEYS = {k: "masked_" + k for k in ("error",) + REPLACE_KINDS}


def mask_instance(a, b, is_random_next, config, vocab, rng, stats, tables=None):
  """Builds one Instance from segment streams (correct, wrong, words)."""
  tables = tables or MaskTables(config, vocab)
  wwm = config.whole_word_mask
  correct = [vocab.cls_id] + a[0] + [vocab.sep_id]
  inputs = [vocab.cls_id] + a[1] + [vocab.sep_id]
  words = [-1] + a[2] + [-1]
  segment_ids = [0] * len(correct)
  if b is not None:
    correct += b[0] + [vocab.sep_id]
    inputs += b[1] + [vocab.sep_id]
    if wwm:  # B's words after A's
      shift = max(a[2], default=-1) + 1
      words += [w + shift for w in b[2]] + [-1]
    else:
      words += b[2] + [-1]
    segment_ids += [1] * (len(b[0]) + 1)

  budget = min(config.max_predictions_per_seq, max(1, int(round(len(correct) * config.masked_lm_prob))))
  errors = [] if inputs == correct else [
      i for i, (x, y) in enumerate(zip(inputs, correct)) if x != y]
  if len(errors) > config.max_predictions_per_seq:
    kept = set(rng.sample(errors, config.max_predictions_per_seq))
    for i in errors:
      if i not in kept:
        inputs[i] = correct[i]  # put right what cannot be predicted
    stats["errors_cut"] += len(errors) - len(kept)
    errors = sorted(kept)
  masked = dict.fromkeys(errors, "error")

  # Extra positions, whole words together when asked, weighted by mask probability:
  # key random() ** (1 / weight), largest keys first (Efraimidis-Spirakis).
  room = budget - len(masked)
  if room > 0:
    rand = rng.random
    inv = tables.inv_weight
    if wwm:
      units = collections.defaultdict(list)
      for i, w in enumerate(words):
        if w >= 0 and i not in masked:
          units[w].append(i)
      units = list(units.values())
      keys = [rand() ** min(inv[correct[i]] for i in unit) for unit in units]
    else:  # every position a unit of its own
      units = [i for i, w in enumerate(words) if w >= 0 and i not in masked]
      keys = [rand() ** inv[correct[i]] for i in units]
    # Stable, largest first: the order of sorting by -key.
    order = sorted(range(len(units)), key=keys.__getitem__, reverse=True)
    if wwm:
      chosen = []
      for u in order:
        if room <= 0:
          break
        if len(units[u]) <= room:
          chosen += units[u]
          room -= len(units[u])
    else:
      chosen = [units[u] for u in order[:room]]
    draw_kind, replacement = tables.draw_kind, tables.replacement
    for i in chosen:
      inputs[i], masked[i] = replacement(correct[i], draw_kind(rng), rng)

  positions = sorted(masked)
  kinds = [masked[i] for i in positions]
  stats.update(map(_STAT_KEYS.__getitem__, kinds))
  stats["instances"] += 1
  stats["tokens"] += len(correct)
  return Instance(inputs, segment_ids, positions, [correct[i] for i in positions],
                  is_random_next, kinds)


def iter_instances(documents, config, vocab, rng, dupe_factor, stats, tables=None):
  """The instances of create_instances before its final shuffle, one at a time."""
  documents = [d for d in documents if d]
  rng.shuffle(documents)
  tables = tables or MaskTables(config, vocab)
  for _ in range(dupe_factor):
    for index in range(len(documents)):
      for a, b, random_next in segment_document(documents, index, config, rng):
        yield mask_instance(a, b, random_next, config, vocab, rng, stats, tables)


def create_instances(documents, config, vocab, rng, dupe_factor, stats):
  """All instances of a group of documents, shuffled, Google style."""
  out = list(iter_instances(documents, config, vocab, rng, dupe_factor, stats))
  rng.shuffle(out)
  return out


def parse_proportions(spec):
  """'same_pinyin=0.3,similar_pinyin=0.3,...' -> normalised dict over REPLACE_KINDS."""
  out = dict.fromkeys(REPLACE_KINDS, 0.0)
  for item in filter(None, (s.strip() for s in spec.split(","))):
    name, _, value = item.partition("=")
    if name not in out:
      raise ValueError(f"unknown replacement kind {name!r}; kinds: {', '.join(REPLACE_KINDS)}")
    out[name] = float(value)
  total = sum(out.values())
  if total <= 0 or min(out.values()) < 0:
    raise ValueError("replacement proportions must be >= 0 and not all 0")
  return {k: v / total for k, v in out.items()}


def seeded_rng(seed, *parts):
  """A random.Random that depends only on the seed and the given parts."""
  return random.Random(":".join(str(p) for p in (seed,) + parts))
