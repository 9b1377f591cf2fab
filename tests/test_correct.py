"""Correction, metrics, tuning, evaluation CLI and the HTTP service."""

import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from csc_pretrain import pair_formats
from csc_pretrain.correct import metrics
from csc_pretrain.correct.corrector import Corrector, Thresholds
from csc_pretrain.create_tf_record import build as record_build, instances as I
from csc_pretrain.create_tf_record.tokenization import build_vocab
from csc_pretrain.io_utils import InputError
from csc_pretrain.run_pretraining import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  """A tiny BERT trained here, in about a minute, on synthetic errors."""
  d = tmp_path_factory.mktemp("corrector")
  rng = random.Random(0)
  docs = [[sentence(rng) for _ in range(5)] for _ in range(120)]
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
                     config=I.MaskingConfig(max_seq_length=32, max_predictions_per_seq=5,
                                            single_segment=True), progress_bar=False)
  train.run(train.RunConfig(bert_config_file=str(d / "bert_config.json"),
                            input_file=str(d / "train.tfrecord"), output_dir=str(d / "model"),
                            max_seq_length=32, max_predictions_per_seq=5, train_batch_size=32,
                            learning_rate=2e-3, num_train_steps=400, num_warmup_steps=40,
                            save_checkpoints_steps=400, use_nsp=False, progress_bar=False))
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


# --- metrics on hand-made cases ---------------------------------------------------------------

CASES = [
    ("我再家", "我在家", "我在家"),   # erroneous, fixed exactly                  -> TP
    ("他在家", "他在家", "他再家"),   # correct, changed                          -> FP (both conventions)
    ("天汽好", "天气好", "天器好"),   # erroneous, right position, wrong char     -> det TP, cor miss
    ("医生建意", "医生建议", "医声建意"),  # erroneous, wrong position changed    -> miss both
    ("你好吗", "你好吗", "你好吗"),   # correct, untouched                        -> TN
    ("号码", "好吗", "号码"),         # erroneous, untouched                      -> miss
]


def test_sentence_metrics_under_both_conventions():
  m = metrics.evaluate([(w, c, p) for w, c, p in CASES])
  assert m["erroneous_sentences"] == 4 and m["changed_sentences"] == 4
  # strict: every changed sentence is a predicted positive.
  assert m["strict_detection"] == pytest.approx({"precision": 2 / 4, "recall": 2 / 4, "f1": 0.5})
  assert m["strict_correction"]["precision"] == pytest.approx(1 / 4)
  assert m["strict_correction"]["recall"] == pytest.approx(1 / 4)
  # SIGHAN tool: only changes on correct sentences are false positives (1 here).
  assert m["sighan_detection"]["precision"] == pytest.approx(2 / 3)
  assert m["sighan_detection"]["recall"] == pytest.approx(2 / 4)
  assert m["sighan_correction"]["precision"] == pytest.approx(1 / 2)
  assert m["sighan_correction"]["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
  assert m["sighan_correction"]["false_positive_rate"] == pytest.approx(1 / 2)
  assert m["sighan_correction"]["accuracy"] == pytest.approx(2 / 6)
  # characters: 4 predicted edits, 5 gold edits; positions right 2, characters right 1.
  assert m["char_detection"] == pytest.approx({"precision": 2 / 4, "recall": 2 / 5, "f1": 2 * 0.5 * 0.4 / 0.9})
  assert m["char_correction"]["precision"] == pytest.approx(1 / 4)
  assert m["sentence_accuracy"] == pytest.approx(2 / 6)


def test_perfect_and_silent_systems():
  pairs = [("我再家", "我在家"), ("你好", "你好")]
  perfect = metrics.evaluate([(w, c, c) for w, c in pairs])
  silent = metrics.evaluate([(w, c, w) for w, c in pairs])
  assert perfect["strict_correction"]["f1"] == 1.0 and perfect["sighan_correction"]["f1"] == 1.0
  assert silent["strict_correction"]["f1"] == 0.0 and silent["sighan_correction"]["recall"] == 0.0


def test_reading_test_files(tmp_path):
  (tmp_path / "a.tsv").write_text("我再家\t我在家\nid7\t天汽\t天气\n", encoding="utf-8")
  assert pair_formats.read_triples(str(tmp_path / "a.tsv")) == [("1", "我再家", "我在家"), ("id7", "天汽", "天气")]
  (tmp_path / "bad.tsv").write_text("我再家\t我在\n", encoding="utf-8")
  with pytest.raises(InputError, match=r"bad.tsv:1: wrong and correct differ in length"):
    pair_formats.read_triples(str(tmp_path / "bad.tsv"))
  (tmp_path / "in.txt").write_text("(pid=A1)\t我再家里\n(pid=A2)\t你好\n", encoding="utf-8")
  (tmp_path / "truth.txt").write_text("A1, 2, 在\nA2, 0\n", encoding="utf-8")
  assert pair_formats.read_triples(str(tmp_path / "in.txt"),
                                  truth_path=str(tmp_path / "truth.txt")) == [
      ("A1", "我再家里", "我在家里"), ("A2", "你好", "你好")]


# --- the corrector on a model trained in the test -------------------------------------------------

def test_corrector_fixes_a_clear_majority_of_heldout_errors(model_dir):
  corrector = Corrector(str(model_dir / "model"), confusion_dir=str(model_dir / "cm"),
                        thresholds=Thresholds(min_prob=0.3, margin=0.1))
  triples = pair_formats.read_triples(str(model_dir / "heldout.tsv"))
  results = corrector.correct([w for _, w, _ in triples])
  fixed = sum(r["corrected"] == c for r, (_, w, c) in zip(results, triples) if w != c)
  errors = sum(w != c for _, w, c in triples)
  assert errors >= 30 and fixed / errors > 0.7, (fixed, errors)
  untouched = sum(r["corrected"] == w for r, (_, w, c) in zip(results, triples) if w == c)
  assert untouched / sum(w == c for _, w, c in triples) > 0.8
  edit = next(r for r in results if r["edits"])["edits"][0]
  assert set(edit) == {"pos", "from", "to", "prob"} and 0 < edit["prob"] <= 1


def test_confusion_sets_filter_and_long_texts(model_dir):
  corrector = Corrector(str(model_dir / "model"), confusion_dir=str(model_dir / "cm"))
  assert corrector.allowed("雪", "学") and not corrector.allowed("雪", "天")
  # 240 characters: corrected in windows. (Not 学习: this tiny model also takes 习 for
  # a slip of 息, with a margin that depends on the machine's arithmetic.)
  long_text = "衣生患者检查治疗工作明天" * 20
  result = corrector.correct([long_text])[0]
  assert len(result["corrected"]) == len(long_text)
  assert result["corrected"].startswith("医生患者")
  assert result["corrected"].count("医生") >= 15  # fixed in every window, not just the first


def test_tune_and_evaluate_cli(model_dir, tmp_path):
  base = [sys.executable, "-m"]
  common = ["--checkpoint", str(model_dir / "model"), "--confusion_dir", str(model_dir / "cm")]
  tuned = subprocess.run(base + ["csc_pretrain.correct", "tune", *common, "--dev_file",
                                 str(model_dir / "heldout.tsv"), "--output", str(tmp_path / "th.json")],
                         capture_output=True, text=True, cwd=ROOT)
  assert tuned.returncode == 0, tuned.stderr[-2000:]
  th = json.loads((tmp_path / "th.json").read_text())
  assert set(th) == {"min_prob", "margin", "top_k"}
  evaluated = subprocess.run(base + ["csc_pretrain.evaluate", *common, "--thresholds",
                                     str(tmp_path / "th.json"), "--test_file",
                                     str(model_dir / "heldout.tsv"), "--baseline_checkpoint",
                                     str(model_dir / "model")],
                             capture_output=True, text=True, cwd=ROOT)
  assert evaluated.returncode == 0, evaluated.stderr[-2000:]
  lines = evaluated.stdout.strip().splitlines()
  assert any("strict" in l for l in lines) and any("SIGHAN tool" in l for l in lines)
  summary = json.loads(lines[-1])
  assert summary["pretrained"]["strict_correction"]["f1"] > 0.6
  assert summary["delta_f1"]["strict_correction"] == 0.0  # same checkpoint twice
  single = subprocess.run(base + ["csc_pretrain.correct", *common, "雪习工作"], capture_output=True,
                          text=True, cwd=ROOT)
  assert json.loads(single.stdout)["corrected"] == "学习工作"


# --- the HTTP service ---------------------------------------------------------------------------------

@contextlib.contextmanager
def serving(corrector, max_chars):
  """The HTTP service on a free loopback port, in a thread; yields its base URL."""
  from csc_pretrain import serve
  httpd = serve.make_server(corrector, port=0, max_chars=max_chars, max_batch=4)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{httpd.server_port}"
  finally:
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(model_dir):
  corrector = Corrector(str(model_dir / "model"), confusion_dir=str(model_dir / "cm"))
  with serving(corrector, max_chars=50) as url:
    yield url


def _request(url, body=None, raw=None):
  data_bytes = raw if raw is not None else (None if body is None else json.dumps(body).encode())
  req = urllib.request.Request(url, data=data_bytes, method="POST" if data_bytes is not None else "GET",
                               headers={"Content-Type": "application/json"})
  try:
    with urllib.request.urlopen(req, timeout=30) as r:
      return r.status, json.loads(r.read().decode("utf-8"))
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read().decode("utf-8"))


def test_service_round_trips(server):
  status, body = _request(server + "/correct?q=" + urllib.request.quote("雪习工作"))
  assert status == 200 and body["text"] == "雪习工作" and body["corrected"] == "学习工作"
  assert body["edits"][0]["from"] == "雪" and body["edits"][0]["to"] == "学"
  status, body = _request(server + "/correct", ["医声患者", "明天复查"])
  assert status == 200 and [b["corrected"] for b in body] == ["医生患者", "明天复查"]
  assert _request(server + "/health")[1]["status"] == "ok"


@pytest.mark.parametrize("path,body,raw,status,message", [
    ("/correct?q=", None, None, 400, "empty"),
    ("/correct", None, None, 400, "missing q"),
    ("/correct?q=" + urllib.parse.quote("字" * 51), None, None, 413, "at most 50"),
    ("/correct?q=%FF%FE", None, None, 400, "not UTF-8"),
    ("/nowhere", None, None, 404, "no such path"),
    ("/correct", None, b"[\"a\"", 400, "not JSON"),
    ("/correct", None, b"\xff\xfe", 400, "not UTF-8"),
    ("/correct", {"q": "x"}, None, 400, "JSON list of strings"),
    ("/correct", [], None, 400, "empty list"),
    ("/correct", ["a", "b", "c", "d", "e"], None, 413, "at most 4"),
])
def test_service_errors_are_json_4xx(server, path, body, raw, status, message):
  got_status, got = _request(server + path, body, raw)
  assert got_status == status and message in got["error"]
