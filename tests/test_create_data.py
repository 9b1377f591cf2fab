"""Stage 2: readers, alignment, expansion, synthetic errors, mask probabilities, bad input."""

import json
import os
import pickle
import random
import subprocess
import sys

import pytest

from csc_pretrain.create_data import build, mask_probability, pairs
from csc_pretrain.io_utils import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, text):
  path.write_text(text, encoding="utf-8")
  return str(path)


@pytest.fixture
def parallel(tmp_path):
  correct = write(tmp_path / "correct.txt",
                  "我在学校学习。他在家里休息！\n今天天气很好\n\n这是第二个文档。\n医生建议多喝水\n")
  wrong = write(tmp_path / "wrong.txt",
                "我再学校学习。他再家里休息！\n今天天汽很好\n\n这是第二个文档。\n医生建意多喝水\n")
  return correct, wrong


@pytest.fixture(scope="module")
def confusion_dir(tmp_path_factory):
  """A small stage-1 run: the characters of the tests and their neighbours."""
  from csc_pretrain.char_meta import build as char_meta_build
  out = tmp_path_factory.mktemp("char_meta")
  charset = write(out / "charset.txt", "我在再载学校习他家里休息今天气汽很好这是第二个文档医生建议意多喝水"
                  "河喝渴可以已己情清请晴早枣找")
  char_meta_build.build(str(out / "cm"), top_k=10, charset=charset, progress_bar=False)
  return str(out / "cm")


def read_docs(path):
  return [d.split("\n") for d in open(path, encoding="utf-8").read().rstrip("\n").split("\n\n")]


# --- readers ----------------------------------------------------------------------

def test_parallel_files_keep_documents(parallel):
  docs = list(pairs.read_parallel(*parallel))
  assert [len(d) for d in docs] == [2, 2]
  assert docs[0][1].wrong == "今天天汽很好" and docs[0][1].correct == "今天天气很好"


def test_pair_files_in_faspell_and_tsv_layouts(tmp_path):
  faspell = write(tmp_path / "f.txt", "1\t我再学校\t我在学校\n0\t你好\t你好\n")
  tsv = write(tmp_path / "t.tsv", "我再学校\t我在学校\n")
  assert [d[0].wrong for d in build.pair_documents(faspell)] == ["我再学校", "你好"]
  assert [d[0].correct for d in build.pair_documents(tsv)] == ["我在学校"]


# --- alignment ------------------------------------------------------------------------

def test_equal_length_pairs_compare_position_by_position():
  result = pairs.align(pairs.Pair("我再学校学习", "我在学校学习"))
  assert result.pair.errors() == [1] and result.insertions == result.deletions == 0


def test_insertions_and_deletions_are_undone_and_reported():
  # ASR dropped 了 and doubled 学; 再 is a real substitution.
  result = pairs.align(pairs.Pair("我再学学校学习数学和语文", "我在学校学习数学和语文了"))
  assert result.pair.correct == "我在学校学习数学和语文了"
  assert result.pair.wrong == "我再学校学习数学和语文了"
  assert result.insertions == 1 and result.deletions == 1


def test_shifted_equal_length_pair_is_not_compared_position_by_position():
  # Same length, but one character moved: a naive comparison would see 4 errors.
  result = pairs.align(pairs.Pair("医生建议多喝开水", "医生建多议喝开水"), max_error_ratio=0.5)
  assert len(result.pair.errors()) <= 2


def test_rewrites_are_skipped_not_misaligned():
  assert pairs.align(pairs.Pair("完全不同的一句话", "今天天气很好啊呀")).skipped == "too many errors"
  assert pairs.align(pairs.Pair("短", "今天天气很好啊呀")).skipped.startswith("unalignable")


# --- splitting and expansion -------------------------------------------------------------

def test_split_at_sentence_ends_and_long_commas():
  pieces = pairs.split_long(pairs.Pair("甲乙。丙丁！戊", "甲乙。丙丁！戊"))
  assert [p.correct for p in pieces] == ["甲乙。", "丙丁！", "戊"]
  long = "字" * 101 + "，" + "句" * 10
  assert [len(p.correct) for p in pairs.split_long(pairs.Pair(long, long))] == [102, 10]
  short = "字" * 50 + "，" + "句" * 10
  assert len(pairs.split_long(pairs.Pair(short, short))) == 1


def test_expansion_adds_clean_copy_and_partly_restored_variants():
  doc = [pairs.Pair("我再学校", "我在学校"), pairs.Pair("天汽很好，建意", "天气很好，建议")]
  out = pairs.expand(doc, seed=1, max_variants=5)
  assert out[0] == doc
  assert all(p.wrong == p.correct for p in out[1])
  assert sorted(sum(len(p.errors()) for p in v) for v in out[2:]) == [1, 2]  # n=3: 1 and 2 kept
  assert pairs.expand(doc, seed=1) == pairs.expand(doc, seed=1)
  assert pairs.expand([pairs.Pair("你好", "你好")], seed=1) == [[pairs.Pair("你好", "你好")]]


def test_expansion_caps_variants():
  wrong = "再" * 12
  out = pairs.expand([pairs.Pair(wrong, "在" * 12)], seed=3, max_variants=4)
  assert len(out) == 2 + 4


# --- synthetic errors --------------------------------------------------------------------------

def test_synthetic_errors_follow_rate_and_kind():
  phon = {"在": ["再", "载"], "学": ["雪"]}
  vis = {"在": ["任"], "学": ["觉"]}
  doc = [pairs.Pair("在学" * 500, "在学" * 500)]
  out = pairs.add_synthetic_errors(doc, random.Random(0), 0.2, 1.0, phon, vis)[0]
  assert len(out.wrong) == len(out.correct)
  errors = out.errors()
  assert 0.15 < len(errors) / 1000 < 0.25
  assert {out.wrong[i] for i in errors} <= {"再", "载", "雪"}
  assert sum(out.wrong[i] == "再" for i in errors) > sum(out.wrong[i] == "载" for i in errors)


# --- mask probability ------------------------------------------------------------------------------

def test_faspell_formula_without_smoothing():
  counts = mask_probability.ErrorCounts()
  counts.add("再再再", "在在在")      # 再 written for 在 three times
  counts.add("再再再再", "再再再再")  # ...
  counts.add("再再", "再再")          # 再 used correctly 6 times
  probs, details = mask_probability.mask_probabilities(counts, smoothing=0)
  assert probs["再"] == pytest.approx(3 / 6)
  assert details["再"]["top_correction"] == "在"
  assert probs["在"] == 0.0


def test_smoothing_pulls_rare_characters_to_the_prior():
  counts = mask_probability.ErrorCounts()
  counts.add("汽", "气")
  counts.add("汽车汽车" * 50, "汽车汽车" * 50)
  probs, _ = mask_probability.mask_probabilities(counts, base_rate=0.02)
  # 汽 is common and rarely wrong: ~1/100. 气 was never written wrong: the prior.
  assert 0.005 < probs["汽"] < 0.02
  assert probs["气"] == pytest.approx(5 * 0.02 / (1 + 5))


def test_modes_count_only_errors_of_their_kind(confusion_dir):
  from csc_pretrain.char_meta.formats import read_confusion_sets
  phon = read_confusion_sets(os.path.join(confusion_dir, "confusion_phonetic.tsv"))
  vis = read_confusion_sets(os.path.join(confusion_dir, "confusion_visual.tsv"))
  conf = mask_probability.read_confusability(os.path.join(confusion_dir, "confusion_scores.tsv"))
  assert "议" in phon["意"] and "议" not in vis["意"]
  assert "己" in vis["已"] and "己" not in phon["已"]
  counts = mask_probability.ErrorCounts()
  counts.add("意已", "议己")  # one phonetic error, one visual error
  p_phon, d_phon = mask_probability.mask_probabilities(counts, "phonetic", conf, phon, vis, base_rate=0.05)
  p_vis, d_vis = mask_probability.mask_probabilities(counts, "visual", conf, phon, vis, base_rate=0.05)
  assert d_phon["意"]["top_count"] == 1 and d_phon["已"]["top_count"] == 0
  assert d_vis["意"]["top_count"] == 0 and d_vis["已"]["top_count"] == 1
  assert p_phon["意"] > p_vis["意"] and p_vis["已"] > p_phon["已"]
  # Never seen at all, yet a sensible probability: the prior from the confusion sets.
  assert 0 < p_phon["枣"] < 0.5


# --- the stage ---------------------------------------------------------------------------------------

def test_build_writes_document_layout_and_a_loadable_pickle(tmp_path, parallel, confusion_dir):
  stats = build.build(str(tmp_path / "out"), *parallel, confusion_dir=confusion_dir, mode="both")
  correct, wrong = read_docs(tmp_path / "out" / "correct.txt"), read_docs(tmp_path / "out" / "wrong.txt")
  assert [len(d) for d in correct] == [len(d) for d in wrong]
  for dc, dw in zip(correct, wrong):
    assert all(len(c) == len(w) for c, w in zip(dc, dw))
  assert correct[0] == ["我在学校学习。", "他在家里休息！", "今天天气很好"]
  assert wrong[0] == ["我再学校学习。", "他再家里休息！", "今天天汽很好"]
  assert wrong[1] == correct[1]  # the clean copy
  with open(tmp_path / "out" / "mask_probability.sav", "rb") as f:
    probs = pickle.load(f)
  assert type(probs) is dict and all(type(k) is str and type(v) is float for k, v in probs.items())
  assert probs["再"] > probs["学"] and 0 <= min(probs.values()) and max(probs.values()) <= 1
  assert stats["pairs_read"] == 4 and stats["errors"] == 4 and stats["sentences"] == 5
  tsv = (tmp_path / "out" / "mask_probability.tsv").read_text(encoding="utf-8").splitlines()
  assert tsv[0].split("\t")[:3] == ["char", "p", "correct_count"]
  assert json.loads((tmp_path / "out" / "create_data_stats.json").read_text())["documents_written"] == len(correct)


def test_pickle_protocol_loads_on_python_3_7():
  assert mask_probability.PICKLE_PROTOCOL <= 4


def test_same_seed_gives_byte_identical_output(tmp_path, confusion_dir):
  correct = write(tmp_path / "c.txt", "".join("我在学校学习今天天气很好医生建议多喝水。\n" * 3 + "\n"
                                              for _ in range(20)))
  outs = []
  for name, seed in (("a", 7), ("b", 7), ("c", 8)):
    build.build(str(tmp_path / name), correct, confusion_dir=confusion_dir, synthetic_rate=0.2,
                seed=seed)
    outs.append([(tmp_path / name / f).read_bytes() for f in build.OUTPUT_FILES])
  assert outs[0] == outs[1]
  assert outs[0][1] != outs[2][1]  # another seed, other errors


def test_unequal_pairs_in_a_pairs_file_are_aligned_and_counted(tmp_path):
  pairs_file = write(tmp_path / "p.tsv", "我再学学校学习数学和语文\t我在学校学习数学和语文了\n完全不同的一句话\t今天天气很好啊呀\n"
                "天汽很好\t天气很好\n")
  stats = build.build(str(tmp_path / "out"), pairs_file=pairs_file)
  assert stats["pairs_read"] == 3 and stats["pairs_used"] == 2
  assert stats["skipped"] == {"too many errors": 1}
  assert stats["insertions_undone"] == 1 and stats["deletions_undone"] == 1


def test_traditional_to_simplified(tmp_path):
  pytest.importorskip("opencc")
  pairs_file = write(tmp_path / "p.tsv", "我們在學校\t我們在學校\n他再學校\t他在學校\n")
  build.build(str(tmp_path / "out"), pairs_file=pairs_file, t2s=True)
  assert "我们在学校" in (tmp_path / "out" / "correct.txt").read_text(encoding="utf-8")


# --- bad input ---------------------------------------------------------------------------------------

def _cli(*args):
  return subprocess.run([sys.executable, "-m", "csc_pretrain.create_data", *args],
                        capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("correct,wrong,expect", [
    ("一\n二\n三\n", "一\n二\n", "correct.txt:3: has more lines than"),
    ("一\n\n三\n", "一\n二\n三\n", "correct.txt:2: a document break"),
    ("我在\n", "我\udcff\n", "wrong.txt:1: not valid UTF-8"),
    ("", "", "correct.txt: no usable pairs (empty input)"),
    ("你好\n", "你好\n", "wrong.txt: no errors in any pair"),
])
def test_bad_parallel_input(tmp_path, correct, wrong, expect):
  c = tmp_path / "correct.txt"
  w = tmp_path / "wrong.txt"
  c.write_bytes(correct.encode("utf-8"))
  w.write_bytes(wrong.encode("utf-8", "surrogateescape"))
  out = tmp_path / "out"
  result = _cli("--correct_file", str(c), "--wrong_file", str(w), "--output_dir", str(out))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: " + str(tmp_path / expect.split(":")[0]))
  assert expect.split(":", 1)[1].strip() in result.stderr
  assert not out.exists() or os.listdir(out) == []  # no partial output, no empty pickle


def test_missing_file_and_bad_pair_line(tmp_path):
  result = _cli("--pairs_file", str(tmp_path / "nope.tsv"), "--output_dir", str(tmp_path / "o"))
  assert result.returncode == 2 and f"{tmp_path / 'nope.tsv'}: no such file" in result.stderr
  bad = write(tmp_path / "bad.tsv", "我再\t我在\n只有一列\n")
  result = _cli("--pairs_file", bad, "--output_dir", str(tmp_path / "o"))
  assert result.returncode == 2 and f"{bad}:2: expected wrong<TAB>correct" in result.stderr
  assert not (tmp_path / "o").exists() or os.listdir(tmp_path / "o") == []


def test_refuses_to_overwrite_and_needs_errors_from_somewhere(tmp_path, parallel):
  out = tmp_path / "out"
  build.build(str(out), *parallel)
  with pytest.raises(InputError, match="refusing to overwrite"):
    build.build(str(out), *parallel)
  with pytest.raises(InputError, match="--synthetic_rate"):
    build.build(str(tmp_path / "o2"), parallel[0])
  with pytest.raises(InputError, match="confusion_dir"):
    build.build(str(tmp_path / "o3"), *parallel, mode="phonetic")


def test_observed_confusions_are_written_for_char_meta(tmp_path, parallel, confusion_dir):
  from csc_pretrain.char_meta.formats import read_observed_confusions
  build.build(str(tmp_path / "out"), *parallel, confusion_dir=confusion_dir)
  observed = read_observed_confusions(str(tmp_path / "out" / "observed_confusions.tsv"))
  assert observed == {("再", "在"): 2, ("汽", "气"): 1, ("意", "议"): 1}
  lines = (tmp_path / "out" / "observed_confusions.tsv").read_text(encoding="utf-8").splitlines()
  assert lines[1] == "再\t在\t2"  # most frequent first


def test_synthetic_errors_draw_from_the_error_direction_tables(tmp_path, confusion_dir):
  import shutil
  from csc_pretrain.char_meta import formats
  cm = tmp_path / "cm"
  shutil.copytree(confusion_dir, cm)
  # Only the error-direction tables name 斈 (a character no correction table offers for 学).
  for name in (formats.ERROR_TABLE_PHONETIC, formats.ERROR_TABLE_VISUAL):
    (cm / name).write_text("学\t斈\n", encoding="utf-8")
  assert "斈" not in (cm / "confusion_phonetic.tsv").read_text(encoding="utf-8")
  correct = write(tmp_path / "c.txt", "我在学校学习。\n" * 50)
  build.build(str(tmp_path / "out"), correct, confusion_dir=str(cm), synthetic_rate=0.5)
  wrong = (tmp_path / "out" / "wrong.txt").read_text(encoding="utf-8")
  right = (tmp_path / "out" / "correct.txt").read_text(encoding="utf-8")
  changed = {(w, c) for w, c in zip(wrong, right) if w != c}
  assert changed == {("斈", "学")}


def test_synthetic_errors_take_the_observed_confusions_first(tmp_path, confusion_dir):
  import shutil
  from csc_pretrain.char_meta import formats
  cm = tmp_path / "cm"
  shutil.copytree(confusion_dir, cm)
  for name in (formats.ERROR_TABLE_PHONETIC, formats.ERROR_TABLE_VISUAL):
    (cm / name).write_text("学\t斈\n", encoding="utf-8")
  confusion_dir = str(cm)
  # 学 -> 雪 is in no confusion table: only --observed can make it.
  observed = write(tmp_path / "observed.tsv", "# real pairs\n雪\t学\t3\n")
  correct = write(tmp_path / "c.txt", "我在学校学习。\n" * 200)
  build.build(str(tmp_path / "out"), correct, confusion_dir=confusion_dir, synthetic_rate=0.5,
              observed=observed, observed_share=0.5)
  wrong = (tmp_path / "out" / "wrong.txt").read_text(encoding="utf-8")
  right = (tmp_path / "out" / "correct.txt").read_text(encoding="utf-8")
  of_xue = [w for w, c in zip(wrong, right) if c == "学" and w != c]
  share = of_xue.count("雪") / len(of_xue)
  assert set(of_xue) == {"雪", "斈"} and 0.35 < share < 0.65, share  # half from --observed
  with pytest.raises(InputError, match="--synthetic_rate"):
    build.build(str(tmp_path / "o2"), correct, confusion_dir=confusion_dir, observed=observed)
  bad = write(tmp_path / "bad.tsv", "雪\t学\t3\n雪学\n")
  with pytest.raises(InputError, match="bad.tsv:2"):
    build.build(str(tmp_path / "o3"), correct, confusion_dir=confusion_dir, synthetic_rate=0.5,
                observed=bad)
  assert not (tmp_path / "o3").exists() or not os.listdir(tmp_path / "o3")
