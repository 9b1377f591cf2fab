"""Over-correction under control (issue 16): calibration to a false-positive budget,
the fitted confidence-similarity decoder, per-character adjustments, protected
terms, the lexicon and the second pass.

Most tests run the deciding code on hand-made model outputs (Candidates), so the
figures can be computed by hand; the last ones run the CLIs on the tiny model
tests/test_correct.py trains.
"""

import json
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from csc_pretrain.correct import decoder, metrics, tune
from csc_pretrain.correct.constraints import Constraints, Dictionary, read_lexicon, read_protect
from csc_pretrain.correct.corrector import Candidates, Corrector, Thresholds
from csc_pretrain.io_utils import InputError
from tests.helpers import corrupt, request, sentence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def candidates(text, table, default_own=0.9):
  """Candidates for ``text`` with ``table`` {pos: (own_prob, [(char, prob), ...])};
  every other position holds only its own character."""
  top_chars, top_probs, own = [], [], []
  for pos, ch in enumerate(text):
    own_p, top = table.get(pos, (default_own, [(ch, default_own)]))
    own.append(own_p)
    top_chars.append([c for c, _ in top])
    top_probs.append([p for _, p in top])
  return Candidates(text, list(text), np.array(own), top_chars, top_probs)


class FixedSimilarity:
  """decoder.CharSimilarity's interface over a hand-made table."""

  def __init__(self, phonetic=None):
    self.table = phonetic or {}

  def phonetic(self, a, b):
    return self.table.get((a, b), 0.0)

  def visual(self, a, b):
    return 0.0

  def pair(self, a, b):
    return None

  def log_freq_ratio(self, original, candidate):
    return 0.0


class TableCorrector:
  """The Corrector's deciding side (its own decide, correct and second pass) over
  hand-made Candidates: ``model`` maps a text to its Candidates."""
  decide = Corrector.decide
  correct = Corrector.correct
  read_again = Corrector.read_again

  def __init__(self, model=None, thresholds=None, constraints=None, second_pass=False,
               similarity=None, words=()):
    self.model = model or {}
    self.dictionary = Dictionary(words)
    self.thresholds = thresholds or Thresholds()
    self.constraints = constraints
    self.second_pass = second_pass
    self.similarity = similarity or FixedSimilarity()

  def allowed(self, original, candidate):
    return bool(candidate) and candidate != original

  def candidates(self, texts, top_k=None):
    return [self.model.get(t) or candidates(t, {}) for t in texts]


# --- calibration to a budget --------------------------------------------------------------------

def synthetic_dev(rng, n=40):
  """Dev pairs whose error is fixed by a candidate of probability ~U(0.2, 1), and clean
  sentences where a spurious candidate has probability ~U(0, 0.8): every threshold
  trades recall against false positives."""
  texts = ["甲乙丙丁戊", "己庚辛壬癸", "子丑寅卯辰", "巳午未申酉"]
  triples, dev_cands, clean, clean_cands = [], [], [], []
  for i in range(n):
    correct = texts[i % 4]
    pos = rng.randrange(5)
    wrong = correct[:pos] + "错" + correct[pos + 1:]
    p = rng.uniform(0.2, 1.0)
    triples.append((str(i), wrong, correct))
    dev_cands.append(candidates(wrong, {pos: (0.1, [(correct[pos], p), ("错", 0.1)])}))
    q = rng.uniform(0.0, 0.8)
    text = texts[(i + 1) % 4]
    spot = rng.randrange(5)
    clean.append(text)
    clean_cands.append(candidates(text, {spot: (0.1, [("误", q), (text[spot], 0.1)])}))
  frozen = [set()] * n
  return tune.DevData(triples, clean, dev_cands, clean_cands, frozen, frozen)


def test_calibration_keeps_the_false_positive_rate_within_the_budget():
  dev = synthetic_dev(random.Random(1))
  corrector = TableCorrector()
  loose = tune.calibrate(corrector, dev)  # no budget: the best F1
  assert loose.chosen["threshold"]["fpr"] > 0.2  # so the budget below binds
  for budget in (0.0, 0.1, 0.2):
    result = tune.calibrate(corrector, dev, max_fpr=budget)
    th = result.thresholds
    # Re-run the chosen rule: the share of clean sentences it changes is within budget.
    changed = sum(corrector.decide(c, th)[0] != c.text for c in dev.clean_cands)
    assert changed / len(dev.clean) <= budget
    assert result.chosen["threshold"]["fpr"] == changed / len(dev.clean)
    # And it is the best recall among all grid points inside the budget.
    inside = [p for p in result.curves["threshold"] if p["fpr"] <= budget]
    assert result.chosen["threshold"]["recall"] == max(p["recall"] for p in inside)
    assert th.calibration["max_fpr"] == budget and result.inside["threshold"]
  tight = tune.calibrate(corrector, dev, max_fpr=0.1)
  assert tight.chosen["threshold"]["recall"] < loose.chosen["threshold"]["recall"]


def test_calibration_with_the_second_pass_checks_the_chosen_point():
  # On clean text a spurious edit, once made, makes its neighbour look wrong too: the
  # second pass doubles the changes, so the first pass's choice breaks the budget.
  rng = random.Random(5)
  pool = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
  model, clean, triples = {}, [], []
  for i in range(30):
    text = "".join(rng.sample(pool, 6))
    spot = rng.randrange(1, 5)
    model[text] = candidates(text, {spot: (0.1, [("误", rng.uniform(0.0, 0.8))])})
    fixed = text[:spot] + "误" + text[spot + 1:]
    model[fixed] = candidates(fixed, {spot + 1: (0.05, [("错", 0.95)])})
    clean.append(text)
    correct = "".join(rng.sample(pool, 6))
    wrong = correct[:spot] + "错" + correct[spot + 1:]
    model[wrong] = candidates(wrong, {spot: (0.1, [(correct[spot], rng.uniform(0.2, 1.0))])})
    triples.append((str(i), wrong, correct))
  corrector = TableCorrector(model, second_pass=True)
  dev = tune.DevData.read(corrector, triples, clean)
  budget = 50.0  # changed characters per 1,000: 9 of the 180 clean ones
  first, ok = tune.pick(tune.threshold_points(corrector, dev), max_changes_per_1000=budget)
  assert ok and first["changes_per_1000"] > budget / 2  # so the second pass breaks it

  def changes_with_second_pass(th):
    out = TableCorrector(model, thresholds=th, second_pass=True).correct(clean)
    return metrics.overcorrection(clean, [r["corrected"] for r in out])[
        "changed_per_1000_characters"]

  assert changes_with_second_pass(tune.rule(first)) > budget
  result = tune.calibrate(corrector, dev, max_changes_per_1000=budget)
  chosen = result.chosen["threshold"]
  assert result.inside["threshold"] and chosen["second_pass"]
  assert changes_with_second_pass(result.thresholds) == chosen["changes_per_1000"] <= budget
  assert 0 < chosen["recall"] <= first["recall"]
  assert ", with the second pass" in tune.report(result)


def test_pick_and_frontier_by_hand():
  points = [{"a": 1, "recall": 0.9, "precision": 0.5, "f1": 0.64, "fpr": 0.3, "changes_per_1000": 9},
            {"a": 2, "recall": 0.6, "precision": 0.8, "f1": 0.69, "fpr": 0.1, "changes_per_1000": 3},
            {"a": 3, "recall": 0.5, "precision": 0.9, "f1": 0.64, "fpr": 0.1, "changes_per_1000": 2},
            {"a": 4, "recall": 0.2, "precision": 0.9, "f1": 0.33, "fpr": 0.0, "changes_per_1000": 0}]
  assert tune.pick(points)[0]["a"] == 2                                # best F1
  assert tune.pick(points, max_fpr=0.2)[0]["a"] == 2
  assert tune.pick(points, max_fpr=0.2, max_changes_per_1000=2.5)[0]["a"] == 3
  assert tune.pick(points, max_fpr=0.05)[0]["a"] == 4
  chosen, inside = tune.pick(points[:3], max_fpr=0.05)
  assert chosen["a"] == 3 and not inside                               # lowest FPR, flagged
  assert [p["a"] for p in tune.frontier(points)] == [4, 2, 1]
  table = tune.curve_table("threshold", points, points[1])
  assert "<- chosen" in table.splitlines()[3] and len(table.splitlines()) == 5


def test_fitted_decoder_calibrates_within_the_budget_and_plots(tmp_path):
  pytest.importorskip("matplotlib")
  dev = synthetic_dev(random.Random(2), n=60)
  corrector = TableCorrector()
  result = tune.calibrate(corrector, dev, max_fpr=0.1, decoder_name="fitted")
  th = result.thresholds
  assert th.decoder == "fitted" and th.fitted.offset == result.chosen["fitted"]["offset"]
  changed = sum(corrector.decide(c, th)[0] != c.text for c in dev.clean_cands)
  assert changed / len(dev.clean) <= 0.1
  # These scores carry no similarity signal: the fit can only match the rule's recall.
  assert result.chosen["fitted"]["recall"] >= result.chosen["threshold"]["recall"] > 0
  # thresholds.json round trip, then a PNG.
  path = tmp_path / "th.json"
  path.write_text(json.dumps(th.to_json()), encoding="utf-8")
  again = Thresholds.from_file(str(path))
  assert again.to_json() == th.to_json()
  assert [corrector.decide(c, again)[0] for c in dev.dev_cands] == \
      [corrector.decide(c, th)[0] for c in dev.dev_cands]
  tune.plot_curves({"threshold": result.curves["threshold"], "fitted": result.curves["fitted"]},
                   str(tmp_path / "curve.png"), 0.1, result.chosen)
  assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the fitted decoder ---------------------------------------------------------------------------

def test_decoder_reproduces_a_hand_computed_boundary():
  # z = -2 + 4 * prob + 2 * similarity: at similarity 0.5 the boundary is prob 0.25.
  fitted = decoder.Fitted({"prob": 4.0, "similarity": 2.0}, bias=-2.0)
  sim = FixedSimilarity({("甲", "乙"): 0.5, ("甲", "丙"): 0.7, ("的", "得"): 0.5})
  corrector = TableCorrector(thresholds=Thresholds(decoder="fitted", fitted=fitted),
                             similarity=sim)

  def run(prob, to="乙", text="甲"):
    return corrector.decide(candidates(text, {0: (0.1, [(to, prob)])}))[0]

  assert run(0.30) == "乙"     # z = -2 + 1.2 + 1.0 = +0.2
  assert run(0.20) == "甲"     # z = -2 + 0.8 + 1.0 = -0.2
  assert run(0.20, "丙") == "丙"  # z = -2 + 0.8 + 1.4 = +0.2: more similar, less confidence needed
  edit = corrector.decide(candidates("甲", {0: (0.1, [("乙", 0.3)])}))[1][0]
  assert edit["score"] == pytest.approx(0.2)
  fitted.offset = 0.25          # calibration moved the boundary up
  assert run(0.30) == "甲" and run(0.32) == "乙"  # z = 0.28
  fitted.offset = 0.0
  fitted.char_adjust = {"的": -1.0}  # a per-character adjustment: stricter for 的
  assert run(0.30, "得", "的") == "的" and run(0.56, "得", "的") == "得"  # z = -0.8 / +0.24
  assert "+4.000 * prob" in fitted.describe() and "的 -1.00" in fitted.describe()


def test_the_fit_recovers_a_boundary():
  """Labels drawn with odds exp(3 * (4 * prob + 2 * similarity - 2)): even on the line
  4 * prob + 2 * similarity = 2. The fitted boundary must lie there (at similarity
  0.5: prob 0.25)."""
  rng = random.Random(3)
  sims = {("甲", c): s for c, s in zip("乙丙丁戊己", (0.0, 0.25, 0.5, 0.75, 1.0))}
  similarity = FixedSimilarity(sims)
  x, y = [], []
  for _ in range(6000):
    c = rng.choice("乙丙丁戊己")
    p = rng.uniform(0.01, 0.99)
    x.append(decoder.features(p, 0.1, 0, "甲", c, similarity))
    odds = math.exp(3 * (4 * p + 2 * sims[("甲", c)] - 2))
    y.append(float(rng.random() < odds / (1 + odds)))
  fitted = decoder.fit(np.array(x), np.array(y), ["甲"] * len(y), per_char=False)

  def z(p, c):
    return fitted.z(decoder.features(p, 0.1, 0, "甲", c, similarity), "甲")

  crossing = min((abs(z(p / 1000, "丁")), p / 1000) for p in range(10, 990))[1]
  assert crossing == pytest.approx(0.25, abs=0.03)
  assert z(0.1, "丁") < 0 < z(0.4, "丁") and z(0.1, "己") > 0 > z(0.45, "乙")


def test_decoder_reads_glyph_shape_and_channel_from_char_meta_and_old_files_decide_as_before(
    tmp_path):
  from csc_pretrain.char_meta import build as char_meta_build
  charset = tmp_path / "charset.txt"
  charset.write_text("未末味妹在再载仔做作坐田由甲申电", encoding="utf-8")
  char_meta_build.build(str(tmp_path / "cm"), top_k=8, charset=str(charset), progress_bar=False)
  similarity = decoder.CharSimilarity(str(tmp_path / "cm"))
  header, *lines = (tmp_path / "cm" / "confusion_scores.tsv").read_text(
      encoding="utf-8").splitlines()
  row = next(dict(zip(header.split("\t"), l.split("\t"))) for l in lines
             if l.startswith("未\t末\t"))
  glyph, shape, combined = (float(row[k]) for k in ("glyph", "visual", "combined"))
  x = dict(zip(decoder.FEATURES, decoder.features(0.4, 0.2, 0, "未", "末", similarity)))
  assert x["glyph"] == glyph > 0.9 and x["shape"] == shape
  assert x["log_confusion"] == pytest.approx(math.log(combined))
  # A candidate char_meta did not keep: no shape, no channel.
  x = dict(zip(decoder.FEATURES, decoder.features(0.4, 0.2, 0, "未", "电", similarity)))
  assert x["glyph"] == x["shape"] == 0.0 and x["log_confusion"] == decoder.LOG_FLOOR
  # thresholds.json from before these features: the same z whatever they hold.
  old = decoder.Fitted.from_dict({"weights": {"prob": 3.0, "own_prob": -2.0, "visual": 1.0},
                                  "bias": -1.0})
  with_scores = decoder.features(0.4, 0.2, 0, "未", "末", similarity)
  without = decoder.features(0.4, 0.2, 0, "未", "末", FixedSimilarity())
  assert old.z(with_scores, "未") == pytest.approx(-1.0 + 3.0 * 0.4 - 2.0 * 0.2 + with_scores[6])
  assert old.z(without, "未") == pytest.approx(-1.0 + 3.0 * 0.4 - 2.0 * 0.2)


def test_per_character_adjustments_make_over_corrected_characters_stricter():
  # 的 -> 得 is proposed with high confidence on clean text again and again; 甲 -> 乙 is
  # a true correction with the same features. Only 的 gets stricter.
  rng = random.Random(4)
  sim = FixedSimilarity({("甲", "乙"): 1.0, ("的", "得"): 1.0})
  x, y, originals = [], [], []
  for _ in range(200):
    p = rng.uniform(0.3, 0.9)
    x.append(decoder.features(p, 0.1, 0, "甲", "乙", sim))
    y.append(1.0)
    originals.append("甲")
    x.append(decoder.features(p, 0.1, 0, "的", "得", sim))
    y.append(0.0)
    originals.append("的")
    q = rng.uniform(0.0, 0.3)
    x.append(decoder.features(q, 0.5, 1, "甲", "丙", sim))
    y.append(0.0)
    originals.append("甲")
  fitted = decoder.fit(np.array(x), np.array(y), originals)
  assert fitted.char_adjust.get("的", 0) < -1 and "甲" not in fitted.char_adjust
  assert all(v < 0 for v in fitted.char_adjust.values())


# --- protected terms and the lexicon ----------------------------------------------------------------

def test_a_protected_term_is_never_edited(tmp_path):
  protect = tmp_path / "protect.txt"
  protect.write_text("# drug names and codes\n阿莫西林\nre:[A-Z]{2}-\\d+号\n", encoding="utf-8")
  constraints = Constraints(read_protect(str(protect)))
  rng = random.Random(5)
  for _ in range(200):
    # Every character has a confident candidate; only the protected spans must survive.
    text = "".join(rng.choice("患者服用阿莫西林胶囊") for _ in range(rng.randint(0, 6)))
    text += rng.choice(["阿莫西林", "AB-12号", "阿莫西"]) + "每日三次"
    table = {i: (0.01, [("错", 0.99)]) for i in range(len(text))}
    corrector = TableCorrector(constraints=constraints)
    corrected, _ = corrector.decide(candidates(text, table))
    for span in constraints.frozen(text):
      assert corrected[span] == text[span]
    for term in ("阿莫西林", "AB-12号"):
      start = text.find(term)
      if start >= 0:
        assert corrected[start:start + len(term)] == term
    assert corrected[-4:] == "错错错错"  # outside every protected span: edited
  assert constraints.frozen("阿莫西") == set()  # a part of a term is not protected


def test_lexicon_refuses_breaking_and_favours_making_a_word(tmp_path):
  lexicon = tmp_path / "lexicon.txt"
  lexicon.write_text("阿莫西林\n布洛芬\n", encoding="utf-8")
  constraints = Constraints([], read_lexicon(str(lexicon)))
  th = Thresholds(min_prob=0.3, margin=0.1)
  # Breaking: a confident edit inside an existing lexicon word is refused.
  breaking = candidates("服阿莫西林", {2: (0.1, [("末", 0.9)])})
  assert TableCorrector(thresholds=th).decide(breaking)[0] == "服阿末西林"
  assert TableCorrector(thresholds=th, constraints=constraints).decide(breaking)[0] == "服阿莫西林"
  # Making: 末 -> 莫 completes 阿莫西林; at probability 0.2 the plain rule refuses it.
  making = candidates("服阿末西林", {2: (0.05, [("沫", 0.5), ("莫", 0.2)])})
  assert TableCorrector(thresholds=th).decide(making)[0] == "服阿沫西林"
  assert TableCorrector(thresholds=th, constraints=constraints).decide(making)[0] == "服阿莫西林"
  # The fitted decoder: a bonus to z.
  fitted = decoder.Fitted({"prob": 4.0}, bias=-2.0, lexicon_bonus=2.0)
  fth = Thresholds(decoder="fitted", fitted=fitted)
  assert TableCorrector(thresholds=fth).decide(making)[0] == "服阿沫西林"      # z 0 vs -1.2
  assert TableCorrector(thresholds=fth, constraints=constraints).decide(making)[0] == "服阿莫西林"
  assert constraints.makes_word("布罗芬", 1, "洛") and not constraints.makes_word("布罗芬", 1, "落")


def test_lexicon_jieba_takes_jiebas_words_alone_or_with_a_file(tmp_path):
  lexicon = tmp_path / "lexicon.txt"
  lexicon.write_text("西格列汀\n", encoding="utf-8")
  general = Constraints.from_files(None, "jieba")
  assert sorted(general.frozen("我们家书贵倒了")) == [0, 1, 2, 3]  # 我们家, 家书; 贵 no word
  assert general.makes_word("我们家书贵倒了", 4, "柜")  # 书柜
  both = Constraints.from_files(None, f"jieba,{lexicon}")
  assert both.makes_word("服西格烈汀", 3, "列") and not general.makes_word("服西格烈汀", 3, "列")
  assert sorted(both.frozen("服西格列汀")) == [1, 2, 3, 4]


def test_lexicon_words_the_model_ranks_below_top_k_still_compete(tmp_path):
  lexicon = tmp_path / "lexicon.txt"
  lexicon.write_text("阿莫西林\n布洛芬\n", encoding="utf-8")
  constraints = Constraints([], read_lexicon(str(lexicon)))
  assert constraints.word_makers("服阿末西林", 2) == ["莫"]
  assert constraints.word_makers("布罗芬", 1) == ["洛"] and constraints.word_makers("布洛芬", 1) == []
  th = Thresholds(min_prob=0.3, margin=0.1, top_k=2)
  # 莫 is the model's third guess: outside top_k 2, but it completes 阿莫西林.
  making = candidates("服阿末西林", {2: (0.05, [("沫", 0.5), ("抹", 0.25)])})
  assert TableCorrector(thresholds=th, constraints=constraints).decide(making)[0] == "服阿沫西林"
  making.extra_chars = [[] for _ in making.text]
  making.extra_probs = [[] for _ in making.text]
  making.extra_chars[2], making.extra_probs[2] = ["莫"], [0.2]
  assert TableCorrector(thresholds=th, constraints=constraints).decide(making)[0] == "服阿莫西林"
  assert TableCorrector(thresholds=th).decide(making)[0] == "服阿沫西林"  # no lexicon: ignored


def test_the_decoder_is_fitted_on_lexicon_candidates_at_the_rank_it_decides_them(tmp_path):
  lexicon = tmp_path / "lexicon.txt"
  lexicon.write_text("阿莫西林\n", encoding="utf-8")
  constraints = Constraints([], read_lexicon(str(lexicon)))
  making = candidates("服阿末西林", {2: (0.05, [("沫", 0.5), ("抹", 0.25)])})
  making.extra_chars = [[] for _ in making.text]
  making.extra_probs = [[] for _ in making.text]
  making.extra_chars[2], making.extra_probs[2] = ["莫"], [0.2]
  rank = decoder.FEATURES.index("rank")
  prob = decoder.FEATURES.index("prob")

  def rows(constraints):
    return decoder.training_rows([making], ["服阿莫西林"], 2, lambda o, c: o != c,
                                 FixedSimilarity(), constraints)

  # The gold 莫 is the model's third guess: a positive row only when the lexicon
  # brings it in, at rank 2.
  x, y, _ = rows(None)
  assert [(r[prob], r[rank]) for r in x] == [(0.5, 0), (0.25, 1)] and list(y) == [0, 0]
  x, y, _ = rows(constraints)
  assert [(r[prob], r[rank]) for r in x] == [(0.5, 0), (0.25, 1), (0.2, 2)]
  assert list(y) == [0, 0, 1]
  # Deciding scores it from the very same features: z -10 * 0.2 - 0.1 * 2 = -2.2.
  fitted = decoder.Fitted({"prob": -10.0, "rank": -0.1}, bias=0.0, lexicon_bonus=0.0, top_k=2)
  found = decoder.proposals(making, Thresholds(decoder="fitted", fitted=fitted),
                            lambda o, c: o != c, FixedSimilarity(), constraints)
  assert found == [(2, "莫", 0.2, pytest.approx(-2.2))] and fitted.z(x[2], "末") == pytest.approx(-2.2)


def test_the_dictionary_finds_the_words_covering_a_position():
  words = Dictionary({"我们": 50, "我们家": 2, "书柜": 7, "倒了": 3, "五个字的词": 9})
  text = "我们家书贵倒了"
  assert [words.covering(text, p) for p in range(len(text))] == [
      (3, 50), (3, 50), (3, 2), (0, 0), (0, 0), (2, 3), (2, 3)]
  assert words.covering(text, 4, "柜") == (2, 7) and words.covering(text, 3, "柜") == (0, 0)
  assert words.covering("五个字的词", 2) == (0, 0)  # longer than max_length 4
  jieba = Dictionary.jieba()
  assert jieba.covering("挫折", 1)[0] == 2 and jieba.covering("措折", 1) == (0, 0)  # a slip
  assert jieba.covering("我们", 0)[1] > jieba.covering("挫折", 0)[1] > 0


def test_word_features_let_the_correction_that_makes_a_word_win():
  """书贵倒了: the model prefers 桂 (0.6) to 柜 (0.3) for 贵, but only 书柜 is a word."""
  making = candidates("书贵倒了", {1: (0.05, [("桂", 0.6), ("柜", 0.3)])})
  names = ("own_in_word", "makes_word", "word_gain", "word_count_gain")
  x, y, _ = decoder.training_rows([making], ["书柜倒了"], 2, lambda o, c: o != c,
                                  FixedSimilarity(),
                                  dictionary=Dictionary({"书柜": 99, "倒了": 9}))
  rows = [{k: r[decoder.FEATURES.index(k)] for k in names} for r in x]
  assert rows[1] == {"own_in_word": 0.0, "makes_word": 1.0, "word_gain": 2.0,
                     "word_count_gain": 2.0}  # log10(1 + 99) - log10(1 + 0)
  assert rows[0] == dict.fromkeys(names, 0.0)
  # 倒 and 了 stand in the word 倒了 and have no allowed candidate: no rows.
  assert list(y) == [0, 1]
  # z(桂) = -2 + 0.6 = -1.4, z(柜) = -2 + 0.3 + 3 = 1.3.
  fitted = decoder.Fitted({"prob": 1.0, "makes_word": 3.0}, bias=-2.0, top_k=2)
  th = Thresholds(decoder="fitted", fitted=fitted)
  model = {"书贵倒了": making}
  assert TableCorrector(model, th, words=["书柜"]).correct(["书贵倒了"])[0]["corrected"] == "书柜倒了"
  assert TableCorrector(model, th).correct(["书贵倒了"])[0]["corrected"] == "书贵倒了"


def test_the_correctors_dictionary_holds_jiebas_words_and_the_lexicons(model_dir):
  constraints = Constraints([], {"定期复查", "一二三四五"})
  words = Corrector(str(model_dir / "model"), constraints=constraints).dictionary
  # 复查 is jieba's (265 times), 定期复查 only the lexicon's (count 1).
  assert words.covering("请定期复查", 3) == (4, 265) and words.covering("我们", 1)[0] == 2
  assert "一二三四五" not in words.counts  # longer than the words looked up


def test_the_model_is_asked_for_lexicon_making_characters_outside_its_top_k(model_dir, tmp_path):
  lexicon = tmp_path / "lexicon.txt"
  lexicon.write_text("患者复查\n", encoding="utf-8")
  constraints = Constraints([], read_lexicon(str(lexicon)))
  text = "患者夏查血压"  # 夏 -> 复 makes 患者复查
  with_lexicon = Corrector(str(model_dir / "model"), constraints=constraints,
                           thresholds=Thresholds(top_k=1))
  [cands] = with_lexicon.candidates([text], top_k=1)
  assert cands.extra_chars[2] == ["复"] and cands.extra_chars[0] == []
  everything = Corrector(str(model_dir / "model"))
  vocab_size = len(everything.tokenizer.vocab)
  [full] = everything.candidates([text], top_k=vocab_size)
  prob = dict(zip(full.top_chars[2], full.top_probs[2]))["复"]
  assert cands.extra_probs[2][0] == pytest.approx(prob, rel=1e-5)
  assert cands.top_chars[2] == full.top_chars[2][:1]


@pytest.mark.parametrize("reader,text,line,message", [
    (read_protect, "阿莫西林\nre:[A-Z\n", 2, "bad regular expression"),
    (read_protect, "# codes\nre:\\d*\n", 2, "matches the empty string"),
    (read_protect, "阿莫西林\n\n布洛 芬\n", 3, "holds whitespace"),
    (read_lexicon, "阿莫西林\n药\n", 2, "has one character"),
    (read_lexicon, "# words\n阿莫西林\t3\n", 2, "holds whitespace"),
    (read_lexicon, b"\xe9\x98\xbf\xe8\x8e\xab\n\xff\n", 2, "not valid UTF-8"),
])
def test_bad_protect_and_lexicon_lines_name_file_and_line(tmp_path, reader, text, line, message):
  path = tmp_path / "terms.txt"
  if isinstance(text, bytes):
    path.write_bytes(text)
  else:
    path.write_text(text, encoding="utf-8")
  with pytest.raises(InputError) as caught:
    reader(str(path))
  assert caught.value.line == line and message in caught.value.message
  assert str(caught.value).startswith(f"{path}:{line}: ")
  empty = tmp_path / "empty.txt"
  empty.write_text("# nothing\n", encoding="utf-8")
  with pytest.raises(InputError, match="no "):
    reader(str(empty))


@pytest.mark.parametrize("command,extra", [
    (["csc_pretrain.correct"], ["一二"]),
    (["csc_pretrain.correct", "evaluate"], ["--test_file", "nowhere.tsv"]),
    (["csc_pretrain.correct"], ["tune", "--dev_file", "nowhere.tsv", "--output", "x.json"]),
])
@pytest.mark.parametrize("flag", ["--protect", "--lexicon"])
def test_bad_files_are_one_line_errors_in_every_cli(tmp_path, command, extra, flag):
  bad = tmp_path / "bad.txt"
  bad.write_text("阿莫西林\n布 洛芬\n", encoding="utf-8")
  result = subprocess.run([sys.executable, "-m", *command, f"--checkpoint={tmp_path}/none",
                           f"{flag}={bad}", *extra], capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines() == [
      f"error: {bad}:2: {'protected' if flag == '--protect' else 'lexicon'} word '布 洛芬' "
      "holds whitespace" + (" (for a pattern write re:PATTERN)" if flag == "--protect"
                            else ": one word a line")]


# --- the second pass --------------------------------------------------------------------------------

def test_second_pass_keeps_only_edits_next_to_a_first_round_edit():
  model = {
      "甲乙丙丁": candidates("甲乙丙丁", {1: (0.05, [("己", 0.9)])}),
      # Read again after the fix: 丙 now looks wrong too, and so does 甲... and 丁 far off.
      "甲己丙丁": candidates("甲己丙丁", {2: (0.05, [("两", 0.9)]), 0: (0.05, [("田", 0.9)])}),
      "戊己庚辛壬": candidates("戊己庚辛壬", {0: (0.05, [("成", 0.9)])}),
      "成己庚辛壬": candidates("成己庚辛壬", {3: (0.05, [("幸", 0.9)])}),
  }
  once = TableCorrector(model).correct(["甲乙丙丁", "戊己庚辛壬"])
  assert [r["corrected"] for r in once] == ["甲己丙丁", "成己庚辛壬"]
  twice = TableCorrector(model, second_pass=True).correct(["甲乙丙丁", "戊己庚辛壬", "子丑"])
  assert [r["corrected"] for r in twice] == ["田己两丁", "成己庚辛壬", "子丑"]
  assert [(e["pos"], e.get("pass", 1)) for e in twice[0]["edits"]] == [(0, 2), (1, 1), (2, 2)]
  # Protected positions stay frozen in the second round too.
  protect = Constraints([__import__("re").compile("丙")])
  guarded = TableCorrector(model, constraints=protect, second_pass=True).correct(["甲乙丙丁"])
  assert guarded[0]["corrected"] == "田己丙丁"


# --- the CLIs on a trained model --------------------------------------------------------------------

def _run(*args):
  return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT)


def test_tune_to_a_budget_then_evaluate_and_correct(model_dir, tmp_path):
  pytest.importorskip("matplotlib")
  common = ["--checkpoint", str(model_dir / "model"), "--confusion_dir", str(model_dir / "cm")]
  rng = random.Random(7)
  clean = [sentence(rng) for _ in range(40)]
  (tmp_path / "clean.txt").write_text("\n".join(clean) + "\n", encoding="utf-8")
  dev = [(corrupt(s, rng), s) for s in (sentence(rng) for _ in range(60))]
  (tmp_path / "dev.tsv").write_text("".join(f"{w}\t{c}\n" for w, c in dev), encoding="utf-8")
  th_path = tmp_path / "th.json"
  tuned = _run("csc_pretrain.correct", "tune", *common, "--dev_file", str(tmp_path / "dev.tsv"),
               "--clean_file", str(tmp_path / "clean.txt"), "--max_fpr", "0.05",
               "--decoder", "fitted", "--output", str(th_path))
  assert tuned.returncode == 0, tuned.stderr[-3000:]
  assert "recall vs false-positive rate" in tuned.stdout and "<- chosen" in tuned.stdout
  assert "fitted decoder: the best candidate c replaces o when" in tuned.stdout
  assert (tmp_path / "th.png").read_bytes()[:4] == b"\x89PNG"
  th = json.loads(th_path.read_text(encoding="utf-8"))
  assert th["decoder"] == "fitted" and set(th["fitted"]["weights"]) <= set(decoder.FEATURES)
  calibration = th["calibration"]
  assert calibration["max_fpr"] == 0.05 and calibration["clean_sentences"] == 40
  assert calibration["constraints"] == {"protect": None, "lexicon": None}
  for name in ("threshold", "fitted"):
    assert calibration["chosen"][name]["fpr"] <= 0.05
  # evaluate with the file reproduces the budget on the same clean sentences.
  for rule in ("fitted", "threshold"):
    evaluated = _run("csc_pretrain.correct", "evaluate", *common, "--thresholds", str(th_path),
                     "--decoder", rule, "--test_file", str(tmp_path / "dev.tsv"), "--clean_file",
                     str(tmp_path / "clean.txt"))
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    summary = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert summary["overcorrection"]["changed_sentence_share"] == pytest.approx(
        calibration["chosen"][rule]["fpr"])
    assert summary["strict_correction"]["recall"] == pytest.approx(
        calibration["chosen"][rule]["recall"])
  # correct: a protected word stays, the rest is still corrected.
  (tmp_path / "protect.txt").write_text("雪习\n", encoding="utf-8")
  plain = _run("csc_pretrain.correct", *common, "雪习工作医声")
  assert json.loads(plain.stdout)["corrected"] == "学习工作医生"
  guarded = _run("csc_pretrain.correct", *common, "--protect", str(tmp_path / "protect.txt"),
                 "雪习工作医声")
  assert guarded.returncode == 0, guarded.stderr[-2000:]
  assert json.loads(guarded.stdout)["corrected"] == "雪习工作医生"


def test_a_thresholds_file_tuned_with_other_constraints_gets_a_warning(tmp_path, capsys):
  from csc_pretrain.correct import config
  path = tmp_path / "th.json"
  path.write_text(json.dumps({"min_prob": 0.4, "margin": 0.1, "top_k": 5, "calibration": {
      "constraints": {"protect": None, "lexicon": "jieba"}}}), encoding="utf-8")
  same = config.CorrectorConfig(checkpoint=str(tmp_path / "none"), thresholds=str(path),
                                lexicon="jieba")
  assert config.load_thresholds(same).min_prob == 0.4 and capsys.readouterr().err == ""
  config.load_thresholds(config.CorrectorConfig(checkpoint=str(tmp_path / "none"),
                                                thresholds=str(path)))
  assert capsys.readouterr().err == (
      f"warning: {path} was tuned with --lexicon jieba, this run has neither --protect nor "
      "--lexicon: its calibrated false-positive rate may not hold\n")


def test_serve_applies_the_protect_and_lexicon_flags(model_dir, tmp_path):
  # Unconstrained, this model corrects 雪习工作 -> 学习工作 and 医声患者 -> 医生患者
  # (tests/test_correct.py). Through the CLI's flags, the protected term and the
  # lexicon word must come back unchanged.
  import socket
  import time
  (tmp_path / "protect.txt").write_text("雪习\n", encoding="utf-8")
  (tmp_path / "lexicon.txt").write_text("医声\n", encoding="utf-8")
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  server = subprocess.Popen(
      [sys.executable, "-m", "csc_pretrain.correct", "serve", "--checkpoint",
       str(model_dir / "model"), "--confusion_dir", str(model_dir / "cm"), "--port", str(port),
       "--protect", str(tmp_path / "protect.txt"), "--lexicon", str(tmp_path / "lexicon.txt"),
       "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  url = f"http://127.0.0.1:{port}"
  try:
    deadline = time.time() + 120
    while True:
      assert server.poll() is None, server.stderr.read()[-2000:]
      try:
        if request(url + "/health")[0] == 200:
          break
      except OSError:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.5)
    status, body = request(url + "/correct", ["雪习工作", "医声患者"])
    assert status == 200
    assert [b["corrected"] for b in body] == ["雪习工作", "医声患者"]
  finally:
    server.terminate()
    server.wait(timeout=30)
