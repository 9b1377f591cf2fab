"""Stage 3: tokenization, schema, lockstep alignment, masking, determinism, shards, bad input."""

import collections
import json
import os
import pickle
import subprocess
import sys
import types

import pytest

from csc_pretrain.bert import tfrecord
from csc_pretrain.create_tf_record import build, instances
from csc_pretrain.bert.tfrecord import check_records
from csc_pretrain.bert.tokenization import FullTokenizer, build_vocab
from csc_pretrain.io_utils import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHARS = ("我在再载学校习他她家里休息今天气汽很好这是第二个文档医生建议意多喝水们喜欢北京安门"
         "的地得做作坐座那哪像象以已因应带戴代全权练炼历厉清情请晴精青睛")


def write(path, text):
  path.write_text(text, encoding="utf-8")
  return str(path)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
  """A vocab, a small char_meta run and a mask probability file."""
  from csc_pretrain.char_meta import build as char_meta_build
  out = tmp_path_factory.mktemp("tfrec")
  charset = write(out / "charset.txt", CHARS)
  char_meta_build.build(str(out / "cm"), top_k=15, charset=charset, progress_bar=False)
  vocab = build_vocab([CHARS + "abcdefghijklmnopqrstuvwxyz0123456789，。！？"])
  vocab_file = write(out / "vocab.txt", "\n".join(vocab + ["##ing", "play", "un", "##aff",
                                                           "##able", "hello"]) + "\n")
  probs = {c: 0.01 for c in CHARS}
  probs.update({"在": 0.5, "再": 0.5})
  with open(out / "mp.sav", "wb") as f:
    pickle.dump(probs, f, protocol=4)
  return types.SimpleNamespace(dir=out, vocab=vocab_file, cm=str(out / "cm"),
                               mp=str(out / "mp.sav"))


def corpus(tmp_path, docs):
  """docs: list of documents, each a list of (correct, wrong) sentences."""
  c = write(tmp_path / "correct.txt", "\n\n".join("\n".join(c for c, _ in d) for d in docs) + "\n")
  w = write(tmp_path / "wrong.txt", "\n\n".join("\n".join(w for _, w in d) for d in docs) + "\n")
  return c, w


def run(env, tmp_path, docs, name="out.tfrecord", **kw):
  c, w = corpus(tmp_path, docs)
  kw.setdefault("config", instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=8))
  kw.setdefault("num_workers", 1)
  out = ",".join(str(tmp_path / n) for n in name.split(","))
  stats, examples = build.build(c, out, env.vocab, wrong_input_file=w,
                                mask_probability_file=env.mp, confusion_dir=env.cm,
                                progress_bar=False, keep_examples=10_000, **kw)
  return stats, examples, [str(tmp_path / n) for n in name.split(",")]


DOCS = [[("我在学校学习。", "我再学校学习。"), ("今天天气很好。", "今天天汽很好。"),
         ("医生建议多喝水。", "医生建意多喝水。")],
        [("他们喜欢北京天安门。", "他们喜欢北京天安门。"), ("这是第二个文档。", "这是第二个文档。")],
        [("她在家里休息。", "她再家里休息。"), ("我们都很好。", "我们都很好。")]]


# --- tokenization ---------------------------------------------------------------------------

def google_tokenizer(vocab_file, do_lower_case):
  tokenization = pytest.importorskip("bert.tokenization")
  # bert-tensorflow reads the vocab with TF1's tf.gfile; plain open() does the same.
  tokenization.tf = types.SimpleNamespace(gfile=types.SimpleNamespace(GFile=open))
  tokenization.FLAGS = types.SimpleNamespace(preserve_unused_tokens=False)  # its flag's default
  return tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_tokenizer_matches_google_full_tokenizer(env, do_lower_case):
  ours = FullTokenizer(env.vocab, do_lower_case)
  google = google_tokenizer(env.vocab, do_lower_case)
  texts = ["我在学校学习Playing unaffable HELLO，今天2024年！", "ＡＢＣ全角１２３，。", "Café naïve 北京",
           "  空格\t和\u3000全角空格  ", "emoji😀与控制\x00字符\ufffd", "x" * 250 + " 很长的词",
           "中英mixed文本with标点!?...（括号）【方括号】", "数字3.14和100%", ""]
  for text in texts:
    assert ours.tokenize(text) == google.tokenize(text), text


def test_build_vocab_has_googles_special_tokens_in_order():
  vocab = build_vocab(["我在学校，学校很好"], max_size=300)
  assert vocab[:2] == ["[PAD]", "[unused1]"] and vocab[99] == "[unused99]"
  assert vocab[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  assert vocab.index("校") < vocab.index("我") or vocab.count("校") == 1
  assert len(vocab) == len(set(vocab)) and "##a" in vocab and "，" in vocab


# --- schema and alignment ----------------------------------------------------------------------

def test_records_have_exactly_googles_schema(env, tmp_path):
  stats, _, outs = run(env, tmp_path, DOCS, dupe_factor=2)
  import tensorflow as tf
  raw = next(tfrecord.read_records(outs[0]))
  example = tf.train.Example.FromString(raw)
  features = example.features.feature
  assert list(sorted(features)) == sorted(name for name, _, _ in tfrecord.SCHEMA)
  for name, dtype, _ in tfrecord.SCHEMA:
    kind = features[name].WhichOneof("kind")
    assert kind == ("int64_list" if dtype == "int64" else "float_list"), name
  assert len(features["input_ids"].int64_list.value) == 32
  assert len(features["masked_lm_weights"].float_list.value) == 8
  assert len(features["next_sentence_labels"].int64_list.value) == 1
  parsed = list(check_records(outs, 32, 8))
  assert len(parsed) == stats["instances"] > 0
  assert json.load(open(outs[0] + ".stats.json"))["instances"] == stats["instances"]


def test_errors_are_always_predicted_in_lockstep(env, tmp_path):
  stats, examples, _ = run(env, tmp_path, DOCS, dupe_factor=5)
  tok = FullTokenizer(env.vocab)
  wrong_ids = set(tok.convert_tokens_to_ids(["汽", "意"]))  # only ever appear as errors
  pairs = {tuple(tok.convert_tokens_to_ids(p)) for p in (["再", "在"], ["汽", "气"], ["意", "议"])}
  seen_errors = 0
  for inst in examples:
    masked = dict(zip(inst.masked_lm_positions, zip(inst.masked_lm_ids, inst.kinds)))
    for pos, token in enumerate(inst.input_ids):
      if token in wrong_ids:  # a wrong character is never left unpredicted in the input
        assert pos in masked
    for pos, (label, kind) in masked.items():
      if kind == "error":
        assert (inst.input_ids[pos], label) in pairs
        seen_errors += 1
  assert seen_errors == stats["masked_by_kind"]["error"] > 0
  assert stats["errors_cut"] == 0


def test_errors_beyond_the_budget_are_cut_counted_and_put_right(env, tmp_path):
  doc = [[("在在在在在在在在在在在在", "再再再再再再再再再再再再")]]
  stats, examples, _ = run(env, tmp_path, doc, dupe_factor=1,
                           config=instances.MaskingConfig(max_seq_length=32,
                                                          max_predictions_per_seq=5,
                                                          single_segment=True))
  (inst,) = examples
  assert inst.kinds == ["error"] * 5
  zai_wrong = FullTokenizer(env.vocab).convert_tokens_to_ids(["再"])[0]
  assert sum(t == zai_wrong for t in inst.input_ids) == 5
  assert stats["errors_cut"] == 7


def test_replacement_proportions_on_a_large_sample(env, tmp_path):
  # Clean text of characters that have candidates of every kind.
  vocab = build.build_vocabulary(__import__("csc_pretrain.bert.tokenization",
                                            fromlist=["x"]).load_vocab(env.vocab), env.cm)
  tok = FullTokenizer(env.vocab)
  full = [c for c in CHARS if all(tok.convert_tokens_to_ids([c])[0] in getattr(vocab, k)
                                  for k in ("same_pinyin", "similar_pinyin", "visual"))]
  assert len(full) >= 5, full
  sentences = ["".join(full[(i + j) % len(full)] for j in range(20)) for i in range(200)]
  docs = [[(s, s) for s in sentences[k:k + 5]] for k in range(0, 200, 5)]
  stats, _, _ = run(env, tmp_path, docs, dupe_factor=10,
                    config=instances.MaskingConfig(max_seq_length=64, max_predictions_per_seq=10))
  by_kind = stats["masked_by_kind"]
  total = sum(by_kind.values())
  assert total > 5000 and by_kind["error"] == 0
  for kind, share in instances.DEFAULT_PROPORTIONS.items():
    assert abs(by_kind[kind] / total - share) < 0.02, (kind, by_kind)


def test_mask_probability_weights_choose_the_extra_positions(env, tmp_path):
  docs = [[("我在学校学习今天天气很好" * 2, "我在学校学习今天天气很好" * 2)] for _ in range(40)]
  _, examples, _ = run(env, tmp_path, docs, dupe_factor=5,
                       config=instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=3,
                                              single_segment=True))
  zai = FullTokenizer(env.vocab).convert_tokens_to_ids(["在"])[0]
  labels = collections.Counter(l for inst in examples for l in inst.masked_lm_ids)
  # 在 is 2 of 24 characters but has mask probability 0.5 against 0.01.
  assert labels[zai] / sum(labels.values()) > 0.3


def test_whole_word_masking_masks_jieba_words_together(env, tmp_path):
  sentence = "他们喜欢北京天安门"
  docs = [[(sentence, sentence)] for _ in range(60)]  # one sentence, never truncated
  _, examples, _ = run(env, tmp_path, docs, dupe_factor=3,
                       config=instances.MaskingConfig(max_seq_length=16, max_predictions_per_seq=4,
                                              masked_lm_prob=0.3, single_segment=True,
                                              whole_word_mask=True))
  import jieba
  words = list(jieba.cut(sentence))
  assert words == ["他们", "喜欢", "北京", "天安门"]
  spans, start = [], 1  # position 0 is [CLS]
  for w in words:
    spans.append(set(range(start, start + len(w))))
    start += len(w)
  for inst in examples:
    masked = set(inst.masked_lm_positions)
    for span in spans:
      assert masked & span in (set(), span)


def test_single_segment_instances(env, tmp_path):
  _, examples, outs = run(env, tmp_path, DOCS, dupe_factor=2,
                          config=instances.MaskingConfig(max_seq_length=32,
                                                         max_predictions_per_seq=8,
                                                         single_segment=True))
  for inst in examples:
    assert set(inst.segment_ids) == {0} and not inst.is_random_next
  assert all(p["next_sentence_labels"][0] == 0 for _, _, p in check_records(outs, 32, 8))


def test_nsp_pairs_have_both_labels(env, tmp_path):
  docs = [[("我在学校学习。", "我在学校学习。")] * 6 for _ in range(10)]
  _, examples, _ = run(env, tmp_path, docs, dupe_factor=3)
  labels = collections.Counter(inst.is_random_next for inst in examples)
  assert labels[True] > 0 and labels[False] > 0
  for inst in examples:
    assert 0 in inst.segment_ids and 1 in inst.segment_ids


# --- determinism, shards, workers ---------------------------------------------------------------------

def test_same_seed_same_bytes_whatever_the_workers(env, tmp_path):
  docs = DOCS * 20
  outs = []
  for name, workers, seed in (("a", 1, 1), ("b", 2, 1), ("c", 1, 2)):
    (tmp_path / name).mkdir()
    _, _, files = run(env, tmp_path / name, docs, num_workers=workers, random_seed=seed,
                      chunk_documents=7, dupe_factor=2)
    outs.append(open(files[0], "rb").read())
  assert outs[0] == outs[1]
  assert outs[0] != outs[2]


@pytest.mark.parametrize("whole_word_mask", [False, True])
def test_same_seed_same_bytes_whatever_the_batch_size(env, tmp_path, whole_word_mask):
  config = instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=8,
                                   whole_word_mask=whole_word_mask)
  outs = []
  for name, batch_size in (("a", instances.BATCH_SIZE), ("b", 5)):
    (tmp_path / name).mkdir()
    stats, _, files = run(env, tmp_path / name, DOCS * 10, config=config, dupe_factor=3,
                          batch_size=batch_size)
    outs.append(open(files[0], "rb").read())
  assert stats["instances"] > 3 * 5  # several batches of 5
  assert outs[0] == outs[1]


def test_shards_split_round_robin(env, tmp_path):
  (tmp_path / "one").mkdir()
  (tmp_path / "two").mkdir()
  s1, _, one = run(env, tmp_path / "one", DOCS * 5, dupe_factor=2)
  s2, _, two = run(env, tmp_path / "two", DOCS * 5, name="a.tfrecord,b.tfrecord", dupe_factor=2)
  counts = [len(list(tfrecord.read_records(p))) for p in two]
  assert sum(counts) == s1["instances"] == s2["instances"] and abs(counts[0] - counts[1]) <= 1
  merged = [r for pair in zip(*[list(tfrecord.read_records(p)) for p in two]) for r in pair]
  assert merged == list(tfrecord.read_records(one[0]))[:len(merged)]


# --- bad input ---------------------------------------------------------------------------------------

def _cli(*args):
  return subprocess.run([sys.executable, "create_tf_record.py", *args], capture_output=True,
                        text=True, cwd=ROOT)


def test_cli_from_repo_root_and_documents_that_do_not_line_up(env, tmp_path):
  c, w = corpus(tmp_path, DOCS)
  out = tmp_path / "x.tfrecord"
  ok = _cli("--input_file", c, "--wrong_input_file", w, "--output_file", str(out), "--vocab_file",
            env.vocab, "--confusion_dir", env.cm, "--dupe_factor", "1", "--num_workers", "2")
  assert ok.returncode == 0, ok.stderr
  assert len(list(tfrecord.read_records(str(out)))) > 0
  again = _cli("--input_file", c, "--output_file", str(out), "--vocab_file", env.vocab)
  assert again.returncode == 2 and "refusing to overwrite" in again.stderr
  lines = open(w, encoding="utf-8").read().split("\n")
  lines.insert(2, "")  # a document break only in the wrong file
  bad = write(tmp_path / "bad_wrong.txt", "\n".join(lines))
  result = _cli("--input_file", c, "--wrong_input_file", bad, "--output_file",
                str(tmp_path / "y.tfrecord"), "--vocab_file", env.vocab)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: ")
  assert ":3: a document break" in result.stderr
  assert not (tmp_path / "y.tfrecord").exists()


@pytest.mark.parametrize("what,expect", [
    ("vocab_no_mask", "not a BERT vocab: missing [MASK]"),
    ("vocab_missing", "no such file"),
    ("bad_pickle", "not a pickle"),
    ("pickle_not_dict", "expected a non-empty pickled dict[str, float]"),
    ("no_input", "no such file"),
    ("empty_input", "no instances"),
])
def test_bad_inputs(env, tmp_path, what, expect):
  c, w = corpus(tmp_path, DOCS)
  args = dict(input_file=c, vocab_file=env.vocab, mask_probability_file=env.mp)
  if what == "vocab_no_mask":
    args["vocab_file"] = write(tmp_path / "v.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n我\n")
  elif what == "vocab_missing":
    args["vocab_file"] = str(tmp_path / "nope.txt")
  elif what == "bad_pickle":
    args["mask_probability_file"] = write(tmp_path / "mp.sav", "not a pickle")
  elif what == "pickle_not_dict":
    with open(tmp_path / "mp.sav", "wb") as f:
      pickle.dump([1, 2], f)
    args["mask_probability_file"] = str(tmp_path / "mp.sav")
  elif what == "no_input":
    args["input_file"] = str(tmp_path / "missing*.txt")
  elif what == "empty_input":
    args["input_file"] = write(tmp_path / "empty.txt", "\n\n")
  with pytest.raises(InputError, match=expect.replace("[", r"\[").replace("]", r"\]")):
    build.build(args.pop("input_file"), str(tmp_path / "o.tfrecord"), args.pop("vocab_file"),
                progress_bar=False, num_workers=1, **args)
  assert not (tmp_path / "o.tfrecord").exists()


def test_inspect_reports_a_record_that_does_not_fit(env, tmp_path):
  _, _, outs = run(env, tmp_path, DOCS, dupe_factor=1)
  with pytest.raises(InputError, match="does not fit the schema"):
    list(check_records(outs, 64, 8))  # made with max_seq_length 32
  result = subprocess.run([sys.executable, "-m", "csc_pretrain.create_tf_record.inspect",
                           "--input_file", outs[0], "--vocab_file", env.vocab,
                           "--max_seq_length", "32", "--max_predictions_per_seq", "8", "--show", "1"],
                          capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith("--- ") and "[CLS]" in result.stdout and "→" in result.stdout


def test_replacements_come_from_the_error_direction_tables(env, tmp_path):
  import shutil
  from csc_pretrain.char_meta import formats
  from csc_pretrain.bert.tokenization import load_vocab
  cm = tmp_path / "cm"
  shutil.copytree(env.cm, cm)
  # P(wrong | correct) rows: what a writer types for 在. The correction tables differ.
  (cm / formats.ERROR_TABLE_PHONETIC).write_text("在\t再 载\n", encoding="utf-8")
  (cm / formats.ERROR_TABLE_VISUAL).write_text("在\t再\n", encoding="utf-8")
  ids = load_vocab(env.vocab)
  vocab = build.build_vocabulary(ids, str(cm))
  candidates = (vocab.same_pinyin.get(ids["在"], []) + vocab.similar_pinyin.get(ids["在"], []))
  assert sorted(candidates) == sorted(ids[c] for c in "再载" if c in ids)
  assert vocab.visual[ids["在"]] == [ids["再"]]
  assert set(vocab.visual) == {ids["在"]}
