"""Plain helpers shared by several test files (the fixtures are in conftest.py).

Import them as ``from tests.helpers import ...``; a subprocess started from the
repository root can do the same (test_run_pretraining's mirrored-strategy test).
"""

import contextlib
import json
import os
import threading
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --- run_pretraining: the tiny records of the ``data`` fixture ----------------------------------

TEXT = ("我在学校学习。今天天气很好。医生建议多喝水。他们喜欢北京天安门。这是第二个文档。"
        "患者三年前发现血压偏高。近一周头晕加重。建议低盐饮食并规律服药。")


def cfg(data, out, **kw):
  """A RunConfig for the ``data`` fixture's records, writing to ``out``; ``kw`` overrides."""
  from csc_pretrain.run_pretraining import train
  base = dict(bert_config_file=str(data / "bert_config.json"), input_file=str(data / "train.tfrecord"),
              output_dir=str(out), max_seq_length=32, max_predictions_per_seq=5, train_batch_size=8,
              eval_batch_size=8, learning_rate=1e-3, num_train_steps=6, num_warmup_steps=2,
              save_checkpoints_steps=3, log_every_steps=3, max_eval_steps=5, progress_bar=False)
  base.update(kw)
  return train.RunConfig(**base)


def tensors(prefix):
  """{name: array} of every variable in a checkpoint."""
  import tensorflow as tf
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


# --- strip_adam and export: the ``trained`` fixture's model -------------------------------------

TRAINED_CONFIG = {"vocab_size": 150, "hidden_size": 32, "num_hidden_layers": 2,
                  "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
                  "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}

# --- correction: the synthetic domain of the ``model_dir`` fixture ------------------------------

WORDS = ["学习", "工作", "医生", "患者", "检查", "治疗", "血压", "头痛", "发热", "咳嗽", "药物", "休息",
         "明天", "医院", "复查", "注意", "饮食", "睡眠"]
CONFUSE = {"学": "雪", "习": "系", "工": "公", "作": "做", "医": "衣", "生": "声", "患": "换",
           "者": "这", "检": "捡", "查": "茶", "治": "制", "疗": "了", "压": "鸭", "痛": "通",
           "热": "熟", "咳": "刻", "药": "要", "物": "务", "休": "体", "息": "习", "院": "远",
           "复": "夏", "意": "议", "饮": "引", "食": "十", "睡": "锤", "眠": "民", "明": "名"}


def sentence(rng):
  return "".join(rng.choice(WORDS) for _ in range(rng.randint(4, 7))) + "。"


def corrupt(text, rng, n=1):
  chars = list(text)
  positions = [i for i, c in enumerate(chars) if c in CONFUSE]
  for i in rng.sample(positions, n):
    chars[i] = CONFUSE[chars[i]]
  return "".join(chars)


# --- the HTTP service -------------------------------------------------------------------------

@contextlib.contextmanager
def serving(corrector, max_chars):
  """The HTTP service on a free loopback port, in a thread; yields its base URL."""
  from csc_pretrain.correct import serve
  httpd = serve.make_server(corrector, port=0, max_chars=max_chars, max_batch=4)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{httpd.server_port}"
  finally:
    httpd.shutdown()
    httpd.server_close()


def request(url, body=None, raw=None):
  """(status, JSON reply) of a GET, or of a POST of ``body`` as JSON or of ``raw`` bytes."""
  data_bytes = raw if raw is not None else (None if body is None else json.dumps(body).encode())
  req = urllib.request.Request(url, data=data_bytes, method="POST" if data_bytes is not None else "GET",
                               headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(req, timeout=30) as r:
      return r.status, json.loads(r.read().decode("utf-8"))
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read().decode("utf-8"))
