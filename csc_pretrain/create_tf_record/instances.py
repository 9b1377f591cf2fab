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

import collections
import dataclasses
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
  while len(a[0]) + len(b[0]) > max_tokens:
    longer = a if len(a[0]) > len(b[0]) else b
    front = rng.random() < 0.5
    for stream in longer:
      del stream[0 if front else -1]


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


def mask_instance(a, b, is_random_next, config, vocab, rng, stats):
  """Builds one Instance from segment streams (correct, wrong, words)."""
  correct = [vocab.cls_id] + a[0] + [vocab.sep_id]
  inputs = [vocab.cls_id] + a[1] + [vocab.sep_id]
  words = [-1] + a[2] + [-1]
  segment_ids = [0] * len(correct)
  if b is not None:
    shift = max(a[2], default=-1) + 1
    correct += b[0] + [vocab.sep_id]
    inputs += b[1] + [vocab.sep_id]
    words += [w + shift for w in b[2]] + [-1]
    segment_ids += [1] * (len(b[0]) + 1)

  budget = min(config.max_predictions_per_seq, max(1, int(round(len(correct) * config.masked_lm_prob))))
  errors = [i for i, (x, y) in enumerate(zip(inputs, correct)) if x != y]
  if len(errors) > config.max_predictions_per_seq:
    kept = set(rng.sample(errors, config.max_predictions_per_seq))
    for i in errors:
      if i not in kept:
        inputs[i] = correct[i]  # put right what cannot be predicted
    stats["errors_cut"] += len(errors) - len(kept)
    errors = sorted(kept)
  masked = {i: "error" for i in errors}

  # Extra positions, whole words together when asked, weighted by mask probability.
  room = budget - len(masked)
  if room > 0:
    units = collections.defaultdict(list)
    for i, t in enumerate(correct):
      if words[i] >= 0 and i not in masked:
        units[words[i] if config.whole_word_mask else i].append(i)
    keyed = []
    for unit in units.values():
      weight = max(vocab.mask_weight[correct[i]] for i in unit) + WEIGHT_FLOOR
      keyed.append((rng.random() ** (1.0 / weight), unit))  # Efraimidis-Spirakis
    keyed.sort(key=lambda kv: -kv[0])
    kinds, weights = zip(*config.proportions.items())
    for _, unit in keyed:
      if room <= 0:
        break
      if len(unit) > room:
        continue
      for i in unit:
        kind = rng.choices(kinds, weights)[0]
        inputs[i], masked[i] = _replacement(correct[i], kind, vocab, config.proportions, rng)
      room -= len(unit)

  positions = sorted(masked)
  for i in positions:
    stats["masked_" + masked[i]] += 1
  stats["instances"] += 1
  stats["tokens"] += len(correct)
  return Instance(inputs, segment_ids, positions, [correct[i] for i in positions],
                  is_random_next, [masked[i] for i in positions])


def create_instances(documents, config, vocab, rng, dupe_factor, stats):
  """All instances of a group of documents, shuffled, Google style."""
  documents = [d for d in documents if d]
  rng.shuffle(documents)
  out = []
  for _ in range(dupe_factor):
    for index in range(len(documents)):
      for a, b, random_next in segment_document(documents, index, config, rng):
        out.append(mask_instance(a, b, random_next, config, vocab, rng, stats))
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
