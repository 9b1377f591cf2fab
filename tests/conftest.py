"""Fixtures shared by several test files; plain helpers are in tests/helpers.py.

A module builds ``data`` once, the session ``model_dir`` (the slow one: a trained
model), and ``trained`` is fresh for every test.
The heavy imports happen inside the fixtures, so that collecting a test file
that uses none of them loads no TensorFlow.
"""

import json
import random

import numpy as np
import pytest

from tests.helpers import CONFUSE, TEXT, TRAINED_CONFIG, WORDS, corrupt, sentence


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """Tiny records, vocab and BERT config shared by the tests."""
  from csc_pretrain.bert.tokenization import build_vocab
  from csc_pretrain.create_tf_record import build as record_build, instances
  d = tmp_path_factory.mktemp("pretrain")
  vocab = build_vocab([TEXT])
  (d / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
  sentences = [s + "。" for s in TEXT.split("。") if s]
  wrong = [s.replace("在", "再").replace("气", "汽") for s in sentences]
  docs = "\n\n".join("\n".join(sentences[i:] + sentences[:i]) for i in range(len(sentences)))
  wdocs = "\n\n".join("\n".join(wrong[i:] + wrong[:i]) for i in range(len(sentences)))
  (d / "c.txt").write_text(docs + "\n", encoding="utf-8")
  (d / "w.txt").write_text(wdocs + "\n", encoding="utf-8")
  record_build.build(str(d / "c.txt"), str(d / "train.tfrecord"), str(d / "vocab.txt"),
                     wrong_input_file=str(d / "w.txt"),
                     config=instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=5),
                     dupe_factor=4, num_workers=1, progress_bar=False)
  config = {"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
  (d / "bert_config.json").write_text(json.dumps(config))
  return d


@pytest.fixture
def trained(tmp_path):
  """A training checkpoint with slots (random values), bert_config.json and vocab.txt beside it."""
  from csc_pretrain.bert import checkpoint, modeling
  config = modeling.BertConfig(**TRAINED_CONFIG)
  model = modeling.BertPretrainer(config, seed=3)
  rng = np.random.default_rng(0)
  tensors = {n: v.numpy() for n, v in model.variables_by_name.items()}
  tensors["cls/predictions/output_bias"] = rng.normal(
      size=[TRAINED_CONFIG["vocab_size"]]).astype(np.float32)
  for n, v in list(tensors.items()):
    tensors[n + "/adam_m"] = rng.normal(size=v.shape).astype(np.float32)
    tensors[n + "/adam_v"] = rng.random(size=v.shape).astype(np.float32)
  tensors["global_step"] = np.int64(42)
  d = tmp_path / "run"
  prefix = checkpoint.save(str(d), 42, tensors)
  (d / "bert_config.json").write_text(json.dumps(TRAINED_CONFIG))
  (d / "vocab.txt").write_text("\n".join(["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] +
                                         ["[UNK]", "[CLS]", "[SEP]", "[MASK]"] +
                                         [chr(0x4E00 + i) for i in range(46)]) + "\n")
  return prefix, config, tensors


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
  """A tiny BERT trained here, once per session, on synthetic errors. Tests only read it.

  Trained well past the point where it fixes the test errors, so that its answers do
  not hang on float rounding or on the masking's random draws. (With 120 documents
  they did: the exact same math in another order of float operations flipped two
  corrections; with 240 both orders pass.)"""
  from csc_pretrain.bert.tokenization import build_vocab
  from csc_pretrain.create_tf_record import build as record_build, instances
  from csc_pretrain.run_pretraining import train
  d = tmp_path_factory.mktemp("corrector")
  rng = random.Random(0)
  docs = [[sentence(rng) for _ in range(5)] for _ in range(240)]
  # Some characters outside the vocab, as real text has: the model sees [UNK] in context.
  # A quarter of the sentences: with a tenth, the [UNK] cases of test_corrector_offsets
  # failed in 3 of 3 runs of the suite's first five files (training on CPU threads is
  # not bit-exact from run to run) and passed when run alone.
  docs = [[rng.choice("计算机年份") * rng.randint(1, 3) + s if rng.random() < 0.25 else s
           for s in doc] for doc in docs]
  wrong = [[corrupt(s, rng) if rng.random() < 0.7 else s for s in doc] for doc in docs]
  (d / "c.txt").write_text("\n\n".join("\n".join(x) for x in docs) + "\n", encoding="utf-8")
  (d / "w.txt").write_text("\n\n".join("\n".join(x) for x in wrong) + "\n", encoding="utf-8")
  vocab = build_vocab(["".join(WORDS) + "".join(CONFUSE.values()) + "。"])
  (d / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
  config = {"vocab_size": len(vocab), "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 128, "max_position_embeddings": 64,
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
  (d / "bert_config.json").write_text(json.dumps(config))
  record_build.build(str(d / "c.txt"), str(d / "train.tfrecord"), str(d / "vocab.txt"),
                     wrong_input_file=str(d / "w.txt"), dupe_factor=5, num_workers=1,
                     config=instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=5,
                                            single_segment=True), progress_bar=False)
  train.run(train.RunConfig(bert_config_file=str(d / "bert_config.json"),
                            input_file=str(d / "train.tfrecord"), output_dir=str(d / "model"),
                            max_seq_length=32, max_predictions_per_seq=5, train_batch_size=32,
                            learning_rate=2e-3, num_train_steps=800, num_warmup_steps=40,
                            save_checkpoints_steps=800, use_nsp=False, progress_bar=False))
  for name in ("bert_config.json", "vocab.txt"):
    (d / "model" / name).write_text((d / name).read_text(encoding="utf-8"), encoding="utf-8")
  cm = d / "cm"
  cm.mkdir()
  sets = {}
  for right, wrong_char in CONFUSE.items():
    sets.setdefault(wrong_char, []).append(right)
    sets.setdefault(right, []).append(wrong_char)
  lines = "".join(f"{c}\t{' '.join(v)}\n" for c, v in sorted(sets.items()))
  for name in ("confusion_sets.tsv", "confusion_phonetic.tsv", "confusion_visual.tsv"):
    (cm / name).write_text(lines, encoding="utf-8")
  heldout_rng = random.Random(99)
  held = []
  for _ in range(60):
    s = sentence(heldout_rng)
    held.append((corrupt(s, heldout_rng) if heldout_rng.random() < 0.75 else s, s))
  (d / "heldout.tsv").write_text("".join(f"{w}\t{c}\n" for w, c in held), encoding="utf-8")
  return d


