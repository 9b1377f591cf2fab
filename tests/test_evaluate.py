"""Evaluation: the skip rule, SIGHAN scorer parity, over-correction, breakdowns.

Most tests need no model: predictions are made by hand (or perturbed at random)
and fed to the same functions the CLI uses. The parity test also runs the
official sighan15csc.jar on them when ``java`` and ../shared/data are at hand,
and skips with a message otherwise. The last test runs the CLI on the tiny
model tests/test_correct.py trains.
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys

import pytest

from csc_pretrain.correct import evaluate
from csc_pretrain.correct import metrics
from csc_pretrain.io_utils import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGHAN15 = os.path.join(ROOT, "..", "shared", "data", "sighan", "sighan15_official")
JAR = os.path.join(SIGHAN15, "Tool", "sighan15csc.jar")
DRY_INPUT = os.path.join(SIGHAN15, "Dry", "SIGHAN15_CSC_DryInput.txt")
DRY_TRUTH = os.path.join(SIGHAN15, "Dry", "SIGHAN15_CSC_DryTruth.txt")
FILLERS = "的一是了不人我他有这"


def write(path, text):
  path.write_text(text, encoding="utf-8")
  return str(path)


# --- SIGHAN convention, hand-computed ---------------------------------------------------------

# The jar's worked example (Tool/SIGHAN15_Toy_*) rebuilt on made-up sentences: the same
# truth/result locations, so the same report: FPR 1/3; detection accuracy 6/10,
# P 4/5, R 4/7; correction accuracy 5/10, P 3/4, R 3/7.
TOY = [  # (wrong, correct, predicted)
    ("我们都很好", "我们都很好", "我们都很好"),                 # correct, untouched: TN
    ("他再学校学习的时后", "他在学校学习的时候", "他在学校学习得时候"),  # a wrong location: FN
    ("天气很好", "天气很好", "天气很好"),                       # TN
    ("我喜欢跳午", "我喜欢跳舞", "我喜欢跳舞"),                 # TP both
    ("他们再做生意", "他们在作生意", "他们在坐生意"),           # det TP, cor FN (a wrong character)
    ("我已经吃饭了马", "我已经吃饭了吗", "我已经吃饭了马"),      # missed: FN
    ("今天很冷", "今天很冷", "今天很泠"),                       # correct, changed: FP
    ("这事他的书", "这是他的书", "这是他的书"),                 # TP both
    ("你在哪理", "你在哪里", "你在哪理"),                       # missed: FN
    ("请你考虎考虑", "请你考虑考虑", "请你考虑考虑"),           # TP both
]


def test_sighan_convention_matches_the_jars_worked_example():
  m = metrics.evaluate(TOY)
  det, cor = m["sighan_detection"], m["sighan_correction"]
  assert det["false_positive_rate"] == pytest.approx(1 / 3)
  assert (det["tp"], det["fp"], det["fn"], det["tn"]) == (4, 1, 3, 2)
  assert det["accuracy"] == pytest.approx(0.6)
  assert det["precision"] == pytest.approx(0.8) and det["recall"] == pytest.approx(4 / 7)
  assert round(det["f1"], 4) == 0.6667
  assert (cor["tp"], cor["fp"], cor["fn"], cor["tn"]) == (3, 1, 4, 2)
  assert cor["accuracy"] == pytest.approx(0.5)
  assert cor["precision"] == pytest.approx(0.75) and cor["recall"] == pytest.approx(3 / 7)
  assert round(cor["f1"], 4) == 0.5455


def test_sighan_correction_follows_the_jars_value_containment():
  # sighan15csc.jar: same locations, and every predicted character among the gold
  # ones (not necessarily at its own location) is a correction TP.
  swapped = [("他再学小", "他在学校", "他校学在")]
  repeated = [("他再学小", "他在学校", "他在学在")]
  for triples in (swapped, repeated):
    m = metrics.evaluate(triples)
    assert m["sighan_correction"]["tp"] == 1 and m["strict_correction"]["f1"] == 0.0
  other = metrics.evaluate([("他再学小", "他在学校", "他在学晓")])
  assert other["sighan_correction"]["tp"] == 0 and other["sighan_detection"]["tp"] == 1


def test_result_lines_are_one_based_with_every_location():
  assert evaluate.result_line("A1", "我再家里", "我在家理") == "A1, 2, 在, 4, 理"
  assert evaluate.result_line("A2", "你好", "你好") == "A2, 0"


# --- the skip rule -----------------------------------------------------------------------------

def test_unequal_pairs_count_at_sentence_level_only():
  triples = [("我再家", "我在家", "我在家"),      # TP
             ("他很好", "他很好", "他很好"),      # TN
             ("我在家里", "我在家", "我在家里"),  # unequal, untouched: erroneous, missed
             ("天汽很好", "天气好", "天气很好")]  # unequal, changed: erroneous, missed, changed
  m = metrics.evaluate(triples)
  assert m["coverage"] == {"sentence_level": 4, "character_level": 2}
  assert m["erroneous_sentences"] == 3 and m["changed_sentences"] == 2
  assert m["strict_correction"]["precision"] == pytest.approx(1 / 2)
  assert m["strict_correction"]["recall"] == pytest.approx(1 / 3)
  assert m["sighan_correction"]["fp"] == 0 and m["sighan_correction"]["fn"] == 2
  assert m["char_correction"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0})
  # An unequal pair is a hit only when the output is the target exactly.
  assert metrics.evaluate([("我在家里", "我在家", "我在家")])["strict_correction"]["f1"] == 1.0


def test_bad_pairs_are_skipped_counted_and_scored_per_file(tmp_path):
  a = write(tmp_path / "a.tsv", "我再家\t我在家\n他很好\t他很好\n只有一列\n我在家里\t我在家\n"
            "\t空的\n")
  b = write(tmp_path / "b.jsonl", '{"source": "天汽好", "target": "天气好"}\n{"oops"\n')
  sets = [evaluate.load_test_set(a), evaluate.load_test_set(b)]
  assert [len(s.records) for s in sets] == [3, 1]
  assert sets[0].skipped == {"malformed": 1, "unequal_length": 1, "empty_sentence": 1}
  assert sets[1].skipped == {"malformed": 1}
  predictions = [["我在家", "他很好", "我在家里"], ["天汽好"]]
  summary = evaluate.score(sets, predictions, metrics.ErrorKinds())
  assert summary["skipped"] == {"empty_sentence": 1, "malformed": 2, "unequal_length": 1}
  assert summary["coverage"] == {"sentence_level": 4, "character_level": 3}
  assert set(summary["files"]) == {a, b}
  assert summary["files"][a]["strict_correction"]["precision"] == 1.0
  assert summary["files"][b]["strict_correction"]["recall"] == 0.0
  assert summary["per_kind"]["same_pinyin_same_tone"] == {
      "errors": 2, "detection_recall": 0.5, "correction_recall": 0.5}
  lines = evaluate.result_lines(sets, predictions)
  # Ids from several files clash ("1" twice): the file name tells them apart.
  assert lines == ["a.tsv:1, 2, 在", "a.tsv:2, 0", "a.tsv:4, 0", "b.jsonl:1, 0"]
  assert evaluate.result_lines(sets[:1], predictions[:1])[0] == "1, 2, 在"
  labels = write(tmp_path / "l.tsv", "1\t我再家\t我在家\n1\t他很好\t他很好\n")
  assert evaluate.result_lines([evaluate.load_test_set(labels)], [["我在家", "他很好"]]) == [
      "l.tsv:1, 2, 在", "l.tsv:2, 0"]  # repeated label column: file and line
  with pytest.raises(InputError, match=r"a.tsv:3: expected wrong<TAB>correct"):
    evaluate.load_test_set(a, strict=True)
  with pytest.raises(InputError, match=r"c.jsonl: no usable pairs \(skipped: \{'malformed': 1\}\)"):
    evaluate.load_test_set(write(tmp_path / "c.jsonl", '{"oops"\n'))


def test_per_kind_breakdown_and_look_alike_fallback():
  triples = [("我再家", "我在家", "我在家"),   # 再/在 zai4: same pinyin and tone
             ("妈上走", "马上走", "妈上走"),   # 妈/马 ma1/ma3: same pinyin, other tone
             ("因该", "应该", "应该"),         # yin/ying: similar pinyin
             ("末来", "未来", "末来"),         # mo/wei: look-alike (with the visual sets)
             ("天我", "天天", "天我")]         # other
  kinds = metrics.evaluate(triples, metrics.ErrorKinds({"未": ["末"]}))["per_kind"]
  assert set(kinds) == {"same_pinyin_same_tone", "same_pinyin_other_tone", "similar_pinyin",
                        "look_alike", "other"}
  assert kinds["similar_pinyin"]["correction_recall"] == 1.0
  assert kinds["look_alike"] == {"errors": 1, "detection_recall": 0.0, "correction_recall": 0.0}
  without = metrics.evaluate(triples, metrics.ErrorKinds())["per_kind"]
  assert "look_alike" not in without and without["other"]["errors"] == 2


def test_overcorrection():
  o = metrics.overcorrection(["我们在家里", "今天很好"], ["我们再家里", "今天很好"])
  assert o["changed_sentence_share"] == 0.5 and o["changed_characters"] == 1
  assert o["changed_per_1000_characters"] == pytest.approx(1000 / 9)


def test_clean_file_in_any_layout(tmp_path):
  lines = write(tmp_path / "c.txt", "我们在家里\n\n今天很好\n")
  spaced = write(tmp_path / "s.tsv", "我 再 家 里\t我 在 家 里\n")
  assert evaluate.load_clean(lines)[0] == ["我们在家里", "今天很好"]
  assert evaluate.load_clean(spaced)[0] == ["我在家里"]


# --- parity with the official scorer --------------------------------------------------------------

def _perturb(wrong, correct, rng):
  """A prediction of one of the kinds the jar must score: exact, silent, right
  position with a wrong character, a missed location, an extra change, a
  change on a correct sentence."""
  chars = list(wrong)
  gold = [i for i, (w, c) in enumerate(zip(wrong, correct)) if w != c]
  choice = rng.choice(["exact", "silent", "wrong_char", "partial", "extra", "exact"])
  if choice == "exact":
    return correct
  if choice == "silent":
    return wrong
  if choice in ("wrong_char", "partial") and gold:
    for i in gold:
      chars[i] = correct[i]
    i = rng.choice(gold)
    chars[i] = (next(f for f in FILLERS if f not in (wrong[i], correct[i]))
                if choice == "wrong_char" else wrong[i])
    return "".join(chars)
  chars = list(correct)
  i = rng.randrange(len(chars))
  chars[i] = next(f for f in FILLERS if f not in (wrong[i], correct[i]))
  return "".join(chars)


def _assert_figures_equal_the_jar(tmp_path, test_set, predicted, truth):
  """Scores the predictions with the official jar and with evaluate.score; every
  SIGHAN figure must agree to 4 decimals. Returns the jar's report."""
  result = write(tmp_path / "result.txt",
                 "".join(line + "\n" for line in evaluate.result_lines([test_set], [predicted])))
  subprocess.run(["java", "-jar", JAR, "-i", result, "-t", truth, "-o",
                  str(tmp_path / "report.txt")], check=True, capture_output=True, timeout=300)
  jar = _jar_report((tmp_path / "report.txt").read_text(encoding="utf-8"))
  ours = evaluate.score([test_set], [predicted])
  assert round(ours["sighan_detection"]["false_positive_rate"], 4) == jar["fpr"]
  for level in ("detection", "correction"):
    for key in ("accuracy", "precision", "recall", "f1"):
      assert round(ours[f"sighan_{level}"][key], 4) == jar[level][key], (level, key)
  return jar


def _jar_report(text):
  """{"fpr": .., "detection": {"accuracy": ..}, "correction": {..}} from the jar's report."""
  def number(s):
    return 0.0 if s == "NaN" else float(s)
  out = {"fpr": number(re.search(r"False Positive Rate = (\S+)", text).group(1))}
  for level in ("Detection", "Correction"):
    block = text.split(f"{level} Level", 1)[1]
    out[level.lower()] = {key: number(re.search(rf"{name} = (\S+)", block).group(1))
                          for key, name in (("accuracy", "Accuracy"), ("precision", "Precision"),
                                            ("recall", "Recall"), ("f1", "F1-Score"))}
  return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3, "perfect", "silent"])
def test_sighan_figures_equal_the_official_jar(tmp_path, seed):
  if not shutil.which("java"):
    pytest.skip("java is not installed: cannot run the official SIGHAN scorer")
  if not (os.path.isfile(JAR) and os.path.isfile(DRY_TRUTH)):
    pytest.skip(f"official SIGHAN 2015 files not found under {SIGHAN15} (../shared/data)")
  test_set = evaluate.load_test_set(DRY_INPUT, DRY_TRUTH, strict=True)
  rng = random.Random(seed)
  if seed == "perfect":
    predicted = [r.correct for r in test_set.records]
  elif seed == "silent":
    predicted = [r.wrong for r in test_set.records]
  else:
    predicted = [_perturb(r.wrong, r.correct, rng) for r in test_set.records]
  _assert_figures_equal_the_jar(tmp_path, test_set, predicted, DRY_TRUTH)


def test_sighan_figures_equal_the_official_jar_on_training_passages(tmp_path):
  """A larger check: the 2015 training passages, each with and without its
  errors (so every cell of the confusion matrix is well filled), in the
  official input/truth format, perturbed predictions."""
  sgml = os.path.join(SIGHAN15, "Training", "SIGHAN15_CSC_B2_Training.sgml")
  if not shutil.which("java"):
    pytest.skip("java is not installed: cannot run the official SIGHAN scorer")
  if not (os.path.isfile(JAR) and os.path.isfile(sgml)):
    pytest.skip(f"official SIGHAN 2015 files not found under {SIGHAN15} (../shared/data)")
  from csc_pretrain import pair_formats
  pairs = [(r.id, r.wrong, r.correct) for r in pair_formats.read(sgml) if not r.problem]
  pairs += [(sid + "-clean", correct, correct) for sid, _, correct in pairs]
  inp = write(tmp_path / "in.txt", "".join(f"(pid={sid})\t{w}\n" for sid, w, _ in pairs))
  truth = write(tmp_path / "truth.txt", "".join(
      evaluate.result_line(sid, w, c) + "\n" for sid, w, c in pairs))
  test_set = evaluate.load_test_set(inp, truth, strict=True)
  rng = random.Random(7)
  predicted = [_perturb(r.wrong, r.correct, rng) for r in test_set.records]
  jar = _assert_figures_equal_the_jar(tmp_path, test_set, predicted, truth)
  assert jar["fpr"] > 0


# --- the CLI end to end, on the tiny model tests/test_correct.py trains ----------------------------

def test_evaluate_cli_with_several_files_clean_text_and_result_file(model_dir, tmp_path):
  held = [line.split("\t") for line in
          (model_dir / "heldout.tsv").read_text(encoding="utf-8").splitlines()]
  spaced = write(tmp_path / "spaced.txt", "".join(
      f"{' '.join(w)}\t{' '.join(c)}\n" for w, c in held[:20]))
  jsonl = write(tmp_path / "b.jsonl", "".join(
      json.dumps({"source": w, "target": c}, ensure_ascii=False) + "\n" for w, c in held[20:40])
      + json.dumps({"source": held[0][0] + "了", "target": held[0][1]}, ensure_ascii=False)
      + "\n{broken\n")
  clean = write(tmp_path / "clean.txt", "".join(c + "\n" for _, c in held[40:]))
  result = tmp_path / "result.txt"
  common = [sys.executable, "-m", "csc_pretrain.correct", "evaluate", "--checkpoint",
            str(model_dir / "model"), "--confusion_dir", str(model_dir / "cm"),
            "--test_file", f"{spaced},{jsonl}"]
  run = subprocess.run(common + ["--clean_file", clean, "--result_file", str(result)],
                       capture_output=True, text=True, cwd=ROOT)
  assert run.returncode == 0, run.stderr[-2000:]
  summary = json.loads(run.stdout.strip().splitlines()[-1])
  assert summary["skipped"] == {"malformed": 1, "unequal_length": 1}
  assert summary["coverage"] == {"sentence_level": 41, "character_level": 40}
  assert set(summary["files"]) == {spaced, jsonl}
  assert summary["files"][spaced]["sentences"] == 20
  assert sum(k["errors"] for k in summary["per_kind"].values()) > 0
  assert summary["look_alike_kind"] is True
  o = summary["overcorrection"]
  assert o["sentences"] == len(held) - 40 and 0 <= o["changed_sentence_share"] <= 1
  assert "changed_per_1000_characters" in o
  assert "skipped: malformed 1, unequal_length 1" in run.stdout
  lines = result.read_text(encoding="utf-8").splitlines()
  # Both files number their pairs from 1: ids carry the file name.
  assert len(lines) == 41 and lines[0].startswith("spaced.txt:1, ")
  strict = subprocess.run(common + ["--strict_input"], capture_output=True, text=True, cwd=ROOT)
  assert strict.returncode == 2
  assert f"error: {jsonl}:21: wrong and correct differ in length" in strict.stderr
