"""The corrector keeps every character where it was (issue #12, items 5 and 6).

Non-Chinese spans (digits, Latin words, URLs, full-width forms, whitespace,
emoji, control characters) tokenize into fewer tokens than characters or into
none at all; long texts are read in windows. Whatever happens, ``corrected``
has the input's length, only in-vocab Chinese characters change, and every
edit's ``pos`` indexes the input string. The model trained in test_correct.py
(max_seq_length 32) checks real corrections; a stub model checks the
bookkeeping on random text, window by window.
"""

import json
import random
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

from csc_pretrain.io_utils import is_cjk
from csc_pretrain.correct import corrector as corrector_lib
from csc_pretrain.correct.corrector import Corrector
from csc_pretrain.io_utils import InputError
from tests.helpers import ROOT, request, serving

MAX_SEQ_LENGTH = 32  # what the test model was trained with


@pytest.fixture(scope="module")
def corrector(model_dir):
  return Corrector(str(model_dir / "model"), confusion_dir=str(model_dir / "cm"),
                   max_seq_length=MAX_SEQ_LENGTH)


def check_invariants(text, result):
  """The documented guarantees, for any model."""
  corrected = result["corrected"]
  assert result["text"] == text and len(corrected) == len(text)
  changed = {i for i, (a, b) in enumerate(zip(text, corrected)) if a != b}
  assert changed == {e["pos"] for e in result["edits"]}
  for e in result["edits"]:
    assert text[e["pos"]] == e["from"] and corrected[e["pos"]] == e["to"]
    assert is_cjk(e["from"]) and is_cjk(e["to"])


# --- real model: an error right after a non-Chinese span -----------------------------------------

# (input, expected output, edits as (pos, from, to)); the error always follows the
# span. The test model mixes up 习 and 息, so no case leans on 习.
AFTER_SPANS = [
    ("2019年医声患者", "2019年医生患者", [(6, "声", "生")]),               # digits; 年 is [UNK] here
    ("computer 名天复查", "computer 明天复查", [(9, "名", "明")]),         # one Latin word, 8 chars
    ("COMPUTER明天复茶", "COMPUTER明天复查", [(11, "茶", "查")]),           # lowercased for the model only
    ("见https://a.com/x?y=1 检查治了", "见https://a.com/x?y=1 检查治疗", [(24, "了", "疗")]),
    ("ＡＢＣ１２３医声患者", "ＡＢＣ１２３医生患者", [(7, "声", "生")]),     # 6 characters, 1 [UNK] token
    ("a  b 明天复茶", "a  b 明天复查", [(8, "茶", "查")]),                  # spaces make no tokens
    ("医声\t患者\n明天 复茶", "医生\t患者\n明天 复查", [(1, "声", "生"), (10, "茶", "查")]),
    ("😀医声患者", "😀医生患者", [(2, "声", "生")]),                      # emoji -> [UNK]
    ("\x00\x01检查治了", "\x00\x01检查治疗", [(5, "了", "疗")]),            # dropped by clean_text
    ("e\u0301名天复查", "e\u0301明天复查", [(2, "名", "明")]),              # combining mark, stripped
    ("\u200b医声患者", "\u200b医生患者", [(2, "声", "生")]),                # zero-width space, dropped
    ("㐀明天复茶", "㐀明天复查", [(4, "茶", "查")]),                        # CJK extension A -> [UNK]
    ("\ud800检查治了", "\ud800检查治疗", [(4, "了", "疗")]),                # lone surrogate (argv bytes)
    ("他在2019年12月31日去医院检查治了。", "他在2019年12月31日去医院检查治疗。", [(19, "了", "疗")]),
    ("2019年 computer https://x.cn/a?b=1 ＡＢＣ１２３ 😀\x00\u0301 医声患者",
     "2019年 computer https://x.cn/a?b=1 ＡＢＣ１２３ 😀\x00\u0301 医生患者", [(46, "声", "生")]),
]


def test_errors_after_non_chinese_spans_are_fixed_in_place(corrector):
  results = corrector.correct([text for text, _, _ in AFTER_SPANS])
  for (text, expected, edits), result in zip(AFTER_SPANS, results):
    check_invariants(text, result)
    assert result["corrected"] == expected, text
    assert [(e["pos"], e["from"], e["to"]) for e in result["edits"]] == edits, text


def test_unknown_chinese_characters_are_never_rewritten(model_dir):
  # Without confusion sets the model's guess for an [UNK] position used to win
  # (its "own" probability is [UNK]'s): 计算机 came out as 医者机. Here 计, 算, 机
  # and 年 are not in the test vocab.
  plain = Corrector(str(model_dir / "model"), max_seq_length=MAX_SEQ_LENGTH)
  # (text, the [UNK] positions, the error's position and its fix). Without confusion
  # sets the tiny model may also rewrite a known character elsewhere (its guesses
  # shift with TensorFlow's version), so only these positions are checked.
  cases = [("计算机明天复茶", [0, 1, 2], (6, "查")), ("年年检查治了", [0, 1], (5, "疗")),
           ("计算机名天复查", [0, 1, 2], (3, "明"))]
  results = plain.correct([text for text, _, _ in cases])
  for (text, unknown, (pos, fix)), result in zip(cases, results):
    check_invariants(text, result)
    assert [result["corrected"][i] for i in unknown] == [text[i] for i in unknown], text
    assert result["corrected"][pos] == fix, text


# --- real model: long texts ---------------------------------------------------------------------

# Sentences the test model leaves alone.
CLEAN = ["明天复查注意饮食睡眠。", "医生检查患者头痛咳嗽。", "患者发热咳嗽明天去医院。", "患者血压明天复查。",
         "医院复查血压药物治疗。", "患者头痛发热休息睡眠。", "医生治疗患者咳嗽发热。", "药物治疗注意睡眠饮食。"]


def long_case(corrector, punctuated):
  """(wrong, right, error positions): 4-5x max_seq_length, one error in the
  second window (明天 -> 名天) and one in the last (治疗 -> 治了)."""
  right = "".join(CLEAN + CLEAN[:4] + CLEAN[-2:])
  if not punctuated:
    right = right.replace("。", "")  # one endless sentence: sliding windows
  errors = [right.index("明天去医院"), right.rindex("治疗") + 1]
  chars = list(right)
  chars[errors[0]], chars[errors[1]] = "名", "了"
  wrong = "".join(chars)
  # The premise: the errors sit in the second and the last window.
  _, starts = corrector.tokenizer.encode([wrong], offsets=True)[0]
  windows = corrector._windows(wrong, starts)
  assert 4 * MAX_SEQ_LENGTH <= len(wrong) <= 5 * MAX_SEQ_LENGTH and len(windows) >= 4
  owner = [next(w for w, (_, _, lo, hi) in enumerate(windows) if lo <= starts.index(e) < hi)
           for e in errors]
  assert owner == [1, len(windows) - 1], (owner, windows)
  return wrong, right, errors


def check_long(result, wrong, right, errors):
  check_invariants(wrong, result)
  assert result["corrected"] == right
  assert [(e["pos"], e["from"], e["to"]) for e in result["edits"]] == [
      (errors[0], "名", "明"), (errors[1], "了", "疗")]


@pytest.mark.parametrize("punctuated", [True, False], ids=["sentences", "sliding"])
def test_long_text_errors_in_later_windows_are_fixed_at_their_offsets(corrector, punctuated):
  wrong, right, errors = long_case(corrector, punctuated)
  # Long and short texts in one batch: each keeps its own offsets.
  results = corrector.correct(["明天复茶", wrong, "ＡＢＣ医声患者", wrong + "\n" + wrong])
  assert results[0]["corrected"] == "明天复查" and results[2]["corrected"] == "ＡＢＣ医生患者"
  check_long(results[1], wrong, right, errors)
  doubled = results[3]
  check_invariants(doubled["text"], doubled)
  assert doubled["corrected"] == right + "\n" + right
  shift = len(wrong) + 1
  assert [e["pos"] for e in doubled["edits"]] == errors + [e + shift for e in errors]


def test_a_word_across_a_fixed_cut_stays_whole(corrector):
  # Fixed 30-character cuts split 雪|习 at 59|60: the old corrector fixed 雪 but
  # also turned the orphaned 习 into 息. Cuts now fall after sentence ends.
  text = ("药物头痛医生睡眠睡眠。治疗明天学习饮食血压。头痛工作饮食血压饮食睡眠医生。明天复查患者工作明天。"
          "睡眠患者注意工作。学习雪习咳嗽复查发热。治疗检查睡眠药物睡眠复查饮食。睡眠治疗明天明天血压注意发热。")
  assert text[59:61] == "雪习"
  result = corrector.correct([text])[0]
  check_invariants(text, result)
  assert [(e["pos"], e["from"], e["to"]) for e in result["edits"]] == [(59, "雪", "学")]


@pytest.fixture(scope="module")
def long_server(corrector):
  with serving(corrector, max_chars=1000) as url:
    yield url


def test_service_corrects_long_texts_the_same_way(corrector, long_server):
  wrong, right, errors = long_case(corrector, punctuated=True)
  status, body = request(long_server + "/correct?q=" + urllib.request.quote(wrong))
  assert status == 200
  check_long(body, wrong, right, errors)
  flat_wrong, flat_right, flat_errors = long_case(corrector, punctuated=False)
  status, body = request(long_server + "/correct", [flat_wrong, "2019年医声患者"])
  assert status == 200
  check_long(body[0], flat_wrong, flat_right, flat_errors)
  assert body[1]["corrected"] == "2019年医生患者" and body[1]["edits"][0]["pos"] == 6
  # What a direct call gives (the service adds nothing of its own).
  direct = corrector.correct([flat_wrong])[0]
  assert body[0]["corrected"] == direct["corrected"]
  assert [e["pos"] for e in body[0]["edits"]] == [e["pos"] for e in direct["edits"]]


def test_service_rejects_lone_surrogates_with_400(long_server):
  status, body = request(long_server + "/correct", raw=b'["\\ud800\xe9\x9b\xaa\xe4\xb9\xa0"]')
  assert status == 400 and "lone surrogate U+D800 at 0" in body["error"]


def test_correct_cli_corrects_long_texts(corrector, model_dir, tmp_path):
  wrong, right, errors = long_case(corrector, punctuated=True)
  flat_wrong, flat_right, flat_errors = long_case(corrector, punctuated=False)
  (tmp_path / "in.txt").write_text(f"{wrong}\n{flat_wrong}\n", encoding="utf-8")
  done = subprocess.run(
      [sys.executable, "-m", "csc_pretrain.correct", "--checkpoint", str(model_dir / "model"),
       "--confusion_dir", str(model_dir / "cm"), "--max_seq_length", str(MAX_SEQ_LENGTH),
       "--input_file", str(tmp_path / "in.txt")], capture_output=True, text=True, cwd=ROOT)
  assert done.returncode == 0, done.stderr[-2000:]
  lines = [json.loads(line) for line in done.stdout.splitlines()]
  check_long(lines[0], wrong, right, errors)
  check_long(lines[1], flat_wrong, flat_right, flat_errors)


# --- stub model: the bookkeeping on random text ---------------------------------------------

ALPHABET = (list("2019年ABCxyz./:?=-_") + list("ＡＢＣ１２３，。！？；“”（）") + list(" \t\n\u3000")
            + ["😀", "👍🏽", "\x00", "\x07", "\u0301", "\u200b", "\ufffd", "é", "İ", "ﬁ", "한", "㐀",
               "𠀀", "\ud800", "需", "计"])  # the last two: Chinese but not in the test vocab


def stub_predict(corrector, shapes):
  """A model that always proposes, with probability 1, first [UNK] and then
  the next in-vocab Chinese character after the one at the position (a
  Chinese character after anything else, [CLS] and [UNK] included). Every
  position a wrong bookkeeping could touch would visibly change."""
  vocab = corrector.tokenizer.inv_vocab
  chinese = np.array([i for i, token in enumerate(vocab) if is_cjk(token)])
  successor = np.full(len(vocab), chinese[0])
  successor[chinese] = np.roll(chinese, -1)
  unk = corrector.tokenizer.vocab["[UNK]"]

  def predict(ids, mask, targets, k, extra):
    ids = np.asarray(ids)
    shapes.append((ids.shape, np.asarray(mask).sum(axis=1).max()))
    at = ids.reshape(-1)[np.asarray(targets)]
    top_i = np.full(at.shape + (int(k),), unk, np.int32)
    top_i[:, 1] = successor[at]
    top_p = np.ones(at.shape + (int(k),), np.float32)
    return (np.zeros(at.shape, np.float32), top_p, top_i,
            np.zeros(np.asarray(extra).shape, np.float32))

  return predict, {vocab[i]: vocab[j] for i, j in zip(chinese, np.roll(chinese, -1))}


@pytest.mark.parametrize("max_seq_length", [3, 8, 32])
def test_random_mixed_text_changes_exactly_the_in_vocab_chinese_characters(model_dir,
                                                                           max_seq_length):
  stub = Corrector(str(model_dir / "model"), max_seq_length=max_seq_length, batch_size=7)
  shapes = []
  stub._predict, successor = stub_predict(stub, shapes)
  rng = random.Random(max_seq_length)
  chinese = sorted(successor)
  texts = ["", " ", "。"]
  for _ in range(300):
    n = rng.choice([1, 5, 20, 60, 5 * max_seq_length])
    texts.append("".join(rng.choice(chinese) if rng.random() < 0.5 else rng.choice(ALPHABET)
                         for _ in range(n)))
  results = stub.correct(texts)
  assert len(results) == len(texts)
  for text, result in zip(texts, results):
    check_invariants(text, result)
    assert result["corrected"] == "".join(successor.get(ch, ch) for ch in text), text
  assert shapes and all(width <= max_seq_length and used <= max_seq_length
                        for (_, width), used in shapes)


def test_window_plans_tile_the_text(model_dir):
  for budget in (1, 2, 5, 30):
    for lo, hi in ((0, budget + 1), (3, 3 + 4 * budget + 1), (0, 10 * budget + 7)):
      windows = corrector_lib._sliding_windows(lo, hi, budget)
      assert [w[2] for w in windows[1:]] == [w[3] for w in windows[:-1]]
      assert windows[0][2] == lo and windows[-1][3] == hi
      for first, end, keep_lo, keep_hi in windows:
        assert end - first == budget and first <= keep_lo < keep_hi <= end and lo <= first
        for t in range(keep_lo, keep_hi):  # a quarter window of context where the text has it
          assert t - first >= min(budget // 4, t - lo)
          assert end - 1 - t >= min(budget // 4, hi - 1 - t)
  stub = Corrector(str(model_dir / "model"), max_seq_length=12)  # 10 tokens a window
  text = "学习。医生患者。明天复查注意饮食睡眠休息血压头痛。”发热。\n咳嗽"
  _, starts = stub.tokenizer.encode([text], offsets=True)[0]
  windows = stub._windows(text, starts)
  read = [text[starts[lo]:starts[hi - 1] + 1] for lo, hi, _, _ in windows]
  kept = [text[starts[lo]:starts[hi - 1] + 1] for _, _, lo, hi in windows]
  # Two short sentences share a window; the overlong one slides (its closing
  # quote with it); the line break is a cut too, but 发热。 and 咳嗽 fit together.
  assert read == ["学习。医生患者。", "明天复查注意饮食睡眠", "意饮食睡眠休息血压头", "睡眠休息血压头痛。”",
                  "发热。\n咳嗽"]
  assert kept == ["学习。医生患者。", "明天复查注意饮", "食睡眠休", "息血压头痛。”", "发热。\n咳嗽"]


def test_max_seq_length_too_small_is_an_input_error(model_dir):
  with pytest.raises(InputError, match="max_seq_length"):
    Corrector(str(model_dir / "model"), max_seq_length=2)
