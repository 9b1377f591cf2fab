"""Stage 3 across machines: --num_shards/--shard_index by group of documents, and merge_stats."""

import json
import os
import subprocess
import sys

import pytest

from csc_pretrain.create_tf_record import build, instances
from csc_pretrain.bert.tokenization import build_vocab
from csc_pretrain.io_utils import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCES = ["我在学校学习。", "今天天气很好。", "医生建议多喝水。", "他们喜欢北京天安门。",
             "这是第二个文档。", "患者三年前发现血压偏高。", "近一周头晕加重。", "建议低盐饮食并规律服药。"]
GROUPS = 4  # 8 documents in groups of --chunk_documents 2
CONFIG = instances.MaskingConfig(max_seq_length=32, max_predictions_per_seq=5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  d = tmp_path_factory.mktemp("shards")
  vocab = build_vocab(["".join(SENTENCES)])
  (d / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
  docs = ["\n".join(SENTENCES[i:] + SENTENCES[:i]) for i in range(len(SENTENCES))]
  wrong = [doc.replace("在", "再").replace("气", "汽") for doc in docs]
  (d / "c.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
  (d / "w.txt").write_text("\n\n".join(wrong) + "\n", encoding="utf-8")
  return d


def make(corpus, out, **kw):
  kw.setdefault("num_workers", 1)
  return build.build(str(corpus / "c.txt"), str(out), str(corpus / "vocab.txt"),
                     wrong_input_file=str(corpus / "w.txt"), config=CONFIG, dupe_factor=3,
                     random_seed=7, chunk_documents=2, progress_bar=False, **kw)[0]


def shards(corpus, directory, n):
  """Shard files of one corpus made as n machines would, and their stats."""
  made = [make(corpus, directory / "r.tfrecord", num_shards=n, shard_index=i) for i in range(n)]
  paths = [build.shard_path(str(directory / "r.tfrecord"), i, n) for i in range(n)]
  assert [s["outputs"] for s in made] == [[p] for p in paths]
  return [open(p, "rb").read() for p in paths], made


def test_shards_hold_the_one_machine_records_byte_for_byte(corpus, tmp_path):
  single = make(corpus, tmp_path / "one.tfrecord")
  whole = (tmp_path / "one.tfrecord").read_bytes()
  assert single["documents"] == 2 * GROUPS and single["instances"] > GROUPS
  # One shard per group: each is one group's records, and in order they are the whole file.
  group, _ = shards(corpus, tmp_path / "g", GROUPS)
  assert all(group) and b"".join(group) == whole
  # Any other machine count: shard i is groups i, i + n, ... of those very bytes.
  for n in (2, 3):
    parts, stats = shards(corpus, tmp_path / f"n{n}", n)
    assert parts == [b"".join(group[g] for g in range(i, GROUPS, n)) for i in range(n)], n
    assert sum(s["documents"] for s in stats) == single["documents"]
  # The same shard made again, with another worker count: the same bytes.
  again = make(corpus, tmp_path / "again.tfrecord", num_shards=3, shard_index=1, num_workers=2)
  assert open(again["outputs"][0], "rb").read() == shards(corpus, tmp_path / "n3b", 3)[0][1]


def test_merge_stats_sums_the_shards_to_the_one_machine_stats(corpus, tmp_path):
  single = make(corpus, tmp_path / "one.tfrecord")
  _, stats = shards(corpus, tmp_path, 3)
  files = [p + ".stats.json" for s in stats for p in s["outputs"]]
  merged_path = tmp_path / "merged.stats.json"
  result = subprocess.run([sys.executable, "-m", "csc_pretrain.create_tf_record", "merge_stats",
                           "--output", str(merged_path), str(tmp_path / "r-*.tfrecord.stats.json")],
                          capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-2000:]
  merged = json.loads(merged_path.read_text())
  for key in ("instances", "tokens", "documents", "sentences", "masked_positions", "masked_by_kind",
              "errors_cut", "misaligned_sentences", "unk_rate", "unk_tokens", "input_tokens",
              "random_seed", "max_seq_length", "max_predictions_per_seq", "dupe_factor",
              "chunk_documents"):
    assert merged[key] == single[key], key
  assert merged["num_shards"] == 3 and merged["outputs"] == [s["outputs"][0] for s in stats]
  assert build.merge_stats_files(files[::-1], str(tmp_path / "m2.json")) == merged  # any order


def test_merge_stats_refuses_missing_repeated_or_mismatched_shards(corpus, tmp_path):
  _, stats = shards(corpus, tmp_path, 3)
  named = [(f"s{i}.json", s) for i, s in enumerate(stats)]
  with pytest.raises(InputError, match=r"s0.json: 1 of 3 shards missing: index 2"):
    build.merge_stats(named[:2])
  with pytest.raises(InputError, match=r"s2.json: shard 1 again \(also s1.json\)"):
    build.merge_stats(named[:2] + [("s2.json", stats[1])])
  other = dict(stats[2], random_seed=8)
  with pytest.raises(InputError, match=r"s2.json: random_seed is 8 but 7 in s0.json"):
    build.merge_stats(named[:2] + [("s2.json", other)])
  (tmp_path / "x.json").write_text("{}")
  result = subprocess.run([sys.executable, "-m", "csc_pretrain.create_tf_record", "merge_stats",
                           "--output", str(tmp_path / "m.json"), str(tmp_path / "x.json")],
                          capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'x.json'}: not a "
                                                          "create_tf_record stats.json of a shard")
  assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("flags, message", [
    (["--num_shards=0"], "--num_shards: must be >= 1, got 0"),
    (["--num_shards=2", "--shard_index=2"], "--shard_index: must be in [0, 1], got 2"),
    (["--num_shards=3", "--shard_index=-1"], "--shard_index: must be in [0, 2], got -1"),
    (["--num_shards=6", "--shard_index=5", "--chunk_documents=2"],
     "--shard_index: shard 5 of 6 gets no documents"),
])
def test_bad_shard_flags_fail_with_one_line(corpus, tmp_path, flags, message):
  out = tmp_path / "r.tfrecord"
  result = subprocess.run([sys.executable, "-m", "csc_pretrain.create_tf_record",
                           f"--input_file={corpus / 'c.txt'}", f"--output_file={out}",
                           f"--vocab_file={corpus / 'vocab.txt'}", "--max_seq_length=32",
                           "--max_predictions_per_seq=5", "--num_workers=1"] + flags,
                          capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: " + message), last
  assert not os.listdir(tmp_path)  # nothing written
