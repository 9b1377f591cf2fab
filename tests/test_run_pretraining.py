"""Stage 4: names, checkpoints, optimizer, training loop, resume, freezing, accumulation, strategies."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from csc_pretrain.io_utils import InputError
from csc_pretrain.bert import checkpoint, modeling
from csc_pretrain.run_pretraining import optimization, train
from tests.helpers import ROOT, cfg, tensors


# --- names and shapes ------------------------------------------------------------------------------

def google_names(c):
  """Google's checkpoint layout for a config, written out from its modeling.py."""
  h, i = c.hidden_size, c.intermediate_size
  out = {"bert/embeddings/word_embeddings": [c.vocab_size, h],
         "bert/embeddings/token_type_embeddings": [c.type_vocab_size, h],
         "bert/embeddings/position_embeddings": [c.max_position_embeddings, h],
         "bert/embeddings/LayerNorm/gamma": [h], "bert/embeddings/LayerNorm/beta": [h],
         "bert/pooler/dense/kernel": [h, h], "bert/pooler/dense/bias": [h],
         "cls/predictions/transform/dense/kernel": [h, h], "cls/predictions/transform/dense/bias": [h],
         "cls/predictions/transform/LayerNorm/gamma": [h], "cls/predictions/transform/LayerNorm/beta": [h],
         "cls/predictions/output_bias": [c.vocab_size],
         "cls/seq_relationship/output_weights": [2, h], "cls/seq_relationship/output_bias": [2]}
  for n in range(c.num_hidden_layers):
    p = f"bert/encoder/layer_{n}/"
    for name in ("query", "key", "value"):
      out[p + f"attention/self/{name}/kernel"] = [h, h]
      out[p + f"attention/self/{name}/bias"] = [h]
    out.update({p + "attention/output/dense/kernel": [h, h], p + "attention/output/dense/bias": [h],
                p + "attention/output/LayerNorm/gamma": [h], p + "attention/output/LayerNorm/beta": [h],
                p + "intermediate/dense/kernel": [h, i], p + "intermediate/dense/bias": [i],
                p + "output/dense/kernel": [i, h], p + "output/dense/bias": [h],
                p + "output/LayerNorm/gamma": [h], p + "output/LayerNorm/beta": [h]})
  return out


def test_variable_names_and_shapes_match_googles_layout():
  c = modeling.BertConfig.from_json_file(os.path.join(ROOT, "configs", "chinese_L-12_H-768_A-12.json"))
  assert c.vocab_size == 21128 and c.num_hidden_layers == 12
  small = dataclasses.replace(c, num_hidden_layers=2, vocab_size=100)
  model = modeling.BertPretrainer(small)
  got = {n: v.shape.as_list() for n, v in model.variables_by_name.items()}
  assert got == google_names(small)
  assert all(v.name.startswith(n) for n, v in model.variables_by_name.items())


def test_gelu_and_layer_norm_are_googles():
  x = tf.constant([-3.0, -0.5, 0.0, 0.7, 4.0])
  expect = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
  np.testing.assert_allclose(modeling.gelu(x), expect, rtol=1e-6, atol=1e-6)
  y = modeling.layer_norm(tf.constant([[1.0, 2.0, 3.0]]), tf.ones([3]), tf.zeros([3]))
  np.testing.assert_allclose(y, [[-1.2247448, 0.0, 1.2247448]], rtol=1e-5)


def test_dropout_drops_one_in_ten_keeps_the_mean_and_repeats_with_the_seed():
  x = tf.ones([64, 128, 128])
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = modeling.dropout(x, 0.1, training=True)
  kept = y.numpy() != 0
  scale = np.float32(65536 / (65536 - 6554))
  assert abs(kept.mean() - 0.9) < 2e-3 and abs(float(tf.reduce_mean(y)) - 1.0) < 3e-3
  np.testing.assert_array_equal(y.numpy()[kept], scale)  # the kept ones, scaled exactly
  np.testing.assert_array_equal(tape.gradient(y, x).numpy(), y.numpy())  # grad = mask * scale
  # Hashed masks behave as independent coin flips: near and far neighbours, and two
  # calls on the same tensor, are both kept as often as 0.9 * 0.9.
  flat, other = kept.reshape(-1), modeling.dropout(x, 0.1, training=True).numpy().reshape(-1) != 0
  for a, b in [(flat[:-1], flat[1:]), (flat[:-2], flat[2:]), (flat[:-4096], flat[4096:]),
               (flat, other)]:
    assert abs((a & b).mean() - 0.81) < 3e-3
  assert modeling.dropout(x, 0.1, training=False) is x and modeling.dropout(x, 0.0, True) is x
  odd = modeling.dropout(tf.ones([3, 5]), 0.5, training=True)
  assert odd.shape == (3, 5) and set(np.unique(odd.numpy())) <= {0.0, np.float32(65536 / 32768)}

  def masks():
    tf.random.set_seed(7)
    f = tf.function(lambda t: modeling.dropout(t, 0.1, training=True))
    return f(x).numpy(), f(x).numpy()
  first, second = masks()
  again = masks()
  np.testing.assert_array_equal(first, again[0])
  np.testing.assert_array_equal(second, again[1])
  assert not np.array_equal(first, second)  # each step draws a new mask


def test_bias_add_and_row_packing_have_tfs_values_and_gradients():
  x, bias = tf.random.normal([37, 5], seed=1), tf.random.normal([5], seed=2)
  dy = tf.random.normal([37, 5], seed=3)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x, bias])
    ours, tfs = modeling.bias_add(x, bias), tf.nn.bias_add(x, bias)
  np.testing.assert_array_equal(ours, tfs)
  for a, b in zip(tape.gradient(ours, [x, bias], dy), tape.gradient(tfs, [x, bias], dy)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
  # Rows 1, 3, 4 kept and padded to a multiple of 2 with row 0; rows 2 and 5 left out.
  keep = tf.constant([False, True, False, True, True, False])
  rows, position, pack, unpack = modeling.row_packing(keep, 2)
  assert rows.numpy().tolist() == [1, 3, 4, 0]
  assert tf.gather(position, rows).numpy().tolist() == [0, 1, 2, 3]
  full = tf.reshape(tf.range(12, dtype=tf.float32), [6, 2])
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(full)
    packed = pack(full)
    back = unpack(packed)
  np.testing.assert_array_equal(packed, tf.gather(full, [1, 3, 4, 0]))
  kept = tf.constant([[1.0], [1], [0], [1], [1], [0]])
  np.testing.assert_array_equal(back, full * kept)
  up = tf.reshape(tf.range(100, 112, dtype=tf.float32), [6, 2])  # gradients as TF's gathers give
  np.testing.assert_array_equal(tape.gradient(back, full, up), up * kept)
  np.testing.assert_array_equal(tape.gradient(packed, full, tf.ones([4, 2])), tf.ones([6, 2]) * kept)


def test_tied_embeddings_add_the_lookup_rows_into_the_decoder_gradient():
  table = tf.Variable(tf.random.normal([7, 3], seed=4))
  ids = tf.constant([2, 5, 2, 0])
  h = tf.random.normal([4, 3], seed=5)

  def loss(lookup, decoder):
    return tf.reduce_sum(tf.gather(lookup, ids) * h) + tf.reduce_sum(tf.sin(h @ tf.transpose(decoder)))

  with tf.GradientTape(persistent=True) as tape:
    ours, tfs = loss(*modeling.tie(table)), loss(table, table)
  assert ours.numpy() == tfs.numpy()
  np.testing.assert_allclose(tape.gradient(ours, table), tf.convert_to_tensor(tape.gradient(tfs, table)),
                             rtol=1e-6, atol=1e-6)
  # With the decoder unused, the lookup's rows alone reach the table through tie().
  with tf.GradientTape() as tape:
    lookup, _ = modeling.tie(table)
    only = tf.reduce_sum(tf.gather(lookup, ids) * h)
  np.testing.assert_allclose(tf.convert_to_tensor(tape.gradient(only, table)),
                             tf.math.unsorted_segment_sum(h, ids, 7), rtol=1e-6, atol=1e-6)


def test_keep_freed_memory_stops_large_tensors_faulting_their_pages_in_every_step():
  # A fresh interpreter: 48 MB blocks (over glibc's 32 MB mmap ceiling) allocated,
  # filled and freed ten times, page faults counted, before and after.
  code = """
import resource, numpy as np
from csc_pretrain.io_utils import keep_freed_memory
def faults():
  np.ones(12 << 20, np.float32)  # warm up
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  for _ in range(10):
    np.ones(12 << 20, np.float32)
  return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
default = faults()
assert keep_freed_memory()
print(default, faults())
"""
  out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       check=True).stdout.split()
  default, kept = int(out[0]), int(out[1])
  assert default >= 10 * 20  # fresh pages for every block (numpy asks for huge pages: fewer faults)
  assert kept <= default / 10


@pytest.mark.parametrize("buckets", [(1, 1), (5, 3), (128, 32)])
def test_the_last_layer_on_predicted_rows_and_real_tokens_alone_give_the_full_models_losses_and_gradients(
    buckets, monkeypatch):
  # Small buckets really drop padding rows (and keep a few as filler); 128 keeps all 36 here.
  monkeypatch.setattr(modeling, "ROW_BUCKET", buckets[0])
  monkeypatch.setattr(modeling, "PREDICTION_BUCKET", buckets[1])
  config = modeling.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=32, type_vocab_size=2)
  model = modeling.BertPretrainer(config, seed=3)
  rng = np.random.default_rng(0)
  ids = rng.integers(5, 50, size=(3, 12))
  mask = np.ones_like(ids)
  mask[1, 8:] = 0
  ids[1, 8:] = 0
  # Repeated and padding (0, weight 0) positions, as in Google's records, and one
  # prediction at a padded token (row 1, position 9), as a hand-made record may have.
  positions = np.array([[1, 4, 7, 0], [2, 2, 9, 0], [11, 3, 5, 9]])
  features = {"input_ids": tf.constant(ids), "input_mask": tf.constant(mask),
              "segment_ids": tf.constant((np.arange(12) >= 6).astype(np.int64)[None].repeat(3, 0)),
              "masked_lm_positions": tf.constant(positions),
              "masked_lm_ids": tf.constant(rng.integers(5, 50, size=(3, 4))),
              "masked_lm_weights": tf.constant([[1.0, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]]),
              "next_sentence_labels": tf.constant([[0], [1], [0]])}

  class Dense(modeling.BertPretrainer):  # the whole sequence through every layer, then gather
    def __call__(self, f, training=False, dtype=tf.float32, skip_padding=False):
      sequence, pooled = self.encode(f["input_ids"], f["input_mask"], f["segment_ids"], training, dtype)
      assert sequence.shape[1] == 12
      return self.mlm_logits(sequence, f["masked_lm_positions"], dtype), self.nsp_logits(pooled), None

  dense = Dense(config, seed=3)
  results = []
  for m, skip in ((model, False), (model, True), (dense, False)):
    with tf.GradientTape() as tape:
      s = modeling.pretraining_losses(m, features, skip_padding=skip)
      loss = s["mlm_loss_sum"] / s["mlm_weight_sum"] + s["nsp_loss_sum"] / s["examples"]
    grads = tape.gradient(loss, list(m.variables_by_name.values()))
    results.append(({k: float(v) for k, v in s.items()}, grads))
  full, full_grads = results[-1]
  for ours, our_grads in results[:-1]:
    assert ours.keys() == full.keys()
    for k in ours:
      np.testing.assert_allclose(ours[k], full[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for name, a, b in zip(model.variables_by_name, our_grads, full_grads):
      np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), rtol=1e-4,
                                 atol=1e-6, err_msg=name)
    assert ours["mlm_loss_sum"] > 0 and ours["nsp_loss_sum"] > 0
  # The rows padded_rows keeps: the True ones first, in order, then filler up to the bucket.
  keep = tf.reshape(features["input_mask"], [-1]) > 0  # 32 of 36
  kept, position = modeling.padded_rows(keep, buckets[0])
  assert len(kept) == min(-(-32 // buckets[0]) * buckets[0], 36)
  assert list(kept.numpy()[:32]) == [i for i in range(36) if mask.reshape(-1)[i]]
  np.testing.assert_array_equal(tf.gather(position, kept), np.arange(len(kept)))
  # Without positions (inference), real tokens get the same outputs, padding zeros.
  sequence, pooled = model.encode(features["input_ids"], features["input_mask"],
                                  features["segment_ids"])
  packed, packed_pooled = model.encode(features["input_ids"], features["input_mask"],
                                       features["segment_ids"], skip_padding=True)
  real = mask[..., None] > 0
  np.testing.assert_allclose(np.where(real, packed, 0), np.where(real, sequence, 0), rtol=1e-5,
                             atol=1e-6)
  assert np.all(np.asarray(packed)[~real[..., 0]] == 0) or buckets[0] != 1
  np.testing.assert_allclose(packed_pooled, pooled, rtol=1e-5, atol=1e-6)
# --- optimizer ------------------------------------------------------------------------------------------

def test_adam_weight_decay_matches_the_formula_and_skips_layer_norm_and_bias():
  w = tf.Variable([1.0, -2.0])
  b = tf.Variable([0.5, 0.5])
  opt = optimization.AdamWeightDecay({"dense/kernel": w, "dense/bias": b})
  g = tf.constant([0.1, -0.3])
  opt.apply([(g, w), (g, b)], 0.01)
  m = 0.1 * g
  v = 0.001 * g * g
  step = m / (np.sqrt(v) + 1e-6)
  np.testing.assert_allclose(w, [1.0, -2.0] - 0.01 * (step + 0.01 * np.array([1.0, -2.0])), rtol=1e-6)
  np.testing.assert_allclose(b, [0.5, 0.5] - 0.01 * step, rtol=1e-6)
  assert sorted(opt.slots) == ["dense/bias/adam_m", "dense/bias/adam_v", "dense/kernel/adam_m",
                               "dense/kernel/adam_v"]


def test_the_clip_factor_is_googles_clip_by_global_norm_applied_inside_the_update():
  for grads in ([tf.constant([3.0, -4.0]), tf.constant([12.0])], [tf.constant([0.3, -0.4])]):
    clipped, norm = tf.clip_by_global_norm(grads, 1.0)
    our_norm, scale = train._clip_to_norm(grads, 1.0)
    assert float(our_norm) == pytest.approx(float(norm))
    w = tf.Variable(tf.zeros_like(grads[0]))
    opt = optimization.AdamWeightDecay({"dense/bias": w})
    opt.apply([(grads[0], w)], 0.01, scale)
    np.testing.assert_allclose(opt.slots["dense/bias/adam_m"], 0.1 * clipped[0], rtol=1e-6)
    np.testing.assert_allclose(opt.slots["dense/bias/adam_v"], 0.001 * clipped[0] ** 2, rtol=1e-6)


def test_the_in_place_update_equals_the_update_each_replica_applies_under_a_strategy():
  # Alone the optimizer updates the variables in place inside XLA; under a strategy
  # each replica assigns computed values. Both must take the same steps.
  rng = np.random.default_rng(0)
  start = {"dense/kernel": rng.normal(size=[3, 4]).astype(np.float32),
           "LayerNorm/beta": rng.normal(size=[4]).astype(np.float32)}
  grads = [[tf.constant(rng.normal(size=x.shape).astype(np.float32)) for x in start.values()]
           for _ in range(3)]

  def train(strategy):
    with strategy.scope():
      variables = {n: tf.Variable(x) for n, x in start.items()}
      opt = optimization.AdamWeightDecay(variables)

    @tf.function
    def step(g):
      strategy.run(lambda: opt.apply(zip(g, variables.values()), 0.01, 0.5))
    for g in grads:
      step(g)
    return {n: v.numpy() for n, v in {**variables, **opt.slots}.items()}

  alone = train(tf.distribute.get_strategy())
  mirrored = train(tf.distribute.MirroredStrategy(["/cpu:0"]))
  assert alone.keys() == mirrored.keys()
  for name in alone:
    np.testing.assert_allclose(alone[name], mirrored[name], rtol=1e-6, err_msg=name)
  assert not np.allclose(alone["dense/kernel"], start["dense/kernel"])


def test_learning_rate_warms_up_then_decays_linearly():
  lr = lambda s: float(optimization.learning_rate(s, 1e-4, 100, 10))
  assert lr(0) == 0 and lr(5) == pytest.approx(5e-5) and lr(10) == pytest.approx(9e-5)
  assert lr(55) == pytest.approx(4.5e-5) and lr(100) == 0


# --- checkpoints --------------------------------------------------------------------------------------------

def test_a_checkpoint_with_googles_names_loads_by_name(data, tmp_path):
  c = modeling.BertConfig.from_json_file(str(data / "bert_config.json"))
  source = modeling.BertPretrainer(c, seed=1)
  values = {n: v.numpy() + 0.5 for n, v in source.variables_by_name.items()}
  values["bert/encoder/layer_0/attention/self/query/kernel/adam_m"] = np.ones([32, 32], np.float32)
  values["global_step"] = np.int64(7)
  prefix = checkpoint.save(str(tmp_path), 7, values)
  model = modeling.BertPretrainer(c, seed=2)
  loaded = checkpoint.restore(prefix, model.variables_by_name)
  assert sorted(loaded) == sorted(model.variables_by_name)
  for n, v in model.variables_by_name.items():
    np.testing.assert_array_equal(v.numpy(), values[n])


def test_missing_and_misshaped_variables_are_listed_together(data, tmp_path):
  c = modeling.BertConfig.from_json_file(str(data / "bert_config.json"))
  model = modeling.BertPretrainer(c)
  values = {n: v.numpy() for n, v in model.variables_by_name.items()}
  del values["bert/pooler/dense/bias"]
  values["cls/predictions/output_bias"] = np.zeros([7], np.float32)
  prefix = checkpoint.save(str(tmp_path), 1, values)
  with pytest.raises(InputError) as e:
    checkpoint.restore(prefix, model.variables_by_name)
  message = str(e.value)
  assert "1 missing: bert/pooler/dense/bias" in message
  assert "cls/predictions/output_bias [7] (model wants [%d])" % c.vocab_size in message
  # A regex restricts what is loaded (warm start of part of the model).
  loaded = checkpoint.restore(prefix, model.variables_by_name, regex=r"^bert/encoder/")
  assert loaded and all(n.startswith("bert/encoder/") for n in loaded)


def test_saves_are_atomic_and_keep_the_newest(tmp_path):
  for step in range(1, 5):
    checkpoint.save(str(tmp_path), step, {"x": tf.constant([float(step)])}, keep_max=2)
  assert checkpoint.list_checkpoints(str(tmp_path)) == ["model.ckpt-3", "model.ckpt-4"]
  assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.ckpt-3.data-00000-of-00001",
                                          "model.ckpt-3.index", "model.ckpt-4.data-00000-of-00001",
                                          "model.ckpt-4.index"]
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-4")
  assert checkpoint.resolve(str(tmp_path)).endswith("model.ckpt-4")
  assert checkpoint.resolve(str(tmp_path / "model.ckpt-3.index")).endswith("model.ckpt-3")


# --- training ------------------------------------------------------------------------------------------------

def test_loss_falls_on_a_tiny_overfit_set_and_checkpoints_hold_slots(data, tmp_path):
  results = train.run(cfg(data, tmp_path, num_train_steps=60, num_warmup_steps=5,
                          save_checkpoints_steps=30, do_eval=True, learning_rate=3e-3))
  first = train.run(cfg(data, tmp_path / "zero", num_train_steps=1, do_eval=True))
  assert results["masked_lm_loss"] < first["masked_lm_loss"] - 1.5
  assert results["masked_lm_accuracy"] > first["masked_lm_accuracy"] + 0.2
  saved = tensors(str(tmp_path / "model.ckpt-60"))
  assert saved["global_step"] == 60
  assert "bert/embeddings/word_embeddings/adam_m" in saved
  assert "cls/predictions/output_bias/adam_v" in saved
  lines = (tmp_path / "eval_results.txt").read_text().splitlines()
  keys = [l.split(" = ")[0] for l in lines]
  assert keys == sorted(keys) and {"masked_lm_accuracy", "masked_lm_loss", "loss", "global_step",
                                   "next_sentence_accuracy", "error_position_accuracy"} <= set(keys)
  assert os.path.exists(tmp_path / "best" / "best.json")


def test_resume_continues_step_slots_and_data(data, tmp_path):
  straight = tmp_path / "straight"
  train.run(cfg(data, straight, num_train_steps=6))
  # A run of the same command that died after its step-3 checkpoint.
  resumed = tmp_path / "resumed"
  train.run(cfg(data, resumed, num_train_steps=6))
  for f in os.listdir(resumed):
    if f.startswith("model.ckpt-6"):
      os.remove(resumed / f)
  checkpoint.write_state(str(resumed), "model.ckpt-3", ["model.ckpt-3"])
  train.run(cfg(data, resumed, num_train_steps=6))  # the same command again
  a, b = tensors(str(straight / "model.ckpt-6")), tensors(str(resumed / "model.ckpt-6"))
  assert a.keys() == b.keys() and b["global_step"] == 6
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_frozen_variables_stay_bit_identical(data, tmp_path):
  init = tmp_path / "init"
  train.run(cfg(data, init, num_train_steps=1))
  run_cfg = cfg(data, tmp_path / "frozen", init_checkpoint=str(init), num_train_steps=3,
                trainable_regex=r"^(bert/embeddings/|cls/)")
  train.run(run_cfg)
  before, after = tensors(str(init / "model.ckpt-1")), tensors(str(tmp_path / "frozen" / "model.ckpt-3"))
  encoder = [n for n in before if n.startswith("bert/encoder/") and "adam" not in n]
  assert encoder and all(np.array_equal(before[n], after[n]) for n in encoder)
  assert not any(n.startswith("bert/encoder/") and "adam" in n for n in after)  # no slots
  assert not np.array_equal(before["bert/embeddings/word_embeddings"],
                            after["bert/embeddings/word_embeddings"])
  frozen_re = cfg(data, tmp_path / "f2", init_checkpoint=str(init), num_train_steps=2,
                  freeze_regex=r"LayerNorm")
  train.run(frozen_re)
  after2 = tensors(str(tmp_path / "f2" / "model.ckpt-2"))
  assert all(np.array_equal(before[n], after2[n]) for n in before if "LayerNorm" in n and "adam" not in n)


def test_gradient_accumulation_equals_a_larger_batch(data, tmp_path):
  train.run(cfg(data, tmp_path / "big", num_train_steps=3, train_batch_size=8))
  train.run(cfg(data, tmp_path / "accum", num_train_steps=3, train_batch_size=8,
                gradient_accumulation_steps=4))
  a, b = tensors(str(tmp_path / "big" / "model.ckpt-3")), tensors(str(tmp_path / "accum" / "model.ckpt-3"))
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_mixed_precision_and_xla_train(data, tmp_path):
  for kw in (dict(mixed_precision="bf16"), dict(mixed_precision="fp16"), dict(jit_compile=True)):
    out = tmp_path / "_".join(f"{k}{v}" for k, v in kw.items())
    results = train.run(cfg(data, out, num_train_steps=3, do_eval=True, **kw))
    assert np.isfinite(results["masked_lm_loss"]), kw
    assert tensors(str(out / "model.ckpt-3"))["global_step"] == 3


def test_early_stopping(data, tmp_path):
  run_cfg = cfg(data, tmp_path, num_train_steps=50, do_eval=True, eval_every_steps=1,
                save_checkpoints_steps=100, learning_rate=0.0, num_warmup_steps=0,
                early_stopping_metric="masked_lm_loss", early_stopping_patience=2,
                early_stopping_min_steps=3)
  train.run(run_cfg)
  step = int(tensors(tf.train.latest_checkpoint(str(tmp_path)))["global_step"])
  assert 3 <= step < 50  # a learning rate of 0 never improves the loss


def test_mirrored_strategy_on_two_logical_cpus_equals_one_device(data, tmp_path):
  train.run(cfg(data, tmp_path / "one", num_train_steps=3))
  code = ("import sys, logging; sys.path.insert(0, %r); logging.basicConfig(level=logging.INFO)\n"
          "from tests.helpers import cfg\n"
          "from csc_pretrain.run_pretraining import train\n"
          "import pathlib\n"
          "train.run(cfg(pathlib.Path(%r), pathlib.Path(%r), num_train_steps=3,"
          " distribution_strategy='mirrored', num_cpu_devices=2))\n") % (ROOT, str(data), str(tmp_path / "two"))
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "MirroredStrategy with 2 replicas" in result.stderr
  a, b = tensors(str(tmp_path / "one" / "model.ckpt-3")), tensors(str(tmp_path / "two" / "model.ckpt-3"))
  for name in a:
    np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-6, err_msg=name)


# --- bad input ------------------------------------------------------------------------------------------------

def test_records_that_do_not_fit_the_flags(data, tmp_path):
  with pytest.raises(InputError, match=r"train.tfrecord.stats.json: the records have "
                                       r"max_seq_length 32 but --max_seq_length is 64"):
    train.run(cfg(data, tmp_path, max_seq_length=64))
  # Without the stats file, the records themselves are checked against the flags.
  shutil.copy(data / "train.tfrecord", tmp_path / "bare.tfrecord")
  with pytest.raises(InputError, match=r"bare.tfrecord:1: record 1 has input_ids of length 32 but "
                                       r"--max_seq_length is 64"):
    train.run(cfg(data, tmp_path, input_file=str(tmp_path / "bare.tfrecord"), max_seq_length=64))
  small = json.loads((data / "bert_config.json").read_text())
  small["vocab_size"] = 120
  (tmp_path / "small.json").write_text(json.dumps(small))
  with pytest.raises(InputError, match=r">= vocab_size 120"):
    train.run(cfg(data, tmp_path, bert_config_file=str(tmp_path / "small.json")))
  with pytest.raises(InputError, match=r"tokens but vocab_size 120"):
    train.run(cfg(data, tmp_path, bert_config_file=str(tmp_path / "small.json"),
                  vocab_file=str(data / "vocab.txt")))
  assert not os.path.exists(tmp_path / "checkpoint")


def test_unreadable_checkpoint_and_bad_config(data, tmp_path):
  (tmp_path / "junk.index").write_bytes(b"not a checkpoint")
  with pytest.raises(InputError, match="unreadable checkpoint"):
    train.run(cfg(data, tmp_path / "o", init_checkpoint=str(tmp_path / "junk")))
  with pytest.raises(InputError, match="not a checkpoint"):
    train.run(cfg(data, tmp_path / "o", init_checkpoint=str(tmp_path / "nothing")))
  (tmp_path / "bad.json").write_text("{\n  \"hidden_size\": 32,\n}")
  with pytest.raises(InputError, match=r"bad.json:3: not JSON"):
    train.run(cfg(data, tmp_path / "o", bert_config_file=str(tmp_path / "bad.json")))


def test_cli_with_yaml_config_and_flag_override(data, tmp_path):
  yaml_path = tmp_path / "run.yaml"
  yaml_path.write_text(
      f"bert_config_file: {data / 'bert_config.json'}\ninput_file: {data / 'train.tfrecord'}\n"
      f"output_dir: {tmp_path / 'out'}\ndo_train: true\nmax_seq_length: 32\n"
      "max_predictions_per_seq: 5\ntrain_batch_size: 8\nnum_train_steps: 100\n"
      "save_checkpoints_steps: 2\nprogress_bar: false\n")
  result = subprocess.run([sys.executable, "run_pretraining.py", "--config", str(yaml_path),
                           "--num_train_steps", "2"], capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-2000:]
  assert tensors(str(tmp_path / "out" / "model.ckpt-2"))["global_step"] == 2
  yaml_path.write_text(yaml_path.read_text() + "no_such_key: 1\n")
  result = subprocess.run([sys.executable, "run_pretraining.py", "--config", str(yaml_path)],
                          capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2
  assert f"{yaml_path}:11: unknown key 'no_such_key'" in result.stderr


def test_lengths_come_from_the_records_stats_and_a_contradicting_flag_is_refused(data, tmp_path):
  from csc_pretrain.bert import tfrecord
  records = [str(data / "train.tfrecord")]
  given = {"max_seq_length": None, "max_predictions_per_seq": None}
  assert tfrecord.resolve_lengths(records, given) == {"max_seq_length": 32,
                                                      "max_predictions_per_seq": 5}
  # Without flags, training reads the lengths the records were made with.
  train.run(cfg(data, tmp_path / "o", max_seq_length=None, max_predictions_per_seq=None,
                num_train_steps=1, do_eval=False))
  assert (tmp_path / "o" / "model.ckpt-1.index").exists()
  with pytest.raises(InputError, match=r"train\.tfrecord\.stats\.json: the records have "
                                       r"max_predictions_per_seq 5 but --max_predictions_per_seq is 6"):
    train.run(cfg(data, tmp_path / "o2", max_predictions_per_seq=6))
  assert not (tmp_path / "o2").exists()
  # Records without a stats.json (made by Google's script) keep Google's defaults.
  bare = tmp_path / "bare.tfrecord"
  bare.write_bytes(b"")
  assert tfrecord.resolve_lengths([str(bare)], given) == tfrecord.DEFAULT_LENGTHS
