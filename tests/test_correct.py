"""Correction, metrics, tuning, evaluation CLI and the HTTP service."""

import json
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from csc_pretrain import pair_formats
from csc_pretrain.correct import metrics
from csc_pretrain.correct.corrector import Corrector, Thresholds
from csc_pretrain.io_utils import InputError
from tests.helpers import ROOT, request, serving

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
  evaluated = subprocess.run(base + ["csc_pretrain.correct", "evaluate", *common, "--thresholds",
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

@pytest.fixture(scope="module")
def server(model_dir):
  corrector = Corrector(str(model_dir / "model"), confusion_dir=str(model_dir / "cm"))
  with serving(corrector, max_chars=50) as url:
    yield url


def test_service_round_trips(server):
  status, body = request(server + "/correct?q=" + urllib.request.quote("雪习工作"))
  assert status == 200 and body["text"] == "雪习工作" and body["corrected"] == "学习工作"
  assert body["edits"][0]["from"] == "雪" and body["edits"][0]["to"] == "学"
  status, body = request(server + "/correct", ["医声患者", "明天复查"])
  assert status == 200 and [b["corrected"] for b in body] == ["医生患者", "明天复查"]
  assert request(server + "/health")[1]["status"] == "ok"


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
  got_status, got = request(server + path, body, raw)
  assert got_status == status and message in got["error"]
