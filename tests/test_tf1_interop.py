"""Our files with Google's original TF1 BERT code (tensorflow 1.15.5, bert-tensorflow 1.0.4).

These run when .venv-tf1 exists (bash scripts/setup_tf1_env.sh makes it from
pyenv's Python 3.7) and skip, saying so, when it does not.
"""

import json
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from csc_pretrain.bert import checkpoint, modeling
from csc_pretrain.run_pretraining import train
from csc_pretrain.strip_adam import strip
from tests.helpers import cfg, tensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TF1_PYTHON = os.path.join(ROOT, ".venv-tf1", "bin", "python")

pytestmark = pytest.mark.skipif(
    not os.path.exists(TF1_PYTHON),
    reason="no TF1 environment: run `bash scripts/setup_tf1_env.sh` (Python 3.7 + tensorflow 1.15.5 "
           "+ bert-tensorflow 1.0.4) to run the interop tests")

GOOGLE_LOGITS = r"""
import json, sys
import numpy as np
import tensorflow as tf
from bert import modeling, run_pretraining as rp
tf.compat.v1.disable_eager_execution()  # bert-tensorflow's tf.compat.v1 import may leave it on
config_path, ckpt, ids_json = sys.argv[1:4]
config = modeling.BertConfig.from_json_file(config_path)
ids = np.array(json.loads(ids_json), np.int32)
input_ids = tf.constant(ids)
model = modeling.BertModel(config=config, is_training=False, input_ids=input_ids,
                           input_mask=tf.ones_like(input_ids), token_type_ids=tf.zeros_like(input_ids),
                           use_one_hot_embeddings=False)
positions = tf.constant(np.tile(np.arange(ids.shape[1]), (ids.shape[0], 1)), tf.int32)
_, _, log_probs = rp.get_masked_lm_output(config, model.get_sequence_output(), model.get_embedding_table(),
                                          positions, tf.zeros_like(positions), tf.ones_like(positions, tf.float32))
rp.get_next_sentence_output(config, model.get_pooled_output(), tf.zeros([ids.shape[0]], tf.int32))
tvars = tf.trainable_variables()
assignment, initialized = modeling.get_assignment_map_from_checkpoint(tvars, ckpt)
tf.train.init_from_checkpoint(ckpt, assignment)
with tf.Session() as sess:
  sess.run(tf.global_variables_initializer())
  values = sess.run(log_probs)
print(json.dumps({"variables": len(tvars),
                  "missing": [v.name for v in tvars if v.name not in initialized],
                  "log_probs": values.tolist()}))
"""


def tf1(args, **kw):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
  return subprocess.run([TF1_PYTHON] + args, capture_output=True, text=True, env=env, cwd=ROOT, **kw)


@pytest.fixture(scope="module")
def google_run(data, tmp_path_factory):
  """Google's run_pretraining.py, a few steps on our TFRecords."""
  out = tmp_path_factory.mktemp("google_run")
  result = tf1(["-m", "bert.run_pretraining", f"--input_file={data / 'train.tfrecord'}",
                f"--output_dir={out}", f"--bert_config_file={data / 'bert_config.json'}",
                "--do_train=True", "--train_batch_size=8", "--max_seq_length=32",
                "--max_predictions_per_seq=5", "--num_train_steps=3", "--num_warmup_steps=1",
                "--learning_rate=1e-4", "--save_checkpoints_steps=3"], timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return out


def test_googles_run_pretraining_trains_on_our_records(google_run):
  prefix = tf.train.latest_checkpoint(str(google_run))
  assert prefix.endswith("model.ckpt-3")
  names = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  assert "bert/encoder/layer_0/attention/self/query/kernel/adam_m" in names
  assert int(tensors(prefix)["global_step"]) == 3


def test_our_strip_adam_strips_a_checkpoint_googles_code_wrote(google_run, data, tmp_path):
  prefix = tf.train.latest_checkpoint(str(google_run))
  result = strip.strip(prefix, str(tmp_path / "stripped" / "model.ckpt-3"))
  kept = set(tf.train.load_checkpoint(result["output"]).get_variable_to_shape_map())
  config = modeling.BertConfig.from_json_file(str(data / "bert_config.json"))
  assert kept == set(modeling.BertPretrainer(config).variables_by_name)
  assert strip.same_tensors(prefix, result["output"], sorted(kept))
  assert result["ratio"] < 0.4


def test_our_run_pretraining_starts_from_a_checkpoint_googles_code_wrote(google_run, data, tmp_path):
  prefix = tf.train.latest_checkpoint(str(google_run))
  train.run(cfg(data, tmp_path, init_checkpoint=prefix, num_train_steps=2))
  ours = tensors(str(tmp_path / "model.ckpt-0"))  # the starting point, as loaded
  google = tensors(prefix)
  for name in modeling.BertPretrainer(modeling.BertConfig.from_json_file(
      str(data / "bert_config.json"))).variables_by_name:
    np.testing.assert_array_equal(ours[name], google[name], err_msg=name)
  assert int(tensors(str(tmp_path / "model.ckpt-2"))["global_step"]) == 2


def test_googles_bert_model_loads_our_stripped_checkpoint_and_agrees(data, tmp_path):
  train.run(cfg(data, tmp_path / "ours", num_train_steps=3))
  stripped = strip.strip(str(tmp_path / "ours"))["output"]
  ids = np.random.default_rng(0).integers(104, 120, size=(2, 10)).tolist()
  result = tf1(["-c", GOOGLE_LOGITS, str(data / "bert_config.json"), stripped, json.dumps(ids)],
               timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out["missing"] == [] and out["variables"] > 0
  config = modeling.BertConfig.from_json_file(str(data / "bert_config.json"))
  model = modeling.BertPretrainer(config)
  checkpoint.restore(stripped, model.variables_by_name)
  ids = np.array(ids, np.int32)
  seq, _ = model.encode(ids, np.ones_like(ids), np.zeros_like(ids))
  ours = tf.nn.log_softmax(model.mlm_logits(seq, np.tile(np.arange(10), (2, 1)))).numpy()
  np.testing.assert_allclose(np.array(out["log_probs"]), ours.reshape(-1, config.vocab_size),
                             rtol=1e-4, atol=1e-4)


def test_mask_probability_pickle_loads_on_python_3_7(tmp_path):
  from csc_pretrain.create_data import mask_probability
  with open(tmp_path / "mask_probability.sav", "wb") as f:
    mask_probability.save({"再": 0.25, "在": 0.01}, f)
  result = tf1(["-c", "import pickle, sys; d = pickle.load(open(sys.argv[1], 'rb'));"
                "print(type(d).__name__, sorted(d.items()))", str(tmp_path / "mask_probability.sav")])
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == "dict [('再', 0.25), ('在', 0.01)]"
