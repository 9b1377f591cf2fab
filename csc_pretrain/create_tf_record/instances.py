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

Whole-word masking masks one instance at a time (mask_instance, the group's
random.Random); everything else masks BATCH instances at once with numpy
(mask_batch, a numpy generator seeded from it): the same rules, other numbers.
"""

import bisect
import collections
import dataclasses
import itertools
import math
import operator
import random
import types

import numpy as np

REPLACE_KINDS = ("same_pinyin", "similar_pinyin", "visual", "random", "keep", "mask")
DEFAULT_PROPORTIONS = {"same_pinyin": 0.30, "similar_pinyin": 0.30, "visual": 0.15,
                       "random": 0.10, "keep": 0.15, "mask": 0.0}
WEIGHT_FLOOR = 0.01  # every token keeps some chance to be masked
KINDS = ("error",) + REPLACE_KINDS  # what happened at a masked position, by code
BATCH = 2048  # instances mask_batch masks together: part of what a seed gives


@dataclasses.dataclass
class Sentence:
  correct: list    # token ids of the correct text
  wrong: list      # token ids of the wrong text, same length
  words: list      # word index of each token, for whole-word masking (else empty)


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


@dataclasses.dataclass
class MaskedBatch:
  """Instances as arrays, rows zero-padded to max_seq_length / max_predictions_per_seq."""
  input_ids: np.ndarray       # [n, max_seq_length]
  lengths: np.ndarray         # [n] tokens of each instance
  segment_ids: np.ndarray     # [n, max_seq_length]
  positions: np.ndarray       # [n, max_predictions_per_seq] masked positions, ascending
  label_ids: np.ndarray       # [n, max_predictions_per_seq] the correct token there
  kinds: np.ndarray           # [n, max_predictions_per_seq] codes into KINDS
  n_masked: np.ndarray        # [n]
  is_random_next: np.ndarray  # [n] bool

  def __len__(self):
    return len(self.lengths)

  def instance(self, k):
    n, m = int(self.lengths[k]), int(self.n_masked[k])
    return Instance(self.input_ids[k, :n].tolist(), self.segment_ids[k, :n].tolist(),
                    self.positions[k, :m].tolist(), self.label_ids[k, :m].tolist(),
                    bool(self.is_random_next[k]), [KINDS[c] for c in self.kinds[k, :m]])

  @classmethod
  def from_instances(cls, instances, config):
    n, width, p = len(instances), config.max_seq_length, config.max_predictions_per_seq
    out = cls(input_ids=np.zeros((n, width), np.int64), lengths=np.zeros(n, np.int64),
              segment_ids=np.zeros((n, width), np.int64), positions=np.zeros((n, p), np.int64),
              label_ids=np.zeros((n, p), np.int64), kinds=np.zeros((n, p), np.int64),
              n_masked=np.zeros(n, np.int64), is_random_next=np.zeros(n, bool))
    for k, inst in enumerate(instances):
      length, m = len(inst.input_ids), len(inst.masked_lm_positions)
      out.input_ids[k, :length] = inst.input_ids
      out.segment_ids[k, :length] = inst.segment_ids
      out.positions[k, :m] = inst.masked_lm_positions
      out.label_ids[k, :m] = inst.masked_lm_ids
      out.kinds[k, :m] = [KINDS.index(c) for c in inst.kinds]
      out.lengths[k], out.n_masked[k], out.is_random_next[k] = length, m, inst.is_random_next
    return out


# --- segmenting (Google's algorithm, in lockstep) ------------------------------------------

def _truncation(la, lb, max_tokens, rng):
  """How many tokens _truncate_pair cuts: (A front, A back, B front, B back)."""
  cuts = [0, 0, 0, 0]
  if la + lb > max_tokens:
    rand = rng.random
    for _ in range(la + lb - max_tokens):  # from the longer one, front or back at random
      if la > lb:
        la -= 1
        cuts[0 if rand() < 0.5 else 1] += 1
      else:
        lb -= 1
        cuts[2 if rand() < 0.5 else 3] += 1
  return cuts


def _truncate_pair(a, b, max_tokens, rng):
  """Drops tokens from the longer segment, at its front or back at random."""
  cuts = _truncation(len(a[0]), len(b[0]), max_tokens, rng)
  for segment, front, back in ((a, cuts[0], cuts[1]), (b, cuts[2], cuts[3])):
    if front or back:
      for stream in segment:
        stream[:] = stream[front:len(stream) - back]


def _concat(sentences):
  correct, wrong, words = [], [], []
  offset = 0
  for s in sentences:
    correct += s.correct
    wrong += s.wrong
    words += [w + offset for w in s.words]
    offset += (max(s.words) + 1) if s.words else 0
  return [correct, wrong, words]


def segment_document(documents, index, config, rng):
  """Yields (segment_a, segment_b or None, is_random_next) for one document."""
  document = documents[index]
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
          a = _concat(chunk)
          _truncate_pair(a, [[], [], []], max_tokens, rng)
          yield a, None, False
        else:
          a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
          a = _concat(chunk[:a_end])
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
            b = _concat(picked)
            i -= len(chunk) - a_end  # the unused sentences start the next chunk
          else:
            random_next = False
            b = _concat(chunk[a_end:])
          _truncate_pair(a, b, max_tokens, rng)
          if a[0] and b[0]:
            yield a, b, random_next
      chunk, length = [], 0
    i += 1


def segment_spans(documents, index, config, rng):
  """segment_document on token ranges: ``documents`` hold (start, length) of each
  sentence in one token array, a document's sentences one after the other. Yields
  ((start, stop) of A, (start, stop) of B or None, is_random_next); the same
  segments for the same draws, without copying tokens."""
  document = documents[index]
  max_tokens = config.max_seq_length - (2 if config.single_segment else 3)
  target = max_tokens
  if rng.random() < config.short_seq_prob:
    target = rng.randint(2, max_tokens)
  first, length, i = 0, 0, 0  # the chunk is document[first:i + 1]
  while i < len(document):
    length += document[i][1]
    if i == len(document) - 1 or length >= target:
      size = i + 1 - first
      if config.single_segment:
        a0, a1 = document[first][0], document[i][0] + document[i][1]
        cut = _truncation(a1 - a0, 0, max_tokens, rng)
        yield (a0 + cut[0], a1 - cut[1]), None, False
      else:
        a_end = first + (rng.randint(1, size - 1) if size >= 2 else 1)
        a0, a1 = document[first][0], document[a_end - 1][0] + document[a_end - 1][1]
        random_next = size == 1 or rng.random() < 0.5
        if random_next and len(documents) > 1:
          b_target = target - (a1 - a0)
          for _ in range(10):
            other = rng.randint(0, len(documents) - 1)
            if other != index:
              break
          other_doc = documents[other]
          start = rng.randint(0, len(other_doc) - 1)
          end, got = start, 0
          for _, n in other_doc[start:]:
            end += 1
            got += n
            if got >= b_target:
              break
          b0, b1 = other_doc[start][0], other_doc[end - 1][0] + other_doc[end - 1][1]
          i = a_end - 1  # the unused sentences start the next chunk
        elif a_end <= i:
          random_next = False
          b0, b1 = document[a_end][0], document[i][0] + document[i][1]
        else:  # a single sentence and no other document: no B
          random_next = False
          b0 = b1 = a1
        cut = _truncation(a1 - a0, b1 - b0, max_tokens, rng)
        a0, a1, b0, b1 = a0 + cut[0], a1 - cut[1], b0 + cut[2], b1 - cut[3]
        if a1 > a0 and b1 > b0:
          yield (a0, a1), (b0, b1), random_next
      first, length = i + 1, 0
    i += 1


# --- masking --------------------------------------------------------------------------------------

CONFUSION_KINDS = ("same_pinyin", "similar_pinyin", "visual")
# A character with no candidate of the drawn kind borrows the next kind that has one.
_BORROW = {"same_pinyin": ("same_pinyin", "similar_pinyin", "visual"),
           "similar_pinyin": ("similar_pinyin", "same_pinyin", "visual"),
           "visual": ("visual", "same_pinyin", "similar_pinyin")}


class _Draw:
  """``rng.choices(kinds, weights)[0]`` with the cumulative weights summed once (the
  same arithmetic as random.choices, so the same draws)."""

  def __init__(self, weights):
    self.kinds, self.cum = tuple(weights), list(itertools.accumulate(weights.values()))
    self.total, self.hi = self.cum[-1] + 0.0, len(self.cum) - 1
    if not 0.0 < self.total < math.inf:
      raise ValueError("replacement proportions must have a positive, finite total")

  def __call__(self, rng):
    return self.kinds[bisect.bisect(self.cum, rng.random() * self.total, 0, self.hi)]

  def many(self, uniform):
    """Indices into ``kinds`` for an array of uniform [0, 1) numbers."""
    return np.minimum(np.searchsorted(self.cum, uniform * self.total, side="right"), self.hi)


class MaskTables:
  """What an extra position's input becomes, from the vocabulary and the proportions.

  The kind is drawn by ``replace_proportions``. A confusion kind gives a
  candidate with weight 1/rank (the closest confusions come most often); a
  character with none of that kind borrows another kind's, and a token with no
  candidate at all (digits, punctuation, Latin) draws again among random / keep
  / mask in their proportions.
  """

  def __init__(self, config, vocab):
    self.vocab = vocab
    self.inv_weight = [1.0 / (w + WEIGHT_FLOOR) for w in vocab.mask_weight]  # key exponents
    self.draw_kind = _Draw(config.proportions)
    rest = {k: config.proportions[k] for k in ("random", "keep", "mask")}
    self.draw_rest = _Draw(rest if sum(rest.values()) > 0 else {"random": 1.0})
    # kind -> {token: (candidates, kind lent, sum of the 1/rank weights)}, borrowing resolved.
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
    self.reciprocals = [1.0 / (r + 1) for r in range(max(totals, default=1))]
    self._arrays = None

  def replace(self, token, rng):
    """(input id, kind) for one extra position holding ``token``."""
    kind = self.draw_kind(rng)
    found = self.confusions[kind].get(token) if kind in self.confusions else None
    if found:
      cands, kind, total = found
      x = rng.random() * total  # subtract rank weights until x is used up
      for rec, c in zip(self.reciprocals, cands):
        x -= rec
        if x <= 0:
          return c, kind
      return cands[-1], kind
    if kind in self.confusions:
      kind = self.draw_rest(rng)
    if kind == "random":
      ids = self.vocab.random_ids
      return ids[rng.randint(0, len(ids) - 1)], "random"
    if kind == "mask":
      return self.vocab.mask_id, "mask"
    return token, "keep"

  def arrays(self):
    """The tables as numpy arrays, for replace_batch and mask_batch (made once)."""
    if self._arrays is None:
      size, a = self.vocab.size, types.SimpleNamespace()
      a.inv_weight = np.asarray(self.inv_weight)
      a.random_ids = np.asarray(self.vocab.random_ids, np.int64)
      a.kind_code = np.asarray([KINDS.index(k) for k in self.draw_kind.kinds])
      a.rest_code = np.asarray([KINDS.index(k) for k in self.draw_rest.kinds])
      a.harmonic = np.cumsum(self.reciprocals)  # cumulative 1/rank weights
      # Per confusion kind, over token ids: number of candidates, kind lent,
      # where the candidates start in one flat array.
      a.confusions = {}
      for kind, table in self.confusions.items():
        count, lent = np.zeros(size, np.int64), np.zeros(size, np.int64)
        for t, (cands, k, _) in table.items():
          count[t], lent[t] = len(cands), KINDS.index(k)
        start = np.cumsum(count) - count
        flat = np.zeros(max(1, int(count.sum())), np.int64)
        for t, (cands, _, _) in table.items():
          flat[start[t]:start[t] + len(cands)] = cands
        a.confusions[KINDS.index(kind)] = (count, lent, start, flat)
      self._arrays = a
    return self._arrays

  def replace_batch(self, tokens, rng):
    """replace for an array of tokens: (input ids, kind codes into KINDS), the
    numbers from the numpy generator ``rng``."""
    a = self.arrays()
    drawn = a.kind_code[self.draw_kind.many(rng.random(len(tokens)))]
    ids, kinds = tokens.copy(), drawn.copy()
    for code, (count, lent, start, flat) in a.confusions.items():
      at = np.flatnonzero(drawn == code)
      n = count[tokens[at]]
      has, none = at[n > 0], at[n == 0]
      n = n[n > 0]
      # The first rank whose cumulative weight reaches x, as replace subtracts.
      x = rng.random(len(has)) * a.harmonic[n - 1]
      rank = np.minimum(np.searchsorted(a.harmonic, x), n - 1)
      ids[has] = flat[start[tokens[has]] + rank]
      kinds[has] = lent[tokens[has]]
      kinds[none] = a.rest_code[self.draw_rest.many(rng.random(len(none)))]
    at = np.flatnonzero(kinds == KINDS.index("random"))
    ids[at] = a.random_ids[rng.integers(0, len(a.random_ids), len(at))]
    ids[kinds == KINDS.index("mask")] = self.vocab.mask_id
    return ids, kinds


_STAT_KEYS = {k: "masked_" + k for k in KINDS}


def _extra_units(words, masked, config, a, b):
  """Units that may become extra positions, in position order, and their tokens:
  lists of positions of one word with whole-word masking (tokens None), else
  single positions."""
  if config.whole_word_mask:
    units = collections.defaultdict(list)
    for i, w in enumerate(words):
      if w >= 0 and i not in masked:
        units[w].append(i)
    return list(units.values()), None
  # Each token but [CLS] and [SEP] and the errors, without looking at each.
  la = len(a[0])
  units = list(range(1, la + 1))
  tokens = list(a[0])
  if b is not None:
    units += range(la + 2, la + 2 + len(b[0]))
    tokens += b[0]
  for i in sorted(masked, reverse=True):
    del units[i - 1 if i <= la else i - 2]
    del tokens[i - 1 if i <= la else i - 2]
  return units, tokens


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
    if wwm:  # B's words numbered after A's
      shift = max(a[2], default=-1) + 1
      words += [w + shift for w in b[2]] + [-1]
    segment_ids += [1] * (len(b[0]) + 1)

  budget = min(config.max_predictions_per_seq, max(1, int(round(len(correct) * config.masked_lm_prob))))
  errors = [] if inputs == correct else list(
      itertools.compress(itertools.count(), map(operator.ne, inputs, correct)))
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
    units, tokens = _extra_units(words, masked, config, a, b)
    rand, inv = rng.random, tables.inv_weight
    if wwm:
      keys = [rand() ** min(inv[correct[i]] for i in unit) for unit in units]
    else:
      keys = [rand() ** inv[t] for t in tokens]
    order = sorted(range(len(units)), key=keys.__getitem__, reverse=True)  # stable
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
    for i in chosen:
      inputs[i], masked[i] = tables.replace(correct[i], rng)

  positions = sorted(masked)
  kinds = [masked[i] for i in positions]
  stats.update(map(_STAT_KEYS.__getitem__, kinds))
  stats["instances"] += 1
  stats["tokens"] += len(correct)
  return Instance(inputs, segment_ids, positions, [correct[i] for i in positions],
                  is_random_next, kinds)


def _row_slots(counts):
  """Items grouped by row, ``counts`` of them a row: each one's index in its row."""
  return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def mask_batch(spans, correct, wrong, config, vocab, rng, stats, tables=None):
  """mask_instance for many instances at once, with numpy and its generator ``rng``.

  ``spans`` are segment_spans' (A, B or None, is_random_next), ranges of the
  token arrays ``correct`` and ``wrong``. Each row is [CLS] A [SEP] (B [SEP]).
  """
  tables = tables or MaskTables(config, vocab)
  n, width, p = len(spans), config.max_seq_length, config.max_predictions_per_seq
  a0, a1, b0, b1, random_next = np.array(
      [a + (b if b is not None else (0, -1)) + (r,) for a, b, r in spans], np.int64).T
  len_a, len_b = a1 - a0, np.maximum(b1 - b0, 0)
  lengths = len_a + 2 + np.where(b1 >= 0, len_b + 1, 0)
  if lengths.max() > width:
    raise ValueError(f"instance of {lengths.max()} tokens > max_seq_length {width}")
  col = np.arange(width)
  in_a = (col >= 1) & (col <= len_a[:, None])
  in_b = (col >= len_a[:, None] + 2) & (col < (len_a + 2 + len_b)[:, None])
  text = in_a | in_b
  at = np.where(in_a, a0[:, None] + col - 1, b0[:, None] + col - len_a[:, None] - 2)
  at = np.where(text, at, 0)  # where each token comes from in correct / wrong
  labels = np.where(text, correct[at], 0)
  inputs = np.where(text, wrong[at], 0)
  labels[:, 0] = inputs[:, 0] = vocab.cls_id
  seps = (col == len_a[:, None] + 1) | (col == lengths[:, None] - 1)
  labels[seps] = inputs[seps] = vocab.sep_id
  segment_ids = ((col >= len_a[:, None] + 2) & (col < lengths[:, None])).astype(np.int8)

  # 1. Every error is predicted; beyond the budget a random max_predictions_per_seq
  # of them, and the others are put right.
  errors = inputs != labels
  n_errors = errors.sum(axis=1)
  for k in np.flatnonzero(n_errors > p):
    cut = rng.choice(np.flatnonzero(errors[k]), n_errors[k] - p, replace=False)
    inputs[k, cut] = labels[k, cut]
    errors[k, cut] = False
    stats["errors_cut"] += len(cut)
  room = (np.minimum(p, np.maximum(1, np.round(lengths * config.masked_lm_prob).astype(np.int64)))
          - np.minimum(n_errors, p))

  # 2. Extra positions fill the budget: the largest keys random() ** (1 / weight).
  arrays = tables.arrays()
  keys = np.where(text & ~errors, rng.random((n, width)) ** arrays.inv_weight[labels], -1.0)
  top = min(p, width)
  best = np.argpartition(keys, width - top, axis=1)[:, width - top:]
  best_keys = np.take_along_axis(keys, best, axis=1)
  order = np.argsort(-best_keys, axis=1)
  best, best_keys = np.take_along_axis(best, order, 1), np.take_along_axis(best_keys, order, 1)
  chosen = (np.arange(top) < room[:, None]) & (best_keys >= 0)
  rows, cols = np.nonzero(chosen)[0], best[chosen]

  # 3. What their inputs become; then each row's masked positions in order.
  kind = np.where(errors, KINDS.index("error"), -1).astype(np.int8)
  inputs[rows, cols], kind[rows, cols] = tables.replace_batch(labels[rows, cols], rng)
  masked = kind >= 0
  n_masked = masked.sum(axis=1)
  rows, cols = np.nonzero(masked)
  slots = _row_slots(n_masked)
  positions, label_ids, kinds = (np.zeros((n, p), np.int64) for _ in range(3))
  positions[rows, slots] = cols
  label_ids[rows, slots] = labels[rows, cols]
  kinds[rows, slots] = kind[rows, cols]
  for code, count in enumerate(np.bincount(kind[masked], minlength=len(KINDS)).tolist()):
    if count:
      stats["masked_" + KINDS[code]] += count
  stats["instances"] += n
  stats["tokens"] += int(lengths.sum())
  return MaskedBatch(inputs, lengths, segment_ids, positions, label_ids, kinds, n_masked,
                     random_next.astype(bool))


# --- a group of documents -------------------------------------------------------------------------

def _shuffled(documents, rng):
  documents = [d for d in documents if d]
  rng.shuffle(documents)
  return documents


def iter_segments(documents, config, rng, dupe_factor):
  """A group's segment pairs: documents shuffled, ``dupe_factor`` passes, Google style."""
  documents = _shuffled(documents, rng)
  for _ in range(dupe_factor):
    for index in range(len(documents)):
      yield from segment_document(documents, index, config, rng)


def masked_batches(documents, config, vocab, rng, dupe_factor, stats, tables=None):
  """A group's instances, before the final shuffle, as MaskedBatches.

  With whole-word masking each segment pair is masked as it is cut, by
  mask_instance with ``rng``. Without, the group's tokens go into two arrays,
  BATCH segment pairs at a time are cut as ranges of them with ``rng`` and masked
  together by mask_batch, with a numpy generator seeded from ``rng``.
  """
  tables = tables or MaskTables(config, vocab)
  if config.whole_word_mask:
    segments = iter_segments(documents, config, rng, dupe_factor)
    while chunk := [mask_instance(a, b, random_next, config, vocab, rng, stats, tables)
                    for a, b, random_next in itertools.islice(segments, BATCH)]:
      yield MaskedBatch.from_instances(chunk, config)
    return
  documents = _shuffled(documents, rng)
  sentences = [s for d in documents for s in d]
  correct = np.fromiter(itertools.chain.from_iterable(s.correct for s in sentences), np.int32)
  wrong = np.fromiter(itertools.chain.from_iterable(s.wrong for s in sentences), np.int32)
  lengths = [len(s.correct) for s in sentences]
  starts = iter(itertools.accumulate(lengths, initial=0))
  ranges = [[(next(starts), len(s.correct)) for s in d] for d in documents]
  spans = (span for _ in range(dupe_factor) for index in range(len(ranges))
           for span in segment_spans(ranges, index, config, rng))
  numpy_rng = None
  while chunk := list(itertools.islice(spans, BATCH)):
    if numpy_rng is None:
      numpy_rng = np.random.default_rng(rng.getrandbits(128))
    yield mask_batch(chunk, correct, wrong, config, vocab, numpy_rng, stats, tables)


def create_instances(documents, config, vocab, rng, dupe_factor, stats):
  """All instances of a group of documents, shuffled, Google style."""
  out = [batch.instance(k) for batch in masked_batches(
      documents, config, vocab, rng, dupe_factor, stats) for k in range(len(batch))]
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
