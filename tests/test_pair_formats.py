"""Every pair layout csc_pretrain.pair_formats reads, detected and forced."""

import json
import os

import pytest

from csc_pretrain import pair_formats as pf
from csc_pretrain.io_utils import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGHAN15 = os.path.join(ROOT, "..", "shared", "data", "sighan", "sighan15_official")


def write(path, text):
  path.write_text(text, encoding="utf-8")
  return str(path)


def pairs(path, **kwargs):
  return [(r.id, r.wrong, r.correct, r.problem) for r in pf.read(path, **kwargs)]


def test_tsv_and_faspell(tmp_path):
  tsv = write(tmp_path / "a.tsv", "我再家\t我在家\nid7\t天汽\t天气\n")
  assert pf.detect_format(tsv) == "tsv"
  assert pairs(tsv) == [("1", "我再家", "我在家", ""), ("id7", "天汽", "天气", "")]
  faspell = write(tmp_path / "f.txt", "1\t我再家\t我在家\n2\t你好\t你好\n")
  assert pf.detect_format(faspell) == "faspell"
  assert pairs(faspell)[0] == ("1", "我再家", "我在家", "")
  # Forced to faspell, a two-column line is malformed, named by its line.
  bad = list(pf.read(tsv, "faspell"))[0]
  assert bad.problem == pf.MALFORMED and bad.line == 1
  with pytest.raises(InputError, match=r"a.tsv:1: expected id<TAB>wrong<TAB>correct"):
    pf.check(bad)


def test_header_line_is_skipped(tmp_path):
  path = write(tmp_path / "h.tsv", "src\ttgt\n我再家\t我在家\n")
  assert pairs(path) == [("2", "我再家", "我在家", "")]


def test_space_separated_characters(tmp_path):
  # LEMON-style two columns and ECSpell-style with an id; spaces are separators.
  lemon = write(tmp_path / "l.txt", "在 最 近 的 运 营 干\t在 最 近 的 运 营 官\n")
  assert pf.detect_format(lemon) == "spaced"
  assert pairs(lemon) == [("1", "在最近的运营干", "在最近的运营官", "")]
  ecspell = write(tmp_path / "e.txt", "0\t我 再 家 里\t我 在 家 里\n")
  assert pairs(ecspell) == [("0", "我再家里", "我在家里", "")]
  clean = write(tmp_path / "c.txt", "我 在 家 里\n今 天 很 好\n")
  assert pairs(clean) == [("1", "我在家里", "我在家里", ""), ("2", "今天很好", "今天很好", "")]
  # A sentence that merely contains a space is not "spaced".
  plain = write(tmp_path / "p.tsv", "用 iPhone 拍照\t用 iPhone 拍照\n")
  assert pf.detect_format(plain) == "tsv"


def test_plain_lines_are_clean_sentences(tmp_path):
  path = write(tmp_path / "c.txt", "我们在家里\n\n今天很好\n")
  assert pf.detect_format(path) == "lines"
  assert pairs(path) == [("1", "我们在家里", "我们在家里", ""), ("3", "今天很好", "今天很好", "")]


def test_json_lines_and_array(tmp_path):
  lines = write(tmp_path / "a.jsonl", "\n".join([
      json.dumps({"id": "x1", "source": "我再家", "target": "我在家"}, ensure_ascii=False),
      json.dumps({"original_text": "天汽好", "correct_text": "天气好", "wrong_ids": [1]},
                 ensure_ascii=False),
      # wrong_ids that disagree with the texts: the texts rule.
      json.dumps({"original_text": "天汽好", "correct_text": "天气好", "wrong_ids": [2]},
                 ensure_ascii=False),
      '{"source": "缺"}', "not json"]) + "\n")
  assert pf.detect_format(lines) == "json"
  got = list(pf.read(lines))
  assert [(r.id, r.correct, r.problem) for r in got] == [
      ("x1", "我在家", ""), ("2", "天气好", ""), ("3", "天气好", ""),
      ("4", "", pf.MALFORMED), ("5", "", pf.MALFORMED)]
  assert got[4].line == 5 and "not JSON" in got[4].detail
  array = write(tmp_path / "b.json", json.dumps(
      [{"source": "我再家", "target": "我在家"}, {"source": "好", "target": "好吗"}],
      ensure_ascii=False, indent=1))
  got = list(pf.read(array))
  assert [(r.wrong, r.problem) for r in got] == [("我再家", ""), ("好", pf.UNEQUAL)]
  assert got[0].line == 2 and got[1].line > got[0].line


def test_unequal_and_empty_pairs_are_reported_not_dropped(tmp_path):
  path = write(tmp_path / "u.tsv", "我再家里\t我在家\n\t空\n")
  got = list(pf.read(path))
  assert [r.problem for r in got] == [pf.UNEQUAL, pf.EMPTY]
  assert got[0].wrong == "我再家里"  # still usable at sentence level
  with pytest.raises(InputError, match=r"u.tsv:1: wrong and correct differ in length \(4 vs 3\)"):
    pf.check(got[0])
  assert pf.check(got[0], allow=(pf.UNEQUAL,)) is got[0]


def test_sighan_input_and_truth(tmp_path):
  inp = write(tmp_path / "in.txt", "(pid=A1)\t我再家里\n(pid=A2)\t你好\n(pid=A3)\t多的\n")
  truth = write(tmp_path / "truth.txt", "A1, 2, 在\nA2, 0\nA9, 0\nA2, 7, 好\nA2, 1, 你\n")
  got = list(pf.read(inp, truth_path=truth))
  assert [(r.id, r.correct, r.problem) for r in got] == [
      ("A1", "我在家里", ""), ("A2", "你好", ""), ("A9", "", pf.UNKNOWN_ID),
      ("A2", "", pf.MALFORMED), ("A2", "", pf.MISMATCH), ("A3", "", pf.UNKNOWN_ID)]
  assert got[3].line == 4 and "bad location" in got[3].detail
  with pytest.raises(InputError, match="truth file too"):
    pf.detect_format(inp)


SGML_2015 = """<ESSAY title="t">
<TEXT>
<PASSAGE id="A1-1">但是我不能去參加，因為我有一點事情阿！</PASSAGE>
<PASSAGE id="A1-2">敬祝身體建慷。</PASSAGE>
<PASSAGE id="A1-3">今天很好。</PASSAGE>
</TEXT>
<MISTAKE id="A1-1" location="18">
<WRONG>有一點事情阿</WRONG>
<CORRECTION>有一點事情啊</CORRECTION>
</MISTAKE>
<MISTAKE id="A1-2" location="5">
<WRONG>建慷</WRONG>
<CORRECTION>健康</CORRECTION>
</MISTAKE>
<MISTAKE id="A1-2" location="6">
<WRONG>建慷</WRONG>
<CORRECTION>健康</CORRECTION>
</MISTAKE>
<MISTAKE id="A1-3" location="1">
<WRONG>年級</WRONG>
<CORRECTION>年紀</CORRECTION>
</MISTAKE>
</ESSAY>
"""

SGML_2013 = """<DOC Nid="00018">
<p>我在家裡看書，我很想念你門。</p>
<TEXT>
<MISTAKE wrong_position=13>
<wrong>你門</wrong>
<correct>你們</correct>
</MISTAKE>
</TEXT>
</DOC>
<doc nid="00019"><P>今天很好。</P></doc>
"""


def test_sighan_training_sgml_both_flavours(tmp_path):
  path = write(tmp_path / "a.sgml", SGML_2015)
  assert pf.detect_format(path) == "sgml"
  got = list(pf.read(path))
  assert [(r.id, r.correct, r.problem) for r in got] == [
      ("A1-1", "但是我不能去參加，因為我有一點事情啊！", ""), ("A1-2", "敬祝身體健康。", ""),
      ("A1-3", "", pf.MISMATCH)]
  assert got[1].line == 4
  assert got[2].line == 19 and "passage 'A1-3': mistake at 1" in got[2].detail
  got = list(pf.read(write(tmp_path / "b.sgml", SGML_2013)))
  assert [(r.id, r.wrong, r.correct) for r in got] == [
      ("00018", "我在家裡看書，我很想念你門。", "我在家裡看書，我很想念你們。"),
      ("00019", "今天很好。", "今天很好。")]
  with pytest.raises(InputError, match="not SIGHAN SGML"):
    list(pf.read(write(tmp_path / "c.sgml", "<html><body>x</body></html>\n")))


def test_t2s_keeps_positions(tmp_path):
  pytest.importorskip("opencc")
  # 乾 -> 干 and 著 stay one character each; opencc's phrase table is not used.
  assert pf.t2s("我們在學校復習乾淨") == "我们在学校复习干净"
  path = write(tmp_path / "a.sgml", SGML_2015)
  got = list(pf.read(path, convert_t2s=True))
  assert got[1].wrong == "敬祝身体建慷。" and got[1].correct == "敬祝身体健康。"
  assert all(len(r.wrong) == len(r.correct) for r in got if not r.problem)


def test_forced_format_and_unknown_format(tmp_path):
  path = write(tmp_path / "a.txt", "我再家\t我在家\n")
  assert pairs(path, fmt="lines") == [("1", "我再家\t我在家", "我再家\t我在家", "")]
  with pytest.raises(InputError, match="unknown format"):
    list(pf.read(path, "xml"))
  with pytest.raises(InputError, match="no such file"):
    list(pf.read(str(tmp_path / "nope.tsv")))


def test_read_triples_is_strict(tmp_path):
  path = write(tmp_path / "a.tsv", "我再家\t我在家\n只有一列\n")
  with pytest.raises(InputError, match=r"a.tsv:2: expected wrong<TAB>correct"):
    pf.read_triples(path)


# --- the public files at hand (skipped where ../shared/data is absent) -----------------------------

def _needs(path):
  if not os.path.exists(path):
    pytest.skip(f"{path} not found (../shared/data is not on this machine)")


def test_official_sighan15_training_sgml():
  path = os.path.join(SIGHAN15, "Training", "SIGHAN15_CSC_A2_Training.sgml")
  _needs(path)
  got = list(pf.read(path, convert_t2s=True))
  assert len(got) > 800
  fine = [r for r in got if not r.problem]
  assert len(fine) / len(got) > 0.98  # a few annotations point at the wrong character
  assert all(len(r.wrong) == len(r.correct) for r in fine)
  assert sum(r.wrong != r.correct for r in fine) > 0.9 * len(fine)


def test_official_sighan15_dry_run():
  _needs(os.path.join(SIGHAN15, "Dry"))
  got = pf.read_triples(os.path.join(SIGHAN15, "Dry", "SIGHAN15_CSC_DryInput.txt"),
                        truth_path=os.path.join(SIGHAN15, "Dry", "SIGHAN15_CSC_DryTruth.txt"))
  assert len(got) == 39 and sum(w != c for _, w, c in got) > 15
