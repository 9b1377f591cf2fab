"""Stage 5: strip_adam and exports (Hugging Face safetensors, SavedModel)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from csc_pretrain.export import hf, savedmodel
from csc_pretrain.io_utils import InputError
from csc_pretrain.bert import checkpoint, modeling
from csc_pretrain.strip_adam import strip
from tests.helpers import ROOT, TRAINED_CONFIG as CONFIG


def model_names():
  return list(modeling.BertPretrainer(modeling.BertConfig(**CONFIG)).variables_by_name)


# --- strip_adam ---------------------------------------------------------------------------------------

def test_slots_go_model_tensors_stay_identical_and_size_drops_to_a_third(trained):
  prefix, _, _ = trained
  result = strip.strip(prefix)
  out = result["output"]
  assert out == os.path.join(os.path.dirname(prefix), "stripped", "model.ckpt-42")
  names = set(tf.train.load_checkpoint(out).get_variable_to_shape_map())
  assert names == set(model_names())
  assert strip.same_tensors(prefix, out, model_names())
  assert 0.30 < result["ratio"] < 0.36
  assert os.path.exists(os.path.join(os.path.dirname(out), "bert_config.json"))
  assert os.path.exists(os.path.join(os.path.dirname(out), "vocab.txt"))
  assert tf.train.latest_checkpoint(os.path.dirname(out)) == out


def test_input_as_directory_keep_global_step_and_dtype(trained, tmp_path):
  prefix, _, _ = trained
  result = strip.strip(os.path.dirname(prefix), str(tmp_path / "o" / "bert_model.ckpt"),
                       keep_global_step=True, dtype="float16")
  reader = tf.train.load_checkpoint(result["output"])
  assert reader.get_tensor("global_step") == 42
  assert reader.get_variable_to_dtype_map()["bert/pooler/dense/kernel"] == tf.float16
  assert 0.15 < result["ratio"] < 0.19


def test_googles_tf1_optimizer_variables_are_removed(tmp_path):
  tensors = {"bert/pooler/dense/bias": np.ones([4], np.float32),
             "bert/pooler/dense/bias/adam_m": np.ones([4], np.float32),
             "AdamWeightDecayOptimizer/beta1_power": np.float32(0.9),
             "bert/pooler/dense/bias/Adam_1": np.ones([4], np.float32),
             "global_step": np.int64(1)}
  prefix = checkpoint.save(str(tmp_path), 1, tensors)
  result = strip.strip(prefix)
  assert list(tf.train.load_checkpoint(result["output"]).get_variable_to_shape_map()) == [
      "bert/pooler/dense/bias"]


def test_refuses_to_overwrite_and_in_place_needs_its_flag(trained):
  prefix, _, _ = trained
  strip.strip(prefix)
  with pytest.raises(InputError, match="refusing to overwrite"):
    strip.strip(prefix)
  with pytest.raises(InputError, match="pass --in_place"):
    strip.strip(prefix, prefix)
  before = os.path.getsize(prefix + ".data-00000-of-00001")
  strip.strip(prefix, in_place=True)
  assert os.path.getsize(prefix + ".data-00000-of-00001") < before / 2
  assert set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map()) == set(model_names())


def test_cli_and_bad_prefix(trained, tmp_path):
  prefix, _, _ = trained
  ok = subprocess.run([sys.executable, "strip_adam.py", prefix, "--output", str(tmp_path / "s" / "m.ckpt")],
                      capture_output=True, text=True, cwd=ROOT)
  assert ok.returncode == 0, ok.stderr
  assert "ratio 0.3" in ok.stdout and "wrote" in ok.stdout
  bad = subprocess.run([sys.executable, "strip_adam.py", str(tmp_path / "nope.ckpt")],
                       capture_output=True, text=True, cwd=ROOT)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'nope.ckpt'}: not a checkpoint: no .index file for this prefix"


# --- exports ----------------------------------------------------------------------------------------------

def _inputs():
  rng = np.random.default_rng(1)
  ids = rng.integers(104, CONFIG["vocab_size"], size=(2, 12)).astype(np.int32)
  mask = np.ones_like(ids)
  mask[1, 9:] = 0
  return ids, mask, np.zeros_like(ids)


def _our_logits(prefix, config):
  model = savedmodel.load_model(prefix, config)
  ids, mask, seg = _inputs()
  seq, _ = model.encode(ids, mask, seg)
  positions = np.broadcast_to(np.arange(ids.shape[1]), ids.shape)
  return model.mlm_logits(seq, positions).numpy()


def test_savedmodel_serving_signature_round_trip(trained, tmp_path):
  prefix, config, _ = trained
  model = savedmodel.load_model(prefix, config)
  savedmodel.export(model, str(tmp_path / "sm"), output="logits")
  loaded = tf.saved_model.load(str(tmp_path / "sm"))
  fn = loaded.signatures["serving_default"]
  assert sorted(fn.structured_input_signature[1]) == ["input_ids", "input_mask", "segment_ids"]
  ids, mask, seg = _inputs()
  out = fn(input_ids=tf.constant(ids), input_mask=tf.constant(mask), segment_ids=tf.constant(seg))
  np.testing.assert_allclose(out["logits"].numpy(), _our_logits(prefix, config), rtol=1e-5, atol=1e-5)
  savedmodel.export(model, str(tmp_path / "sm2"), output="topk", top_k=3)
  top = tf.saved_model.load(str(tmp_path / "sm2")).signatures["serving_default"](
      input_ids=tf.constant(ids), input_mask=tf.constant(mask), segment_ids=tf.constant(seg))
  assert top["top_ids"].shape == (2, 12, 3)
  np.testing.assert_array_equal(top["top_ids"][..., 0], np.argmax(out["logits"], -1))


def test_hf_names_cover_the_model():
  names = model_names()
  mapped = {n: hf.hf_name(n) for n in names}
  assert mapped["bert/encoder/layer_1/attention/self/query/kernel"] == \
      "bert.encoder.layer.1.attention.self.query.weight"
  assert mapped["cls/predictions/output_bias"] == "cls.predictions.bias"
  assert [n for n, m in mapped.items() if m is None] == [
      "bert/pooler/dense/kernel", "bert/pooler/dense/bias", "cls/seq_relationship/output_weights",
      "cls/seq_relationship/output_bias"]
  assert all(hf.hf_name(n, include_nsp=True) for n in names)


def test_hf_export_loads_in_transformers_with_equal_logits(trained, tmp_path):
  torch = pytest.importorskip("torch", reason="CPU torch is a test-only dependency (pip install torch)")
  transformers = pytest.importorskip("transformers", reason="transformers is a test-only dependency")
  prefix, config, _ = trained
  out = tmp_path / "hf"
  result = subprocess.run([sys.executable, "-m", "csc_pretrain.export", "--checkpoint", prefix,
                           "--format", "hf", "--output", str(out)], capture_output=True, text=True,
                          cwd=ROOT)
  assert result.returncode == 0, result.stderr
  model, info = transformers.BertForMaskedLM.from_pretrained(str(out), output_loading_info=True)
  assert not info["missing_keys"] and not info["unexpected_keys"], info
  model.eval()
  ids, mask, seg = _inputs()
  with torch.no_grad():
    logits = model(input_ids=torch.tensor(ids, dtype=torch.long),
                   attention_mask=torch.tensor(mask, dtype=torch.long),
                   token_type_ids=torch.tensor(seg, dtype=torch.long)).logits.numpy()
  ours = _our_logits(prefix, config)
  valid = mask.astype(bool)
  np.testing.assert_allclose(logits[valid], ours[valid], rtol=1e-4, atol=1e-4)
  tok = transformers.BertTokenizer(str(out / "vocab.txt"))
  assert tok.convert_tokens_to_ids(["[CLS]", "[MASK]"]) == [101, 103]


def test_export_refuses_a_non_empty_output(trained, tmp_path):
  prefix, _, _ = trained
  (tmp_path / "busy").mkdir()
  (tmp_path / "busy" / "x").write_text("mine")
  result = subprocess.run([sys.executable, "-m", "csc_pretrain.export", "--checkpoint", prefix,
                           "--format", "hf", "--output", str(tmp_path / "busy")],
                          capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2 and "refusing to overwrite" in result.stderr
  assert (tmp_path / "busy" / "x").read_text() == "mine"
