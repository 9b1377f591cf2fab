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
     input = the wrong token, label = the correct one. Errors beyond
     max_predictions_per_seq are put right in the input and counted as cut;
  2. extra positions fill the rest of the budget, drawn without replacement
     with weight mask_probability[char] (+ a floor); with whole-word masking a
     jieba word is one unit, masked whole or not at all;
  3. an extra position's input becomes, by ``replace_proportions``: a same-pinyin
     character, a similar-pinyin one, a look-alike, a random token, [MASK], or
     stays unchanged. Confusion candidates are drawn with weight 1/rank.

Segments are cut with the group's random.Random, one document after another.
Masking is done with numpy on many instances at once (mask_batch), but each
instance draws its own random numbers, from a place in one random stream fixed
by its index in the group: how instances are batched cannot change the records.
tests/reference_masking.py is the slow, one-instance-at-a-time statement of
the same rules.
"""

import dataclasses
import itertools
import math
import random

import numpy as np

REPLACE_KINDS = ("same_pinyin", "similar_pinyin", "visual", "random", "keep", "mask")
DEFAULT_PROPORTIONS = {"same_pinyin": 0.30, "similar_pinyin": 0.30, "visual": 0.15,
                       "random": 0.10, "keep": 0.15, "mask": 0.0}
WEIGHT_FLOOR = 0.01  # every token keeps some chance to be masked
KINDS = ("error",) + REPLACE_KINDS  # what happened at a masked position, by code
CONFUSION_KINDS = ("same_pinyin", "similar_pinyin", "visual")
# A character with no candidate of the drawn kind borrows the next kind that has one.
BORROW = {"same_pinyin": ("same_pinyin", "similar_pinyin", "visual"),
          "similar_pinyin": ("similar_pinyin", "same_pinyin", "visual"),
          "visual": ("visual", "same_pinyin", "similar_pinyin")}
BATCH_SIZE = 2048  # instances masked together: only speed and memory depend on it


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
    length = int(self.lengths[k])
    n_masked = int(self.n_masked[k])
    return Instance(input_ids=self.input_ids[k, :length].tolist(),
                    segment_ids=self.segment_ids[k, :length].tolist(),
                    masked_lm_positions=self.positions[k, :n_masked].tolist(),
                    masked_lm_ids=self.label_ids[k, :n_masked].tolist(),
                    is_random_next=bool(self.is_random_next[k]),
                    kinds=[KINDS[code] for code in self.kinds[k, :n_masked]])


# --- segmenting (Google's algorithm, on token ranges) ------------------------------------------

def _truncation(length_a, length_b, max_tokens, rng):
  """Google's truncate_seq_pair as counts: tokens cut from (A front, A back,
  B front, B back). One token at a time from the longer segment, front or back
  at random."""
  cuts = [0, 0, 0, 0]
  draw = rng.random
  for _ in range(length_a + length_b - max_tokens):
    if length_a > length_b:
      length_a -= 1
      cuts[0 if draw() < 0.5 else 1] += 1
    else:
      length_b -= 1
      cuts[2 if draw() < 0.5 else 3] += 1
  return cuts


def segment_spans(documents, index, config, rng):
  """Google's create_instances_from_document for documents[index], on token ranges.

  ``documents`` hold the (start, length) of each sentence in one token array, a
  document's sentences one after the other, so a segment is a (start, stop)
  range of it. Yields (A range, B range or None, is_random_next).
  """
  document = documents[index]
  max_tokens = config.max_seq_length - (2 if config.single_segment else 3)
  target = max_tokens
  if rng.random() < config.short_seq_prob:
    target = rng.randint(2, max_tokens)
  first, length, i = 0, 0, 0  # the chunk is document[first:i + 1]
  while i < len(document):
    length += document[i][1]
    if i == len(document) - 1 or length >= target:
      sentences = i + 1 - first
      if config.single_segment:
        a_start = document[first][0]
        a_stop = document[i][0] + document[i][1]
        cut = _truncation(a_stop - a_start, 0, max_tokens, rng)
        yield (a_start + cut[0], a_stop - cut[1]), None, False
      else:
        a_end = first + (rng.randint(1, sentences - 1) if sentences >= 2 else 1)
        a_start = document[first][0]
        a_stop = document[a_end - 1][0] + document[a_end - 1][1]
        random_next = sentences == 1 or rng.random() < 0.5
        if random_next and len(documents) > 1:
          b_target = target - (a_stop - a_start)
          for _ in range(10):
            other = rng.randint(0, len(documents) - 1)
            if other != index:
              break
          other_document = documents[other]
          start = rng.randint(0, len(other_document) - 1)
          end, got = start, 0
          for _, sentence_length in other_document[start:]:
            end += 1
            got += sentence_length
            if got >= b_target:
              break
          b_start = other_document[start][0]
          b_stop = other_document[end - 1][0] + other_document[end - 1][1]
          i = a_end - 1  # the unused sentences start the next chunk
        elif a_end <= i:
          random_next = False
          b_start = document[a_end][0]
          b_stop = document[i][0] + document[i][1]
        else:  # a single sentence and no other document: no B
          random_next = False
          b_start = b_stop = a_stop
        cut = _truncation(a_stop - a_start, b_stop - b_start, max_tokens, rng)
        a_start, a_stop = a_start + cut[0], a_stop - cut[1]
        b_start, b_stop = b_start + cut[2], b_stop - cut[3]
        if a_stop > a_start and b_stop > b_start:
          yield (a_start, a_stop), (b_start, b_stop), random_next
      first, length = i + 1, 0
    i += 1


# --- what an extra position's input becomes ----------------------------------------------------

class _KindDraw:
  """A kind with probability proportional to its weight, for arrays of uniform numbers."""

  def __init__(self, weights):
    self.codes = np.asarray([KINDS.index(kind) for kind in weights])
    self.cumulative = np.cumsum(list(weights.values()), dtype=np.float64)
    self.total = float(self.cumulative[-1])
    if not 0.0 < self.total < math.inf:
      raise ValueError("replacement proportions must have a positive, finite total")
    self.last = max(k for k, weight in enumerate(weights.values()) if weight > 0)

  def __call__(self, uniform):
    """Codes into KINDS, one for each uniform [0, 1) number."""
    picked = np.searchsorted(self.cumulative, uniform * self.total, side="right")
    # A kind of weight 0 is never picked, even if rounding reaches the total.
    return self.codes[np.minimum(picked, self.last)]


class MaskTables:
  """What an extra position's input becomes, from the vocabulary and the proportions.

  The kind is drawn by ``replace_proportions``. A confusion kind gives a
  candidate with weight 1/rank (the closest confusions come most often); a
  character with none of that kind borrows another kind's (BORROW), and a token
  with no candidate at all (digits, punctuation, Latin) draws again among
  random / keep / mask in their proportions.
  """

  def __init__(self, config, vocab):
    self.vocab = vocab
    # Efraimidis-Spirakis keys are uniform ** (1 / weight).
    self.inverse_weight = 1.0 / (np.asarray(vocab.mask_weight, np.float64) + WEIGHT_FLOOR)
    self.random_ids = np.asarray(vocab.random_ids, np.int64)
    self.draw_kind = _KindDraw(config.proportions)
    rest = {kind: config.proportions[kind] for kind in ("random", "keep", "mask")}
    self.draw_rest = _KindDraw(rest if sum(rest.values()) > 0 else {"random": 1.0})
    # Per confusion kind, over token ids, borrowing resolved: how many candidates,
    # the kind they come from, where they start in one flat array of candidates.
    self.confusions = {}
    longest = 1
    for kind in CONFUSION_KINDS:
      lent = {}
      for source in reversed(BORROW[kind]):  # the first kind with candidates wins
        for token, candidates in getattr(vocab, source).items():
          if candidates:
            lent[token] = (candidates, source)
            longest = max(longest, len(candidates))
      count = np.zeros(vocab.size, np.int64)
      source_code = np.zeros(vocab.size, np.int64)
      for token, (candidates, source) in lent.items():
        count[token] = len(candidates)
        source_code[token] = KINDS.index(source)
      start = np.cumsum(count) - count
      flat = np.zeros(max(1, int(count.sum())), np.int64)
      for token, (candidates, _) in lent.items():
        flat[start[token]:start[token] + len(candidates)] = candidates
      self.confusions[KINDS.index(kind)] = (count, source_code, start, flat)
    # harmonic[r] = 1 + 1/2 + ... + 1/(r + 1): cumulative 1/rank weights.
    self.harmonic = np.cumsum(1.0 / np.arange(1, longest + 1))

  def replace(self, tokens, kind_uniform, pick_uniform, random_uniform):
    """(input ids, kind codes into KINDS) for extra positions holding ``tokens``.

    Each position uses its own three uniform numbers: one draws the kind, one
    the confusion candidate (or, with none, the kind drawn again), one the
    random token.
    """
    drawn = self.draw_kind(kind_uniform)
    ids = tokens.copy()
    kinds = drawn.copy()
    for code, (count, source_code, start, flat) in self.confusions.items():
      at = np.flatnonzero(drawn == code)
      n_candidates = count[tokens[at]]
      has = at[n_candidates > 0]
      n_candidates = n_candidates[n_candidates > 0]
      # The first rank whose cumulative 1/rank weight reaches x.
      x = pick_uniform[has] * self.harmonic[n_candidates - 1]
      rank = np.minimum(np.searchsorted(self.harmonic, x), n_candidates - 1)
      ids[has] = flat[start[tokens[has]] + rank]
      kinds[has] = source_code[tokens[has]]
      none = at[count[tokens[at]] == 0]
      kinds[none] = self.draw_rest(pick_uniform[none])
    at = np.flatnonzero(kinds == KINDS.index("random"))
    picked = (random_uniform[at] * len(self.random_ids)).astype(np.int64)
    ids[at] = self.random_ids[np.minimum(picked, len(self.random_ids) - 1)]
    ids[kinds == KINDS.index("mask")] = self.vocab.mask_id
    return ids, kinds


# --- masking -------------------------------------------------------------------------------------

def uniforms_per_instance(config):
  """Random numbers one instance uses: a key per position (error cut, extra
  positions), then three per prediction slot (replace)."""
  return config.max_seq_length + 3 * config.max_predictions_per_seq


def instance_uniforms(key, first, count, config):
  """Uniform [0, 1) numbers of instances first .. first + count - 1 of a group:
  instance k always gets the same row, numbers k * width .. (k + 1) * width - 1
  of the PCG64DXSM stream of ``key`` (advance jumps there in O(log k) steps),
  however the instances are batched."""
  width = uniforms_per_instance(config)
  bits = np.random.PCG64DXSM(key).advance(first * width)
  return np.random.Generator(bits).random((count, width))


def _row_slots(counts):
  """Items grouped by row, ``counts`` of them a row: each one's index in its row."""
  return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def mask_batch(spans, tokens, config, tables, uniforms, stats):
  """Masks a batch of instances at once.

  ``spans`` are segment_spans' (A range, B range or None, is_random_next) into
  ``tokens``' arrays (correct, wrong, words); ``uniforms`` has a row of
  instance_uniforms for each. Each row is [CLS] A [SEP] (B [SEP]).
  """
  n = len(spans)
  width = config.max_seq_length
  p = config.max_predictions_per_seq
  ranges = np.array([a + (b or (0, 0)) + (random_next,) for a, b, random_next in spans], np.int64)
  a_start, a_stop, b_start, b_stop, random_next = ranges.T
  length_a = a_stop - a_start
  length_b = b_stop - b_start
  lengths = length_a + 2 if config.single_segment else length_a + length_b + 3
  if lengths.max() > width:
    raise ValueError(f"instance of {lengths.max()} tokens > max_seq_length {width}")
  column = np.arange(width)
  in_a = (column >= 1) & (column <= length_a[:, None])
  in_b = (column >= length_a[:, None] + 2) & (column < (length_a + 2 + length_b)[:, None])
  text = in_a | in_b
  # Where each position's token sits in the token arrays (0 off the text).
  source = np.where(in_a, a_start[:, None] + column - 1,
                    b_start[:, None] + column - length_a[:, None] - 2)
  source = np.where(text, source, 0)
  labels = np.where(text, tokens.correct[source], 0)
  inputs = np.where(text, tokens.wrong[source], 0)
  labels[:, 0] = inputs[:, 0] = tables.vocab.cls_id
  seps = (column == length_a[:, None] + 1) | (column == lengths[:, None] - 1)
  labels[seps] = inputs[seps] = tables.vocab.sep_id
  segment_ids = ((column >= length_a[:, None] + 2) & (column < lengths[:, None])).astype(np.int8)
  position_uniform = uniforms[:, :width]
  kind_uniform = uniforms[:, width:width + p]
  pick_uniform = uniforms[:, width + p:width + 2 * p]
  random_uniform = uniforms[:, width + 2 * p:width + 3 * p]

  # 1. Every error is predicted; beyond max_predictions_per_seq, the p errors
  # with the largest uniform numbers, and the others are put right.
  errors = inputs != labels
  n_errors = errors.sum(axis=1)
  over = np.flatnonzero(n_errors > p)
  if len(over):
    error_keys = np.where(errors[over], position_uniform[over], -1.0)
    rank = np.argsort(np.argsort(-error_keys, axis=1, kind="stable"), axis=1)
    cut = errors[over] & (rank >= p)
    rows, columns = np.nonzero(cut)
    inputs[over[rows], columns] = labels[over[rows], columns]
    errors[over[rows], columns] = False
    stats["errors_cut"] += len(rows)
  budget = np.minimum(p, np.maximum(1, np.round(lengths * config.masked_lm_prob).astype(np.int64)))
  room = budget - np.minimum(n_errors, p)

  # 2. Extra positions fill the room: units (a token, or a whole word's tokens
  # that are not errors) by the largest keys uniform ** (1 / weight), Efraimidis-
  # Spirakis sampling without replacement; a word weighs as its heaviest token.
  # A unit is named by its first column and uses that column's uniform number.
  eligible = text & ~errors
  if config.whole_word_mask:
    words = np.where(text, tokens.words[source], -1)
    starts = np.ones((n, width), bool)
    starts[:, 1:] = words[:, 1:] != words[:, :-1]
    first = np.flatnonzero(starts)  # each word's first column, in the flattened [n, width]
    inverse_weight = np.where(eligible, tables.inverse_weight[labels], np.inf)
    unit_size = np.zeros((n, width), np.int64)
    unit_size.flat[first] = np.add.reduceat(eligible.ravel(), first)
    unit_inverse_weight = np.full((n, width), np.inf)
    unit_inverse_weight.flat[first] = np.minimum.reduceat(inverse_weight.ravel(), first)
    keys = np.where(unit_size > 0, position_uniform ** unit_inverse_weight, -1.0)
    best = np.broadcast_to(column, (n, width))  # every word, as the greedy pass may skip some
  else:
    keys = np.where(eligible, position_uniform ** tables.inverse_weight[labels], -1.0)
    best = np.argpartition(keys, width - p, axis=1)[:, width - p:]  # the room is at most p
  order = np.argsort(-np.take_along_axis(keys, best, axis=1), axis=1, kind="stable")
  best = np.take_along_axis(best, order, axis=1)  # units, best key first
  best_keys = np.take_along_axis(keys, best, axis=1)
  if config.whole_word_mask:
    # Greedy, as Google's: a word that does not fit in the room left is skipped.
    best_size = np.where(best_keys >= 0, np.take_along_axis(unit_size, best, axis=1), width + 1)
    taken = np.zeros(best.shape, bool)
    left = room.copy()
    for j in range(width):
      if left.max() <= 0:
        break
      taken[:, j] = best_size[:, j] <= left
      left -= np.where(taken[:, j], best_size[:, j], 0)
    rows, ranks = np.nonzero(taken)
    # A word's first column -> all its eligible columns.
    unit_taken = np.zeros((n, width), bool)
    unit_taken[rows, best[rows, ranks]] = True
    unit_of = np.maximum.accumulate(np.where(starts, column, 0), axis=1)
    rows, columns = np.nonzero(eligible & np.take_along_axis(unit_taken, unit_of, axis=1))
    slots = _row_slots(np.bincount(rows, minlength=n))
  else:  # units of one token: the first ``room`` of them
    taken = (np.arange(p) < room[:, None]) & (best_keys >= 0)
    rows, slots = np.nonzero(taken)
    columns = best[rows, slots]

  # 3. What the extra positions' inputs become; each takes the uniform numbers
  # of its slot (its index among its row's extra positions).
  kind = np.where(errors, KINDS.index("error"), -1).astype(np.int8)
  inputs[rows, columns], kind[rows, columns] = tables.replace(
      labels[rows, columns], kind_uniform[rows, slots], pick_uniform[rows, slots],
      random_uniform[rows, slots])

  # Each row's masked positions in order.
  masked = kind >= 0
  n_masked = masked.sum(axis=1)
  rows, columns = np.nonzero(masked)
  slots = _row_slots(n_masked)
  positions = np.zeros((n, p), np.int64)
  label_ids = np.zeros((n, p), np.int64)
  kinds = np.zeros((n, p), np.int64)
  positions[rows, slots] = columns
  label_ids[rows, slots] = labels[rows, columns]
  kinds[rows, slots] = kind[rows, columns]
  for code, count in enumerate(np.bincount(kind[masked], minlength=len(KINDS)).tolist()):
    if count:
      stats["masked_" + KINDS[code]] += count
  stats["instances"] += n
  stats["tokens"] += int(lengths.sum())
  return MaskedBatch(inputs, lengths, segment_ids, positions, label_ids, kinds, n_masked,
                     random_next.astype(bool))


# --- a group of documents -------------------------------------------------------------------------

@dataclasses.dataclass
class TokenArrays:
  """A group's sentences end to end: segments are ranges of these arrays."""
  correct: np.ndarray
  wrong: np.ndarray
  words: np.ndarray  # word id of each token, distinct across sentences (whole-word masking)
  documents: list    # per document, (start, length) of each sentence


def token_arrays(documents, whole_word_mask):
  """A group's documents of Sentences as TokenArrays."""
  sentences = [s for document in documents for s in document]
  lengths = [len(s.correct) for s in sentences]
  correct = np.fromiter(itertools.chain.from_iterable(s.correct for s in sentences), np.int32)
  wrong = np.fromiter(itertools.chain.from_iterable(s.wrong for s in sentences), np.int32)
  words = np.zeros(0, np.int64)
  if whole_word_mask:  # a sentence's words are numbered after the previous sentence's
    words = np.fromiter(itertools.chain.from_iterable(s.words for s in sentences), np.int64)
    word_counts = [max(s.words) + 1 for s in sentences]
    words += np.repeat(np.cumsum(word_counts) - word_counts, lengths)
  starts = iter(itertools.accumulate(lengths, initial=0))
  ranges = [[(next(starts), len(s.correct)) for s in document] for document in documents]
  return TokenArrays(correct, wrong, words, ranges)


def iter_spans(documents, config, rng, dupe_factor):
  """Google's order: ``dupe_factor`` passes over the documents, each document's
  segments in turn, all with ``rng``."""
  for _ in range(dupe_factor):
    for index in range(len(documents)):
      yield from segment_spans(documents, index, config, rng)


def masked_batches(documents, config, tables, rng, dupe_factor, stats, batch_size=BATCH_SIZE):
  """A group's instances, before the final shuffle, as MaskedBatches.

  ``rng`` (a random.Random) gives the masking key, shuffles the documents and
  cuts the segments; then ``batch_size`` segment pairs at a time are masked
  together. Only speed and memory depend on ``batch_size``.
  """
  key = rng.getrandbits(128)
  documents = [d for d in documents if d]
  rng.shuffle(documents)
  tokens = token_arrays(documents, config.whole_word_mask)
  spans = iter_spans(tokens.documents, config, rng, dupe_factor)
  done = 0  # instances masked so far
  while chunk := list(itertools.islice(spans, batch_size)):
    uniforms = instance_uniforms(key, done, len(chunk), config)
    yield mask_batch(chunk, tokens, config, tables, uniforms, stats)
    done += len(chunk)


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
