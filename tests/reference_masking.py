"""Stage 3's segmenting and masking, slowly, one instance at a time, on token lists.

A statement of the rules that csc_pretrain.create_tf_record.instances applies to
many instances at once with numpy, written the way Google's
create_pretraining_data.py is: create_segments cuts segments A/B exactly as
Google's create_instances_from_document does (with the same draws as the fast
path, so the segments can be compared one for one); mask_instance masks one
instance; check_instance says whether a masked instance keeps every rule.
"""

import collections
import dataclasses

from csc_pretrain.create_tf_record.instances import (BORROW, CONFUSION_KINDS, REPLACE_KINDS,
                                                     WEIGHT_FLOOR, Instance)


@dataclasses.dataclass
class Segment:
  correct: list  # token ids
  wrong: list    # the same positions in the text with errors
  words: list    # word id of each token, distinct across the group's sentences


@dataclasses.dataclass
class Pair:
  a: Segment
  b: Segment     # empty with single_segment
  is_random_next: bool


def _join(sentences):
  return Segment([t for s in sentences for t in s.correct], [t for s in sentences for t in s.wrong],
                 [w for s in sentences for w in s.words])


def _truncate_seq_pair(a, b, max_num_tokens, rng):
  """Google's: one token at a time from the longer segment, its front or back."""
  while len(a.correct) + len(b.correct) > max_num_tokens:
    trunc = a if len(a.correct) > len(b.correct) else b
    if rng.random() < 0.5:
      for stream in (trunc.correct, trunc.wrong, trunc.words):
        del stream[0]
    else:
      for stream in (trunc.correct, trunc.wrong, trunc.words):
        stream.pop()


def create_instances_from_document(all_documents, document_index, config, rng):
  """Google's function of that name, for segments of (correct, wrong, words)."""
  document = all_documents[document_index]
  max_num_tokens = config.max_seq_length - (2 if config.single_segment else 3)
  target_seq_length = max_num_tokens
  if rng.random() < config.short_seq_prob:
    target_seq_length = rng.randint(2, max_num_tokens)
  pairs = []
  current_chunk = []
  current_length = 0
  i = 0
  while i < len(document):
    current_chunk.append(document[i])
    current_length += len(document[i].correct)
    if i == len(document) - 1 or current_length >= target_seq_length:
      if config.single_segment:
        a = _join(current_chunk)
        _truncate_seq_pair(a, Segment([], [], []), max_num_tokens, rng)
        pairs.append(Pair(a, Segment([], [], []), False))
      else:
        a_end = 1
        if len(current_chunk) >= 2:
          a_end = rng.randint(1, len(current_chunk) - 1)
        a = _join(current_chunk[:a_end])
        is_random_next = len(current_chunk) == 1 or rng.random() < 0.5
        if is_random_next and len(all_documents) > 1:
          target_b_length = target_seq_length - len(a.correct)
          for _ in range(10):
            random_document_index = rng.randint(0, len(all_documents) - 1)
            if random_document_index != document_index:
              break
          random_document = all_documents[random_document_index]
          random_start = rng.randint(0, len(random_document) - 1)
          picked, picked_length = [], 0
          for sentence in random_document[random_start:]:
            picked.append(sentence)
            picked_length += len(sentence.correct)
            if picked_length >= target_b_length:
              break
          b = _join(picked)
          # The sentences not used go back into the document.
          i -= len(current_chunk) - a_end
        else:
          is_random_next = False
          b = _join(current_chunk[a_end:])
        _truncate_seq_pair(a, b, max_num_tokens, rng)
        if a.correct and b.correct:
          pairs.append(Pair(a, b, is_random_next))
      current_chunk = []
      current_length = 0
    i += 1
  return pairs


def create_segments(documents, config, rng, dupe_factor):
  """A group's segment pairs, in order, for documents of instances.Sentence.

  The fast path takes its 128-bit masking key from ``rng`` before anything
  else, so this does too: the segment draws then line up one for one.
  """
  rng.getrandbits(128)
  documents = [d for d in documents if d]
  rng.shuffle(documents)
  all_documents, offset = [], 0
  for document in documents:
    sentences = []
    for s in document:
      words = s.words or range(len(s.correct))  # no words: each token its own
      sentences.append(Segment(list(s.correct), list(s.wrong), [w + offset for w in words]))
      offset += max(words) + 1  # word ids distinct across sentences
    all_documents.append(sentences)
  pairs = []
  for _ in range(dupe_factor):
    for document_index in range(len(all_documents)):
      pairs += create_instances_from_document(all_documents, document_index, config, rng)
  return pairs


# --- masking ---------------------------------------------------------------------------------

def layout(pair, vocab):
  """[CLS] A [SEP] (B [SEP]): correct tokens, wrong tokens, word ids (None on
  special tokens) and segment ids."""
  correct = [vocab.cls_id] + pair.a.correct + [vocab.sep_id]
  wrong = [vocab.cls_id] + pair.a.wrong + [vocab.sep_id]
  words = [None] + pair.a.words + [None]
  segment_ids = [0] * len(correct)
  if pair.b.correct:
    correct += pair.b.correct + [vocab.sep_id]
    wrong += pair.b.wrong + [vocab.sep_id]
    words += pair.b.words + [None]
    segment_ids += [1] * (len(pair.b.correct) + 1)
  return correct, wrong, words, segment_ids


def num_to_predict(length, config):
  """Google's budget of predictions for an instance of ``length`` tokens."""
  return min(config.max_predictions_per_seq, max(1, int(round(length * config.masked_lm_prob))))


def units(correct, wrong, words, config):
  """What extra positions are chosen in: lists of positions, in position order.
  A position is eligible if it is text and not an error; with whole-word masking
  a unit is a word's eligible positions, else one position."""
  grouped = collections.OrderedDict()
  for i, word in enumerate(words):
    if word is not None and wrong[i] == correct[i]:
      grouped.setdefault(word if config.whole_word_mask else i, []).append(i)
  return list(grouped.values())


def replace(token, config, vocab, rng):
  """(input id, kind) for an extra position holding ``token``."""
  kind = rng.choices(REPLACE_KINDS, [config.proportions[k] for k in REPLACE_KINDS])[0]
  if kind in CONFUSION_KINDS:
    for source in BORROW[kind]:
      candidates = getattr(vocab, source).get(token)
      if candidates:
        weights = [1.0 / (rank + 1) for rank in range(len(candidates))]
        return rng.choices(candidates, weights)[0], source
    rest = ("random", "keep", "mask")
    weights = [config.proportions[k] for k in rest]
    kind = rng.choices(rest, weights)[0] if sum(weights) > 0 else "random"
  if kind == "random":
    return rng.choice(vocab.random_ids), "random"
  if kind == "mask":
    return vocab.mask_id, "mask"
  return token, "keep"


def mask_instance(pair, config, vocab, rng):
  """(Instance, errors cut) for one segment pair."""
  correct, wrong, words, segment_ids = layout(pair, vocab)
  inputs = list(wrong)
  p = config.max_predictions_per_seq
  errors = [i for i in range(len(correct)) if wrong[i] != correct[i]]
  cut = 0
  if len(errors) > p:
    kept = set(rng.sample(errors, p))
    for i in errors:
      if i not in kept:
        inputs[i] = correct[i]
        cut += 1
    errors = sorted(kept)
  masked = {i: "error" for i in errors}
  room = num_to_predict(len(correct), config) - len(errors)
  # Weighted sampling without replacement: the largest random() ** (1 / weight).
  candidates = units(correct, wrong, words, config)
  keys = []
  for unit in candidates:
    weight = max(vocab.mask_weight[correct[i]] for i in unit) + WEIGHT_FLOOR
    keys.append(rng.random() ** (1.0 / weight))
  for k in sorted(range(len(candidates)), key=lambda k: -keys[k]):
    if len(candidates[k]) <= room:
      for i in candidates[k]:
        inputs[i], masked[i] = replace(correct[i], config, vocab, rng)
      room -= len(candidates[k])
  positions = sorted(masked)
  instance = Instance(inputs, segment_ids, positions, [correct[i] for i in positions],
                      pair.is_random_next, [masked[i] for i in positions])
  return instance, cut


def check_instance(instance, pair, config, vocab):
  """Raises AssertionError naming the first rule ``instance`` breaks for ``pair``;
  returns the number of errors that were cut."""
  correct, wrong, words, segment_ids = layout(pair, vocab)
  p = config.max_predictions_per_seq
  masked = dict(zip(instance.masked_lm_positions, zip(instance.masked_lm_ids, instance.kinds)))
  # The segments.
  assert instance.segment_ids == segment_ids, "segment ids"
  assert instance.is_random_next == pair.is_random_next, "is_random_next"
  assert len(instance.input_ids) == len(correct), "length"
  assert instance.masked_lm_positions == sorted(masked), "positions ascending, once each"
  assert len(masked) <= p, "more than max_predictions_per_seq"
  for i, (label, _) in masked.items():
    assert label == correct[i], f"label at {i}"
  # Errors: all predicted with the wrong token as input, or, beyond p, put right.
  errors = [i for i in range(len(correct)) if wrong[i] != correct[i]]
  kept = [i for i, (_, kind) in masked.items() if kind == "error"]
  assert set(kept) <= set(errors), "an error kind where there is no error"
  assert len(kept) == min(len(errors), p), "errors predicted"
  for i in kept:
    assert instance.input_ids[i] == wrong[i], f"error input at {i}"
  for i in range(len(correct)):
    if i not in masked:
      assert instance.input_ids[i] == correct[i], f"unmasked input at {i}"
  # Extra positions: eligible units, whole, within the room, and greedy to the end.
  extra = {i for i, (_, kind) in masked.items() if kind != "error"}
  room = num_to_predict(len(correct), config) - len(kept)
  assert len(extra) <= max(0, room), "over the budget"
  left = room - len(extra)
  all_units = units(correct, wrong, words, config)
  assert extra <= {i for unit in all_units for i in unit}, "an extra position not eligible"
  for unit in all_units:
    chosen = extra.intersection(unit)
    assert not chosen or chosen == set(unit), f"word {unit} masked in part"
    assert chosen or len(unit) > left, f"unit {unit} fits the room left ({left}) but is unmasked"
  # What each extra position's input became.
  rest = sum(config.proportions[k] for k in ("random", "keep", "mask"))
  for i in extra:
    token, kind, got = correct[i], masked[i][1], instance.input_ids[i]
    has_candidates = any(getattr(vocab, k).get(token) for k in CONFUSION_KINDS)
    if kind in CONFUSION_KINDS:
      assert got in getattr(vocab, kind).get(token, ()), f"{kind} input at {i}"
    elif kind == "random":
      assert got in set(vocab.random_ids), f"random input at {i}"
      assert config.proportions["random"] > 0 or (rest == 0 and not has_candidates), \
          f"random at {i} with random proportion 0"
    elif kind == "mask":
      assert got == vocab.mask_id and config.proportions["mask"] > 0, f"mask input at {i}"
    else:
      assert kind == "keep", f"kind {kind!r} at {i}"
      assert got == token and config.proportions["keep"] > 0, f"keep input at {i}"
  return len(errors) - len(kept)
