"""Stage 1: decomposition, similarity, confusion sets, file formats, bad input."""

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from csc_pretrain.char_meta import build, decompose, formats, lexicon, phonetic, ranking, similarity
from csc_pretrain.io_utils import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A few hundred common characters plus the ones the assertions name.
SAMPLE = ("清请情晴睛精青氵水在再载仔灾的地得第一二三人入八土士干千午牛未末己已巳日曰目白自"
          "是事市式世势视试室示适释做作坐座那哪象像向他她它以已因应带戴代副幅付权全练炼历厉"
          "竟境竞即既及急记纪进近经精心新形型行反返部步布具俱密蜜慕幕暮辩辨辫候侯拨拔贷货"
          "张长章账帐胀涨丈杖仗掌常场唱畅厂昌肠尝偿赏上尚伤商裳晌赏长江河湖海洋深浅清浊"
          "中国大小多少上下左右前后里外东西南北高低长短好坏对错来去出入开关生死老少男女"
          "天地山川风雨雷电春夏秋冬年月时分秒早晚今明昨前后新旧快慢真假黑白红黄蓝绿")


@pytest.fixture(scope="module")
def ids_by_char():
  return decompose.parse_cjk_decomp(decompose.default_decomposition_file())


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
  """One build over the sample charset, shared by the tests that read its files."""
  out = tmp_path_factory.mktemp("char_meta")
  charset = out / "charset.txt"
  charset.write_text(SAMPLE, encoding="utf-8")
  build.build(str(out / "run"), top_k=20, charset=str(charset), progress_bar=False)
  return out


def _sets(path):
  return formats.read_confusion_sets(str(path))


# --- decomposition --------------------------------------------------------------

def test_qing_decomposes_to_water_radical_and_qing_down_to_strokes(ids_by_char):
  assert decompose.expand(ids_by_char, ["清"], full=False)["清"] == ["⿰氵青"]
  strokes = decompose.expand(ids_by_char, ["清"])["清"][0]
  assert strokes.startswith("⿰")
  assert decompose.is_complete(strokes)
  # The left part is the water radical's three strokes: 点 点 提.
  assert decompose.stroke_sequence(strokes)[:3] == "441"


@pytest.mark.parametrize("char,count", [("一", 1), ("水", 4), ("清", 11), ("请", 10), ("国", 8)])
def test_stroke_counts(ids_by_char, char, count):
  strokes = decompose.expand(ids_by_char, [char])[char][0]
  assert len(decompose.stroke_sequence(strokes)) == count


def test_stroke_classes_of_simple_characters(ids_by_char):
  seq = lambda c: decompose.stroke_sequence(decompose.expand(ids_by_char, [c])[c][0])
  assert seq("一") == "1"
  assert seq("十") == "12"
  assert seq("人") == "34"


def test_character_drawn_as_another_takes_its_component_ids(ids_by_char):
  comp = decompose.expand(ids_by_char, ["已", "己"], full=False)
  assert comp["已"] == comp["己"]


def test_every_basic_block_character_is_covered(ids_by_char):
  chars = build.default_charset()
  expanded = decompose.expand(ids_by_char, chars)
  complete = sum(decompose.is_complete(expanded[c][0]) for c in chars)
  assert complete >= 20900


def test_ids_file_with_alternatives_and_source_tags(tmp_path, ids_by_char):
  path = tmp_path / "ids.txt"
  path.write_text("# comment\nU+6E05\t清\t⿰氵青[G]\t⿰水青[T]\nU+9752\t青\t⿱龶月\n"
                  "U+6C35\t氵\t⿱丶㇀\n", encoding="utf-8")
  ids = decompose.parse_ids_file(str(path))
  assert ids["清"] == ["⿰氵青", "⿰水青"]
  expanded = decompose.expand(ids, ["清"])["清"]
  assert len(expanded) == 2 and expanded[0].startswith("⿰⿱㇔㇀⿱")


# --- similarity ------------------------------------------------------------------

def _visual(ids_by_char, a, b):
  stroke = decompose.expand(ids_by_char, [a, b])
  comp = decompose.expand(ids_by_char, [a, b], full=False)
  shapes = similarity.Shapes([stroke[a], stroke[b]], [comp[a], comp[b]],
                             [decompose.stroke_sequence(stroke[c][0]) for c in (a, b)])
  return similarity.VisualTable(shapes, workers=1).rows(0, 1)[3][0, 1]


def test_qing_looks_more_like_qing_than_like_water(ids_by_char):
  assert _visual(ids_by_char, "清", "请") > _visual(ids_by_char, "清", "水") + 0.3


def test_alternative_decompositions_take_the_max():
  sim = similarity._AltSimilarity([["abc", "xyz"], ["xyz"], ["abd"]], workers=1)
  rows = sim.rows(0, 3)
  assert rows.shape == (3, 3)
  assert rows[0, 1] == 1.0 and rows[1, 0] == 1.0  # the second alternative matches exactly
  assert rows[0, 2] == pytest.approx(2 / 3)


def test_zai_homophones_are_identical_and_fuzzy_initials_beat_other_initials():
  assert phonetic.readings("在") == ["zai4"] and phonetic.readings("再") == ["zai4"]
  assert phonetic.reading_similarity("zai4", "zai4") == 1.0
  assert phonetic.reading_similarity("zhang1", "zang1") > phonetic.reading_similarity("zhang1", "bang1")
  assert phonetic.reading_similarity("lan2", "lang2") > phonetic.reading_similarity("lan2", "lou2")
  # 同音异调 beats 近音 with another tone, which beats a different syllable.
  assert (phonetic.reading_similarity("shi4", "shi3") > phonetic.reading_similarity("shi4", "si3")
          > phonetic.reading_similarity("shi4", "ba3"))


def test_tone_insensitive_mode():
  assert phonetic.reading_similarity("ma1", "ma3", tone_sensitive=False) == 1.0
  assert phonetic.reading_similarity("ma1", "ma3") < 1.0


def test_heteronyms_are_all_read_and_rare_ones_count_less():
  assert {"zhang3", "chang2"} <= set(phonetic.readings("长"))
  table = phonetic.PhoneticTable([["chang2"], ["zhang3", "chang2"], ["chang2", "zhang3"]])
  row = table.rows(0, 1)[0]
  assert row[2] == 1.0 and row[1] == pytest.approx(phonetic.SECONDARY)


# --- confusion sets ----------------------------------------------------------------

def test_confusion_sets_rank_real_confusions_first(sample_dir):
  sets = _sets(sample_dir / "run" / "confusion_sets.tsv")
  assert sets["在"][0] == "再"
  assert "己" in sets["已"][:3]
  assert "土" in sets["士"][:10]
  assert set(sets["清"][:10]) >= {"请", "情", "青"}
  for char, cands in sets.items():
    assert char not in cands and len(cands) == len(set(cands)) == 20


def test_common_characters_rank_before_rare_homophones(tmp_path):
  charset = tmp_path / "c.txt"
  charset.write_text("在再縡", encoding="utf-8")
  build.build(str(tmp_path / "o"), top_k=2, charset=str(charset), progress_bar=False)
  assert _sets(tmp_path / "o" / "confusion_sets.tsv")["在"] == ["再", "縡"]


def test_phonetic_and_visual_sets_hold_their_kind(sample_dir):
  phon = _sets(sample_dir / "run" / "confusion_phonetic.tsv")
  vis = _sets(sample_dir / "run" / "confusion_visual.tsv")
  assert phon["在"][0] == "再" and "土" not in phon["士"]
  assert vis["未"][0] == "末" and "是" not in vis["士"]


def test_scores_file_lists_every_kept_pair(sample_dir):
  lines = (sample_dir / "run" / "confusion_scores.tsv").read_text(encoding="utf-8").splitlines()
  header = lines[0].split("\t")
  assert header == ["char", "candidate", *similarity.SCORE_NAMES, "sets"]
  rows = {(f[0], f[1]): f for f in (l.split("\t") for l in lines[1:])}
  row = rows[("在", "再")]
  assert float(row[header.index("phonetic")]) == 1.0 and "c" in row[-1] and "p" in row[-1]
  sets = _sets(sample_dir / "run" / "confusion_sets.tsv")
  assert all((c, x) in rows for c, xs in sets.items() for x in xs)


def test_scores_file_is_read_a_row_at_a_time(sample_dir, tmp_path):
  path = sample_dir / "run" / "confusion_scores.tsv"
  lines = path.read_text(encoding="utf-8").splitlines()
  header = lines[0].split("\t")
  expected = {tuple(f[:2]): f for f in (l.split("\t") for l in lines[1:])}
  scores = formats.ScoresFile(str(path))
  for (char, cand), fields in list(expected.items())[::97]:
    got = scores.pair(char, cand)
    assert got == {name: float(fields[header.index(name)]) for name in similarity.SCORE_NAMES}
  assert scores.pair("在", "丁") is None and scores.row("\u9fa5") == {}
  broken = tmp_path / "confusion_scores.tsv"
  rows = [l for l in lines[1:] if l.startswith("在\t")]
  number = lines.index(rows[1]) + 1
  lines[number - 1] = "\t".join(rows[1].split("\t")[:2] + ["x"] * len(similarity.SCORE_NAMES))
  broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
  scores = formats.ScoresFile(str(broken))
  assert scores.pair("清", "请") is not None  # other rows still read
  with pytest.raises(InputError, match=rf"confusion_scores.tsv:{number}: expected char, "):
    scores.row("在")
  (tmp_path / "bad.tsv").write_text("a\tb\n", encoding="utf-8")
  with pytest.raises(InputError, match=r"bad.tsv:1: not a confusion_scores.tsv header"):
    formats.ScoresFile(str(tmp_path / "bad.tsv"))


def test_same_inputs_give_byte_identical_files(sample_dir):
  charset = sample_dir / "charset.txt"
  build.build(str(sample_dir / "again"), top_k=20, charset=str(charset), block_size=97,
              progress_bar=False)
  for name in formats.OUTPUT_FILES[:-1]:  # the stats file holds timings
    assert (sample_dir / "run" / name).read_bytes() == (sample_dir / "again" / name).read_bytes(), name


def test_rankings_do_not_depend_on_threads_or_block_size(sample_dir):
  chars, infos, _ = build.load_sources(charset=str(sample_dir / "charset.txt"))
  tables = build.make_tables(chars, infos)
  weights = ranking.load_weights()
  one = build.rank_all(tables, weights, 20, block_size=len(chars), threads=1)
  many = build.rank_all(tables, weights, 20, block_size=7, threads=3)
  for field in ("combined", "error", "error_phonetic", "error_visual", "phonetic", "visual",
                "pairs", "pair_scores"):
    np.testing.assert_array_equal(getattr(one, field), getattr(many, field), err_msg=field)
  assert (one.combined[:, 0] >= 0).all()


# --- file formats --------------------------------------------------------------------

def test_char_meta_has_faspell_columns_and_reads_back(sample_dir):
  path = sample_dir / "run" / "char_meta.txt"
  lines = {l.split("\t")[1]: l.split("\t") for l in path.read_text(encoding="utf-8").splitlines()}
  code, char, pron, *decomps = lines["长"]
  assert code == "U+957F" and char == "长"
  assert pron.split(";")[1:] == ["null"] * 4 and "zhang3" in pron.split(";")[0].split(",")
  assert decomps and all(decompose.is_complete(d) for d in decomps)
  assert "氵" in lines  # components used by the decompositions have rows too
  ids, readings = formats.read_faspell_char_meta(str(path))
  assert ids["清"] == [lines["清"][3]] and readings["在"] == ["zai4"]


def test_build_from_a_faspell_char_meta(sample_dir, tmp_path):
  build.build(str(tmp_path / "o"), top_k=5, charset=str(sample_dir / "charset.txt"),
              faspell_char_meta=str(sample_dir / "run" / "char_meta.txt"), progress_bar=False)
  sets = _sets(tmp_path / "o" / "confusion_sets.tsv")
  assert sets["在"][0] == "再"


def test_extra_columns_flag_keeps_faspell_columns_first(sample_dir, tmp_path):
  build.build(str(tmp_path / "o"), top_k=3, charset=str(sample_dir / "charset.txt"),
              extra_columns=True, progress_bar=False)
  line = next(l for l in (tmp_path / "o" / "char_meta.txt").read_text(encoding="utf-8").splitlines()
              if l.split("\t")[1] == "清")
  fields = line.split("\t")
  assert fields[4] == "|" and fields[5] == "U+6E05" and fields[7] == "⿰氵青"
  assert fields[6].split(" ")[0] == "qing1"
  ids, _ = formats.read_faspell_char_meta(str(tmp_path / "o" / "char_meta.txt"))
  assert ids["清"] == [fields[3]]


def test_external_sets_in_three_layouts(tmp_path):
  sighan = tmp_path / "SimilarShape.txt"
  sighan.write_text("乂\t义仪 议,艾\n", encoding="utf-8")
  pinyin = tmp_path / "same_pinyin.txt"
  pinyin.write_text("#汉字\t同音同调\t同音异调\n一\t壹\t漪\n", encoding="utf-8")
  stroke = tmp_path / "same_stroke.txt"
  stroke.write_text("龚\t龛\t詟\t垄\n", encoding="utf-8")
  assert formats.read_external_confusions(str(sighan)) == {"乂": ["义", "仪", "议", "艾"]}
  assert formats.read_external_confusions(str(pinyin)) == {"一": ["壹", "漪"]}
  assert formats.read_external_confusions(str(stroke)) == {"龚": ["龛", "詟", "垄"]}


def test_merged_external_pairs_join_the_sets(sample_dir, tmp_path):
  ext = tmp_path / "same_stroke.txt"
  ext.write_text("清\t蓝\n", encoding="utf-8")  # not similar by our measures
  build.build(str(tmp_path / "o"), top_k=20, charset=str(sample_dir / "charset.txt"),
              merge=[(str(ext), "visual")], progress_bar=False)
  assert _sets(tmp_path / "o" / "confusion_sets.tsv")["清"][0] == "蓝"
  assert _sets(tmp_path / "o" / "confusion_visual.tsv")["清"][0] == "蓝"
  assert "蓝" not in _sets(tmp_path / "o" / "confusion_phonetic.tsv")["清"]
  assert "蓝" not in _sets(sample_dir / "run" / "confusion_sets.tsv")["清"]


def test_frequency_from_a_domain_corpus_moves_its_characters_up(sample_dir, tmp_path):
  corpus = tmp_path / "corpus.txt"
  corpus.write_text("仗" * 5000 + "\n", encoding="utf-8")
  # Without the real-error prior, whose own counts for 张 would hide the effect.
  for name, corpora in (("base", []), ("o", [str(corpus)])):
    build.build(str(tmp_path / name), top_k=20, charset=str(sample_dir / "charset.txt"),
                freq_corpus=corpora, prior_file="", progress_bar=False)
  base = _sets(tmp_path / "base" / "confusion_sets.tsv")["张"]
  mixed = _sets(tmp_path / "o" / "confusion_sets.tsv")["张"]
  assert mixed.index("仗") < base.index("仗")


# --- bad input -------------------------------------------------------------------------

def _cli(*args, cwd=ROOT):
  return subprocess.run([sys.executable, "-m", "csc_pretrain.char_meta", *args],
                        capture_output=True, text=True, cwd=cwd)


def test_cli_writes_everything_and_refuses_to_overwrite(sample_dir, tmp_path):
  out = tmp_path / "cli"
  ok = _cli("--output_dir", str(out), "--charset", str(sample_dir / "charset.txt"), "--top_k", "5")
  assert ok.returncode == 0, ok.stderr
  assert sorted(os.listdir(out)) == sorted(formats.OUTPUT_FILES)
  before = (out / "confusion_sets.tsv").read_bytes()
  again = _cli("--output_dir", str(out), "--charset", str(sample_dir / "charset.txt"))
  assert again.returncode != 0 and "refusing to overwrite" in again.stderr
  assert (out / "confusion_sets.tsv").read_bytes() == before


@pytest.mark.parametrize("flag,content,expect", [
    ("--ids_file", "U+6E05\t清\n", ":1: expected U+XXXX<TAB>char<TAB>IDS"),
    ("--ids_file", "U+6E05\t清\t⿰氵青\n\xff\n", ":2: not valid UTF-8"),
    ("--faspell_char_meta", "U+6E05\t清\tqing1\n", ":1: expected U+XXXX"),
    ("--merge_confusion", "清\t请\n请情\t晴\n", ":2: first field must be one character"),
    ("--merge_confusion", "清\t\n", ":1: no candidates"),
    ("--freq_file", "清\tmany\n", ":1: expected char<TAB>count"),
    ("--decomposition_file", "清=a(氵,青)\n", ":1: not a cjk-decomp record"),
    ("--lexicon", "长江\n大河 2\n", ":2: lexicon word '大河 2' holds whitespace"),
])
def test_bad_input_names_file_and_line_and_writes_nothing(tmp_path, sample_dir, flag, content, expect):
  bad = tmp_path / "bad.txt"
  bad.write_bytes(content.encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
  out = tmp_path / "out"
  result = _cli("--output_dir", str(out), "--charset", str(sample_dir / "charset.txt"), flag, str(bad))
  assert result.returncode != 0
  err = result.stderr.strip().splitlines()
  assert len(err) == 1 and str(bad) + expect in err[0], result.stderr
  assert not out.exists() or not os.listdir(out)


def test_missing_file_is_named(tmp_path):
  result = _cli("--output_dir", str(tmp_path / "o"), "--charset", str(tmp_path / "nope.txt"))
  assert result.returncode != 0
  assert result.stderr.strip() == f"error: {tmp_path / 'nope.txt'}: no such file"
  assert not (tmp_path / "o").exists()


def test_input_error_message_format():
  assert str(InputError("a.txt", 3, "bad")) == "a.txt:3: bad"
  assert str(InputError("a.txt", 0, "missing")) == "a.txt: missing"


def test_top_k_ties_break_by_index():
  scores = np.array([[0.5, 0.9, 0.5, 0.5]])
  top = similarity._top_k(scores, 3, np.ones_like(scores, bool))
  assert top.tolist() == [[1, 0, 2]]


# --- fitted ranking, glyphs, both directions, observed confusions (issue 13) -----------

FIT_PAIRS = os.path.join(ROOT, "tests", "data", "char_meta_fit_pairs.tsv")


def test_real_confusions_are_in_each_others_top_ten(sample_dir):
  for table in (formats.CORRECTION_TABLE, formats.ERROR_TABLE):
    sets = _sets(sample_dir / "run" / table)
    for a, b in (("在", "再"), ("作", "做")):
      assert b in sets[a][:10] and a in sets[b][:10], (table, a, b)


@pytest.mark.parametrize("a,b", [("田", "由"), ("未", "末")])
def test_glyphs_that_differ_by_a_stroke_look_alike(a, b):
  from csc_pretrain.char_meta import glyph
  chars = [a, b] + [c for c in dict.fromkeys(SAMPLE) if c not in (a, b)]
  fine, coarse = glyph.GlyphTable(glyph.render(chars)).rows(0, 1)
  assert fine[0, 1] >= 0.6 and coarse[0, 1] >= 0.9
  # b is among a's five closest glyphs (coarse scale) out of the ~300 sample characters.
  assert 1 in np.argsort(-coarse[0, 1:], kind="stable")[:5] + 1


def test_missing_glyphs_look_like_nothing():
  from csc_pretrain.char_meta import glyph
  for vectors in glyph.render(["\ue001", "田"]):  # a private-use character no font draws
    assert not vectors[0].any() and vectors[1].any()


def test_fit_runs_end_to_end_on_a_tiny_sample(sample_dir, tmp_path):
  weights = tmp_path / "weights.json"
  result = _cli("fit", "--fit_pairs", FIT_PAIRS, "--charset", str(sample_dir / "charset.txt"),
                "--weights_out", str(weights))
  assert result.returncode == 0, result.stderr
  fitted = ranking.load_weights(str(weights))
  assert set(fitted) == set(ranking.DIRECTIONS)
  assert fitted["correct"]["same_tone"] > 0  # homophones are what real errors are made of
  net = fitted["correct"]["mlp"].params
  assert np.shape(net["hidden"]) == (len(ranking.BASE_FEATURES), ranking.HIDDEN)
  assert np.abs(net["out"]).max() > 0  # the network learnt something on top
  build.build(str(tmp_path / "o"), top_k=10, charset=str(sample_dir / "charset.txt"),
              weights_file=str(weights), progress_bar=False)
  assert _sets(tmp_path / "o" / formats.CORRECTION_TABLE)["在"][0] == "再"


def test_fit_refuses_to_overwrite_without_the_flag(sample_dir, tmp_path):
  weights = tmp_path / "weights.json"
  weights.write_text("mine", encoding="utf-8")
  args = ("fit", "--fit_pairs", FIT_PAIRS, "--charset", str(sample_dir / "charset.txt"),
          "--weights_out", str(weights))
  result = _cli(*args)
  assert result.returncode != 0 and "pass --overwrite" in result.stderr
  assert weights.read_text(encoding="utf-8") == "mine"
  assert not (tmp_path / "real_error_pairs.tsv").exists()
  result = _cli(*args, "--overwrite")
  assert result.returncode == 0, result.stderr
  assert "mlp" in ranking.load_weights(str(weights))["correct"]


def test_fit_on_two_corpora_weighs_the_prior_and_writes_it(sample_dir, tmp_path):
  # Two corpora of the same confusions: every error of one was seen in the other,
  # so the jackknifed fit must give "seen" a positive weight.
  lines = [l for l in open(FIT_PAIRS, encoding="utf-8") if not l.startswith("#")]
  first, second = tmp_path / "a.tsv", tmp_path / "b.tsv"
  first.write_text("".join(lines), encoding="utf-8")
  second.write_text("".join(lines[::-1]), encoding="utf-8")
  weights, prior = tmp_path / "weights.json", tmp_path / "prior.tsv"
  result = _cli("fit", "--fit_pairs", f"{first},{second}", "--charset",
                str(sample_dir / "charset.txt"), "--weights_out", str(weights),
                "--prior_out", str(prior))
  assert result.returncode == 0, result.stderr
  fitted = ranking.load_weights(str(weights))
  assert fitted["correct"]["seen"] > 0 and fitted["error"]["seen"] > 0
  summed = formats.read_observed_confusions(str(prior))
  both = {}
  for path in (first, second):
    for pair, n in formats.read_observed_confusions(str(path)).items():
      both[pair] = both.get(pair, 0) + n
  assert summed == both


def test_prior_pairs_rank_high_in_their_direction_and_can_be_turned_off(sample_dir, tmp_path):
  prior = tmp_path / "prior.tsv"
  # 蓝 is neither like 清 in sound nor in shape: only the prior can lift it.
  prior.write_text("清\t蓝\t50\n", encoding="utf-8")
  charset = str(sample_dir / "charset.txt")
  build.build(str(tmp_path / "with"), top_k=20, charset=charset, prior_file=str(prior),
              progress_bar=False)
  build.build(str(tmp_path / "without"), top_k=20, charset=charset, prior_file="",
              progress_bar=False)
  assert "蓝" in _sets(tmp_path / "with" / formats.CORRECTION_TABLE)["清"][:10]
  assert "清" in _sets(tmp_path / "with" / formats.ERROR_TABLE)["蓝"][:10]
  assert "清" not in _sets(tmp_path / "with" / formats.CORRECTION_TABLE)["蓝"]
  assert "蓝" not in _sets(tmp_path / "without" / formats.CORRECTION_TABLE)["清"]
  bad = tmp_path / "bad.tsv"
  bad.write_text("清\t蓝\t2\n清\t蓝\tmany\n", encoding="utf-8")
  result = _cli("--output_dir", str(tmp_path / "o"), "--charset", charset, "--prior_file", str(bad))
  assert result.returncode != 0 and f"{bad}:2: count 'many'" in result.stderr
  assert not (tmp_path / "o").exists() or not os.listdir(tmp_path / "o")


def test_shipped_prior_is_real_error_counts_in_the_correction_layout():
  prior = formats.read_observed_confusions(ranking.default_prior_file())
  assert len(prior) > 3000 and prior[("的", "地")] > prior.get(("地", "的"), 0) > 0
  assert "real_error_pairs.tsv" in json.load(open(ranking.default_weights_file()))["note"]


@pytest.mark.parametrize("a,b,bit", [("ju1", "qu1", "ASPIRATED"), ("nu3", "nv3", "UMLAUT"),
                                     ("duo1", "dou1", "NEAR_SYLLABLE_TONE"),
                                     ("fa1", "pa2", "NEAR_SYLLABLE")])
def test_learner_sound_confusions_have_their_bits(a, b, bit):
  bits = phonetic.syllable_bits([a, b, "shuang1"])
  assert bits[0, 1] & getattr(phonetic, bit) and not bits[0, 2] & getattr(phonetic, bit)


def test_sounds_count_error_pairs_by_sound_and_reach_pairs_never_seen():
  # 张 zhang / 脏 zang was an error (twice), 章 zhang / 藏 zang too; 站 zhan / 赞 zan
  # never was, but shares the initials' confusion (zh -> z); 安 an / 暗 an shares
  # nothing with the errors. Sounds count pairs, not errors: 2 here.
  readings = [["zhang1"], ["zang1"], ["zhan4"], ["zan4"], ["an1"], ["an4"], [],
              ["zhang1"], ["zang4"]]
  tables = types.SimpleNamespace(sounds=[phonetic.sound_parts(r) for r in readings])
  sounds = ranking.Sounds.of({(0, 1): 2, (7, 8): 1, (6, 1): 5}, tables)  # 6: no reading
  full = dict(sounds.rows(tables, [0, 2, 4, 6]))
  unit = np.log1p(2) / ranking.PRIOR_SCALE
  np.testing.assert_allclose(full["seen_syllables"][0, 1], unit, rtol=1e-6)
  np.testing.assert_allclose(full["seen_initials"][1, 3], unit, rtol=1e-6)  # 站 -> 赞
  assert full["seen_syllables"][1, 3] == 0 and full["seen_finals"][1, 3] == 0
  np.testing.assert_allclose(full["seen_finals"][0, 1], unit, rtol=1e-6)  # ang -> ang
  assert not full["seen_initials"][2].any() and not full["seen_finals"][3].any()
  assert full["seen_initials"][1, 0] == 0  # zh -> zh was no error
  # The fit reads the same values for its sampled candidates as scoring does for a row.
  cols = np.array([[1, 3, -1], [3, 1, 5], [0, 1, 2], [1, 0, 6]])
  sampled = sounds.features(tables, np.array([0, 2, 4, 6]), cols)
  for j, name in enumerate(ranking.SOUND_FEATURES):
    want = np.where(cols >= 0, np.take_along_axis(full[name], np.maximum(cols, 0), 1), 0)
    np.testing.assert_array_equal(sampled[..., j], want)
  # The other direction reads them transposed: 赞 -> 站 as z -> zh.
  back = dict(sounds.transposed().rows(tables, [3]))
  np.testing.assert_allclose(back["seen_initials"][0, 2], unit, rtol=1e-6)
  assert back["seen_initials"][0, 3] == 0


def test_fit_refuses_no_pairs_and_bad_commands(tmp_path):
  result = _cli("fit", "--weights_out", str(tmp_path / "w.json"))
  assert result.returncode != 0 and "--fit_pairs" in result.stderr
  assert not (tmp_path / "w.json").exists()
  result = _cli("fitt", "--output_dir", str(tmp_path / "o"))
  assert result.returncode != 0 and "unknown command" in result.stderr


def test_shipped_weights_load_and_cover_every_feature():
  weights = ranking.load_weights()
  for d in ranking.DIRECTIONS:
    assert set(weights[d]) == set(ranking.FEATURES) | {"mlp", "sounds"}
    assert weights[d]["mlp"].params["inputs"] == list(ranking.BASE_FEATURES)


def test_network_score_is_its_formula_on_the_features(sample_dir):
  # Network folds the standardisation into its weights and the bit features into
  # one table per bit pattern; the score must still be the plain formula.
  chars, infos, _ = build.load_sources(charset=str(sample_dir / "charset.txt"))
  tables = build.make_tables(chars, infos)
  weights = ranking.load_weights()["correct"]
  rows = np.arange(0, len(chars), 9)
  raw = ranking.measures(tables, rows)
  got = ranking.scores(tables, rows, raw, [weights])[0]
  x = np.stack([v for _, v in ranking.features(tables, rows, ranking.measures(tables, rows))], -1)
  net = weights["mlp"].params
  z = (x - np.array(net["mean"])) / np.array(net["scale"])
  hidden = np.maximum(z @ np.array(net["hidden"]) + np.array(net["bias"]), 0.0)
  want = x @ np.array([weights[k] for k in ranking.BASE_FEATURES]) + hidden @ np.array(net["out"])
  for name, value in weights["sounds"].rows(tables, rows):  # counted sounds: no prior needed
    want += weights[name] * value
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  linear = dict(weights)
  del linear["mlp"]
  alone = ranking.scores(tables, rows, raw, [linear])[0]
  assert np.abs(got - alone).max() > 0.1
  # All weight sets share one matrix product: each must still score as if alone.
  both = ranking.scores(tables, rows, ranking.measures(tables, rows), [linear, weights])
  np.testing.assert_allclose(both[0], alone, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(both[1], got, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("entry, expect", [
    ({"inputs": ["phonetic"], "mean": [0.0], "scale": [1.0], "hidden": [[1.0]]}, "bias"),
    ({"inputs": ["nope"], "mean": [0.0], "scale": [1.0], "hidden": [[1.0]], "bias": [0.0],
      "out": [1.0]}, "unknown inputs"),
])
def test_bad_network_entry_is_named(tmp_path, entry, expect):
  path = tmp_path / "w.json"
  weights = {d: {"mlp": entry} for d in ranking.DIRECTIONS}
  path.write_text(json.dumps({"weights": weights}), encoding="utf-8")
  with pytest.raises(InputError, match=f"bad \"mlp\" entry in 'correct'.*{expect}"):
    ranking.load_weights(str(path))


@pytest.mark.parametrize("entry, expect", [
    ({"syllable": [], "initial": []}, "expected lists for syllable, initial, final"),
    ({"syllable": [["zhang", "zang", 0]], "initial": [], "final": []}, "syllable: expected"),
])
def test_bad_sound_pairs_entry_is_named(tmp_path, entry, expect):
  path = tmp_path / "w.json"
  path.write_text(json.dumps({"weights": {d: {} for d in ranking.DIRECTIONS},
                              "sound_pairs": entry}), encoding="utf-8")
  with pytest.raises(InputError, match=f"bad \"sound_pairs\" entry: {expect}"):
    ranking.load_weights(str(path))


def test_shipped_sound_counts_survive_a_round_trip(tmp_path):
  weights = ranking.load_weights()
  path = tmp_path / "w.json"
  path.write_text(ranking.weights_json(weights, "copy"), encoding="utf-8")
  again = ranking.load_weights(str(path))
  for d in ranking.DIRECTIONS:
    assert again[d]["sounds"].pairs == weights[d]["sounds"].pairs
  # Stored once, in the correction direction: z -> zh as a typo is zh -> z as a fix.
  fix, typo = weights["correct"]["sounds"].pairs, weights["error"]["sounds"].pairs
  assert fix["initial"][("z", "zh")] == typo["initial"][("zh", "z")] > 10


def test_each_table_has_its_direction_and_observed_pairs_come_first(sample_dir, tmp_path):
  observed = tmp_path / "observed_confusions.tsv"
  # 蓝 is neither like 清 in sound nor in shape: only the observation can put it first.
  observed.write_text("清\t蓝\t1\n清\t白\t5\n", encoding="utf-8")
  build.build(str(tmp_path / "o"), top_k=20, charset=str(sample_dir / "charset.txt"),
              observed=str(observed), progress_bar=False)
  correction = _sets(tmp_path / "o" / formats.CORRECTION_TABLE)
  errors = _sets(tmp_path / "o" / formats.ERROR_TABLE)
  # Correction: row = the wrong character, its likely corrections, more observed first.
  assert correction["清"][:2] == ["白", "蓝"]
  # Errors: row = the correct character, what writers type instead of it.
  assert errors["白"][0] == "清" and errors["蓝"][0] == "清"
  assert "蓝" not in errors["清"][:2] and "清" not in correction["蓝"][:1]
  base = _sets(sample_dir / "run" / formats.CORRECTION_TABLE)
  assert "蓝" not in base["清"]


def test_observed_file_errors_name_the_line(tmp_path, sample_dir):
  bad = tmp_path / "observed.tsv"
  bad.write_text("清\t蓝\t2\n清蓝\t3\n", encoding="utf-8")
  result = _cli("--output_dir", str(tmp_path / "o"), "--charset", str(sample_dir / "charset.txt"),
                "--observed", str(bad))
  assert result.returncode != 0 and f"{bad}:2: expected wrong<TAB>correct" in result.stderr


def test_error_tables_by_kind(sample_dir):
  sounds = _sets(sample_dir / "run" / formats.ERROR_TABLE_PHONETIC)
  looks = _sets(sample_dir / "run" / formats.ERROR_TABLE_VISUAL)
  assert "再" in sounds["在"][:3] and "土" not in sounds["士"]
  assert "末" in looks["未"][:3] and "是" not in looks["士"]


def test_parallel_sentence_files_give_pair_counts(tmp_path):
  wrong, correct = tmp_path / "error.txt", tmp_path / "correct.txt"
  wrong.write_text("我在来一次\n他作饭\n", encoding="utf-8")
  correct.write_text("我再来一次\n他做饭\n", encoding="utf-8")
  assert formats.read_parallel_confusions(str(wrong), str(correct)) == {("在", "再"): 1,
                                                                        ("作", "做"): 1}
  correct.write_text("我再来一次\n他做饭了\n", encoding="utf-8")
  with pytest.raises(InputError, match=":2: 4 characters"):
    formats.read_parallel_confusions(str(wrong), str(correct))


def test_font_flag_replaces_the_font_and_a_bad_one_is_named(tmp_path, sample_dir):
  bad = tmp_path / "font.otf"
  bad.write_bytes(b"not a font")
  result = _cli("--output_dir", str(tmp_path / "o"), "--charset", str(sample_dir / "charset.txt"),
                "--font", str(bad))
  assert result.returncode != 0 and f"{bad}: cannot read the font" in result.stderr
  assert not (tmp_path / "o").exists() or not os.listdir(tmp_path / "o")


# --- shared word frames (lexicon.py) ------------------------------------------------

def test_frames_count_shared_word_slots_and_skip_crowded_ones(monkeypatch):
  chars = list("这怎那么样")
  words = ["这么", "怎么", "那么", "这样", "怎样"]
  table = lexicon.FrameTable(chars, words)
  shared = table.take([0, 2])  # rows 这, 那
  assert shared[0, 1] == 2 and shared[0, 2] == 1 and shared[1, 1] == 1  # 这/怎: _么, _样
  assert shared[0, 0] == 0 and shared[0, 3] == 0  # not itself, not 么 (no frame in common)
  monkeypatch.setattr(lexicon, "MAX_FRAME", 2)  # "_么" has three fillers now: skipped
  shared = lexicon.FrameTable(chars, words).take([0])
  assert shared[0, 1] == 1 and shared[0, 2] == 0


def test_a_lexicon_lifts_characters_that_fill_the_same_words(sample_dir, tmp_path):
  # 黑 and 白 neither sound nor look alike; in these words they fill the same slots.
  words = tmp_path / "words.txt"
  words.write_text("".join(f"{a}{w}\n" for a in "黑白" for w in "天夜色板人"), encoding="utf-8")
  chars, infos, _ = build.load_sources(charset=str(sample_dir / "charset.txt"))
  weights = ranking.load_weights()["correct"]
  row, col = chars.index("黑"), chars.index("白")

  def rank(lexicon_words):
    s = ranking.score(build.make_tables(chars, infos, words=lexicon_words), np.array([row]),
                      weights)[0]
    s[row] = -np.inf
    return int((s > s[col]).sum())

  assert rank(build.lexicon_words(str(words))) < rank(None) - 10
