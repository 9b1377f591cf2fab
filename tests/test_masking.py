"""Stage 3's fast masking path against tests/reference_masking.py, on random documents."""

import collections
import random

import numpy as np
import pytest

from csc_pretrain.bert import tfrecord
from csc_pretrain.create_tf_record import instances
from tests import reference_masking as reference

CLS, SEP, MASK = 2, 3, 4
VOCAB_SIZE = 120


def random_vocabulary(rng):
  """Tokens 5.. are text; some have confusion candidates of some kinds, some none;
  a few weigh much more than the rest as extra positions."""
  text = list(range(5, VOCAB_SIZE))
  tables = {kind: {} for kind in instances.CONFUSION_KINDS}
  for token in text:
    for kind in instances.CONFUSION_KINDS:
      if rng.random() < 0.5:
        tables[kind][token] = rng.sample([t for t in text if t != token], rng.randint(1, 6))
  weights = [0.0] * 5 + [rng.choice((0.0, 0.01, 0.1, 0.5, 1.0)) for _ in text]
  return instances.Vocabulary(cls_id=CLS, sep_id=SEP, mask_id=MASK, size=VOCAB_SIZE,
                              random_ids=text, mask_weight=weights, **tables)


def random_documents(rng, whole_word_mask):
  """Documents of Sentences: random text, some errors, now and then a sentence
  full of them, words of 1-4 tokens."""
  documents = []
  for _ in range(rng.randint(1, 8)):
    document = []
    for _ in range(rng.randint(1, 7)):
      length = rng.randint(1, 30)
      correct = [rng.randrange(5, VOCAB_SIZE) for _ in range(length)]
      error_rate = 0.8 if rng.random() < 0.1 else 0.08
      wrong = [rng.randrange(5, VOCAB_SIZE) if rng.random() < error_rate else t for t in correct]
      words = []
      while whole_word_mask and len(words) < length:
        words += [len(set(words))] * rng.randint(1, 4)
      document.append(instances.Sentence(correct, wrong, words[:length]))
    documents.append(document)
  return documents


def random_config(rng):
  max_seq_length = rng.choice((8, 16, 32, 64))
  single_segment = rng.random() < 0.3
  specials = 2 if single_segment else 3
  proportions = {k: rng.choice((0.0, 0.0, 0.2, 1.0)) for k in instances.REPLACE_KINDS}
  if not sum(proportions.values()):
    proportions["mask"] = 1.0
  return instances.MaskingConfig(
      max_seq_length=max_seq_length,
      max_predictions_per_seq=rng.randint(1, min(12, max_seq_length - specials)),
      masked_lm_prob=rng.choice((0.05, 0.15, 0.4)), short_seq_prob=rng.choice((0.0, 0.1, 0.6)),
      single_segment=single_segment, whole_word_mask=rng.random() < 0.5,
      proportions=proportions)


def fast_instances(documents, config, vocab, seed, dupe_factor, batch_size, stats):
  tables = instances.MaskTables(config, vocab)
  batches = instances.masked_batches(documents, config, tables, random.Random(seed), dupe_factor,
                                     stats, batch_size)
  return [batch.instance(k) for batch in batches for k in range(len(batch))]


@pytest.mark.parametrize("first_seed", range(0, 400, 50))
def test_fast_path_keeps_the_reference_segments_and_rules(first_seed):
  """50 random corpora and configs a case: identical segments, every rule kept,
  the stats counted right."""
  for seed in range(first_seed, first_seed + 50):
    rng = random.Random(seed)
    vocab = random_vocabulary(rng)
    config = random_config(rng)
    documents = random_documents(rng, config.whole_word_mask)
    dupe_factor = rng.randint(1, 3)
    stats = collections.Counter()
    fast = fast_instances(documents, config, vocab, seed, dupe_factor, rng.randint(1, 40), stats)
    pairs = reference.create_segments(documents, config, random.Random(seed), dupe_factor)
    assert len(fast) == len(pairs) == stats["instances"], seed
    cut = 0
    for k, (instance, pair) in enumerate(zip(fast, pairs)):
      try:
        cut += reference.check_instance(instance, pair, config, vocab)
      except AssertionError as e:
        raise AssertionError(f"seed {seed}, instance {k}: {e}\n{config}") from None
    assert stats["errors_cut"] == cut, seed
    assert stats["tokens"] == sum(len(instance.input_ids) for instance in fast), seed
    kinds = collections.Counter("masked_" + kind for instance in fast for kind in instance.kinds)
    assert kinds == {k: v for k, v in stats.items() if k.startswith("masked_")}, seed


def _first_instance_with(predicate):
  """A fast-path instance, its pair, config and vocabulary, for which predicate holds."""
  for seed in range(1000):
    rng = random.Random(seed)
    vocab = random_vocabulary(rng)
    config = random_config(rng)
    documents = random_documents(rng, config.whole_word_mask)
    fast = fast_instances(documents, config, vocab, seed, 1, 16, collections.Counter())
    pairs = reference.create_segments(documents, config, random.Random(seed), 1)
    for instance, pair in zip(fast, pairs):
      if predicate(instance, pair, config):
        return instance, pair, config, vocab
  raise AssertionError("no such instance")


def test_check_instance_catches_each_broken_rule():
  """The checker fails an instance that breaks a rule, so the test above can fail."""
  instance, pair, config, vocab = _first_instance_with(
      lambda inst, pair, config: config.whole_word_mask and "error" in inst.kinds
      and any(k != "error" for k in inst.kinds))
  reference.check_instance(instance, pair, config, vocab)

  def broken(change):
    copy = instances.Instance(list(instance.input_ids), list(instance.segment_ids),
                              list(instance.masked_lm_positions), list(instance.masked_lm_ids),
                              instance.is_random_next, list(instance.kinds))
    change(copy)
    with pytest.raises(AssertionError):
      reference.check_instance(copy, pair, config, vocab)

  def drop(copy, kind):  # forget one masked position of this kind
    k = copy.kinds.index(kind)
    for field in (copy.masked_lm_positions, copy.masked_lm_ids, copy.kinds):
      del field[k]

  broken(lambda copy: drop(copy, "error"))
  broken(lambda copy: drop(copy, next(k for k in copy.kinds if k != "error")))
  broken(lambda copy: setattr(copy, "is_random_next", not copy.is_random_next))
  broken(lambda copy: copy.segment_ids.__setitem__(-1, 1 - copy.segment_ids[-1]))
  broken(lambda copy: copy.masked_lm_ids.__setitem__(0, MASK))
  broken(lambda copy: copy.kinds.__setitem__(copy.kinds.index("error"), "keep"))
  unmasked = next(i for i in range(1, len(instance.input_ids) - 1)
                  if i not in instance.masked_lm_positions)
  broken(lambda copy: copy.input_ids.__setitem__(unmasked, MASK))

  def mask_one_more(copy):  # over the budget, or a word in part
    k = sum(position < unmasked for position in copy.masked_lm_positions)
    copy.masked_lm_positions.insert(k, unmasked)
    copy.masked_lm_ids.insert(k, copy.input_ids[unmasked])
    copy.kinds.insert(k, "keep")

  broken(mask_one_more)


def test_reference_masking_keeps_its_own_rules():
  for seed in range(100):
    rng = random.Random(seed)
    vocab = random_vocabulary(rng)
    config = random_config(rng)
    documents = random_documents(rng, config.whole_word_mask)
    for pair in reference.create_segments(documents, config, random.Random(seed), 2):
      instance, cut = reference.mask_instance(pair, config, vocab, rng)
      assert reference.check_instance(instance, pair, config, vocab) == cut, seed


@pytest.mark.parametrize("whole_word_mask", [False, True])
def test_fast_and_reference_masking_draw_alike(whole_word_mask):
  """The same segments masked by both: the same shares of each replacement kind,
  of confusion candidates at rank 1, of heavy tokens among extra positions, and
  of masked positions a instance."""
  rng = random.Random(7)
  vocab = random_vocabulary(rng)
  config = instances.MaskingConfig(max_seq_length=64, max_predictions_per_seq=12,
                                   masked_lm_prob=0.15, whole_word_mask=whole_word_mask)
  documents = [d for _ in range(40) for d in random_documents(rng, whole_word_mask)]
  fast = fast_instances(documents, config, vocab, 11, 4, 256, collections.Counter())
  pairs = reference.create_segments(documents, config, random.Random(11), 4)
  slow = [reference.mask_instance(pair, config, vocab, rng)[0] for pair in pairs]

  def shares(masked):
    extra = [(inst, i, label, kind) for inst in masked
             for i, label, kind in zip(inst.masked_lm_positions, inst.masked_lm_ids, inst.kinds)
             if kind != "error"]
    kinds = collections.Counter(kind for _, _, _, kind in extra)
    confusion = [(inst.input_ids[i], getattr(vocab, kind)[label])
                 for inst, i, label, kind in extra if kind in instances.CONFUSION_KINDS]
    out = {kind: kinds[kind] / len(extra) for kind in instances.REPLACE_KINDS}
    out["rank 1"] = sum(got == candidates[0] for got, candidates in confusion) / len(confusion)
    out["heavy"] = sum(vocab.mask_weight[label] >= 0.5 for _, _, label, _ in extra) / len(extra)
    out["masked a row"] = sum(len(inst.kinds) for inst in masked) / len(masked) / 10
    return out, len(extra)

  (fast_shares, fast_count), (slow_shares, slow_count) = shares(fast), shares(slow)
  assert fast_count > 3000 and slow_count > 3000
  for name, share in slow_shares.items():
    assert abs(fast_shares[name] - share) < 0.03, (name, fast_shares, slow_shares)


def _records(documents, config, vocab, seed, batch_size):
  tables = instances.MaskTables(config, vocab)
  stats = collections.Counter()
  blob = b"".join(record for batch in instances.masked_batches(
      documents, config, tables, random.Random(seed), 3, stats, batch_size)
      for record in tfrecord.encode_batch(batch, config.max_seq_length,
                                          config.max_predictions_per_seq))
  return blob, stats


@pytest.mark.parametrize("whole_word_mask", [False, True])
def test_records_do_not_depend_on_the_batch_size(whole_word_mask):
  rng = random.Random(3)
  vocab = random_vocabulary(rng)
  config = instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=5,
                                   whole_word_mask=whole_word_mask)
  documents = [d for _ in range(10) for d in random_documents(rng, whole_word_mask)]
  blob, stats = _records(documents, config, vocab, 5, instances.BATCH_SIZE)
  assert stats["instances"] > 100
  for batch_size in (1, 7, 64):
    assert _records(documents, config, vocab, 5, batch_size) == (blob, stats), batch_size
  assert _records(documents, config, vocab, 6, instances.BATCH_SIZE)[0] != blob


def test_instance_uniforms_are_rows_of_one_stream():
  config = instances.MaskingConfig(max_seq_length=30, max_predictions_per_seq=7)
  whole = instances.instance_uniforms(123, 0, 10, config)
  assert np.array_equal(instances.instance_uniforms(123, 3, 4, config), whole[3:7])
  assert not np.array_equal(instances.instance_uniforms(124, 3, 4, config), whole[3:7])
