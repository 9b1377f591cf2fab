"""Bad input, everywhere, the same way: one ``error: path:line: message`` line, exit 2.

Three classes: corrupt checkpoints given to every stage that reads one (through
the real CLIs), flags that are out of range or contradict each other, and
malformed lines in every reader (which must name ``file:line``, never skip).
"""

import json
import math
import os
import pickle
import subprocess
import sys

import pytest

from csc_pretrain.char_meta import decompose, formats
from csc_pretrain.create_data import mask_probability
from csc_pretrain.create_tf_record import build as record_build
from csc_pretrain.create_tf_record import build_vocab, inspect
from csc_pretrain.create_tf_record import instances
from csc_pretrain.bert.tokenization import load_vocab
from csc_pretrain.io_utils import InputError, check_range
from csc_pretrain.bert import checkpoint, modeling, tfrecord
from csc_pretrain.run_pretraining import train
from tests.helpers import cfg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_FILE = ".data-00000-of-00001"


def _cli(*args):
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                        timeout=300)


def _assert_one_line_error(result, *names):
  """Exit 2, no traceback, and the last stderr line is ``error: ...`` naming ``names``."""
  assert result.returncode == 2, result.stderr[-3000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: "), result.stderr[-3000:]
  for name in names:
    assert name in last, last
  return last


# --- corrupt checkpoints ---------------------------------------------------------------------------

def _truncate(prefix):
  path = prefix + DATA_FILE
  with open(path, "rb") as f:
    raw = f.read()
  with open(path, "wb") as f:
    f.write(raw[:len(raw) // 2])


def _garbage_index(prefix):
  with open(prefix + ".index", "wb") as f:
    f.write(b"this is not an sstable" * 8)


def _no_data(prefix):
  os.remove(prefix + DATA_FILE)


def _bad_checksums(prefix):
  """Same size, flipped bits throughout: only the tensors' CRCs can tell."""
  path = prefix + DATA_FILE
  with open(path, "rb") as f:
    raw = bytearray(f.read())
  for k in range(0, len(raw), 97):
    raw[k] ^= 0xFF
  with open(path, "wb") as f:
    f.write(bytes(raw))


CORRUPTIONS = {"truncated": _truncate, "garbage_index": _garbage_index, "no_data": _no_data,
               "bad_checksums": _bad_checksums}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_every_corruption_is_one_input_error_naming_the_checkpoint(trained, kind):
  prefix, _, tensors = trained
  CORRUPTIONS[kind](prefix)
  with pytest.raises(InputError) as caught:
    reader, shapes = checkpoint.read_shapes(prefix)
    for name in sorted(shapes):
      reader.get_tensor(name)
  assert "model.ckpt-42" in str(caught.value)
  assert len(str(caught.value).splitlines()) == 1


def test_restore_of_a_corrupt_checkpoint_is_an_input_error(trained):
  prefix, config, _ = trained
  _bad_checksums(prefix)
  model = modeling.BertPretrainer(config, seed=0)
  with pytest.raises(InputError, match=r"model\.ckpt-42\.data-00000-of-00001: corrupt checkpoint"):
    checkpoint.restore(prefix, model.variables_by_name)


def test_resume_from_a_corrupt_checkpoint_is_an_input_error(data, tmp_path):
  import numpy as np
  out = tmp_path / "out"
  prefix = checkpoint.save(str(out), 3, {"global_step": np.int64(3),
                                         "bert/pooler/dense/bias": np.zeros([32], np.float32)})
  _truncate(prefix)
  with pytest.raises(InputError, match=r"out/model\.ckpt-3\.data-00000-of-00001: truncated"):
    train.run(cfg(data, out))
  assert sorted(os.listdir(out)) == ["checkpoint", "model.ckpt-3" + DATA_FILE, "model.ckpt-3.index"]


def test_strip_adam_cli(trained):
  prefix, _, _ = trained
  _bad_checksums(prefix)
  result = _cli("strip_adam.py", prefix)
  _assert_one_line_error(result, "model.ckpt-42", "corrupt checkpoint")
  assert not os.path.exists(os.path.join(os.path.dirname(prefix), "stripped"))


def test_run_pretraining_cli_init_checkpoint(data, trained, tmp_path):
  prefix, _, _ = trained
  _truncate(prefix)
  out = tmp_path / "out"
  result = _cli("run_pretraining.py", f"--bert_config_file={data / 'bert_config.json'}",
                f"--input_file={data / 'train.tfrecord'}", f"--output_dir={out}",
                f"--init_checkpoint={prefix}", "--max_seq_length=32",
                "--max_predictions_per_seq=5", "--train_batch_size=8", "--num_train_steps=2",
                "--noprogress_bar")
  _assert_one_line_error(result, "model.ckpt-42", "truncated checkpoint")
  assert not out.exists()


@pytest.mark.parametrize("fmt,kind", [("hf", "bad_checksums"), ("savedmodel", "garbage_index")])
def test_export_cli(trained, tmp_path, fmt, kind):
  prefix, _, _ = trained
  CORRUPTIONS[kind](prefix)
  out = tmp_path / "export"
  result = _cli("-m", "csc_pretrain.export", f"--checkpoint={prefix}", f"--format={fmt}",
                f"--output={out}")
  _assert_one_line_error(result, "model.ckpt-42")
  assert not out.exists()
  assert [f for f in os.listdir(tmp_path) if f.startswith(".export")] == []


def test_correct_cli(trained, tmp_path):
  prefix, _, _ = trained
  _no_data(prefix)
  out = tmp_path / "out.jsonl"
  result = _cli("-m", "csc_pretrain.correct", f"--checkpoint={prefix}", f"--output_file={out}",
                "一二三")
  _assert_one_line_error(result, "model.ckpt-42", "no such file")
  assert not out.exists()


def test_evaluate_cli(trained, tmp_path):
  prefix, _, _ = trained
  _truncate(prefix)
  test_file = tmp_path / "test.tsv"
  test_file.write_text("一二三\t一二四\n", encoding="utf-8")
  result = _cli("-m", "csc_pretrain.correct", "evaluate", f"--checkpoint={prefix}",
                f"--test_file={test_file}")
  _assert_one_line_error(result, "model.ckpt-42", "truncated checkpoint")
  assert result.stdout == ""


# --- flags out of range or contradicting each other --------------------------------------------------

def test_check_range_wording():
  with pytest.raises(InputError, match=r"^--masked_lm_prob: must be in \(0, 1\], got 1.5$"):
    check_range("--masked_lm_prob", 1.5, 0, 1, low_open=True)
  with pytest.raises(InputError, match=r"^--top_k: must be >= 1, got 0$"):
    check_range("top_k", 0, low=1)
  with pytest.raises(InputError, match="got nan"):
    check_range("--short_seq_prob", math.nan, 0, 1)
  check_range("--short_seq_prob", 0.0, 0, 1)
  check_range("--num_workers", None, low=1)


@pytest.mark.parametrize("config,kw,flag", [
    (dict(max_seq_length=32, max_predictions_per_seq=30), {}, "--max_predictions_per_seq"),
    (dict(max_seq_length=32, max_predictions_per_seq=0), {}, "--max_predictions_per_seq"),
    (dict(max_seq_length=4, max_predictions_per_seq=1), {}, "--max_seq_length"),
    (dict(masked_lm_prob=0.0), {}, "--masked_lm_prob"),
    (dict(masked_lm_prob=1.5), {}, "--masked_lm_prob"),
    (dict(short_seq_prob=-0.1), {}, "--short_seq_prob"),
    ({}, dict(dupe_factor=0), "--dupe_factor"),
    ({}, dict(num_workers=0), "--num_workers"),
    ({}, dict(chunk_documents=0), "--chunk_documents"),
])
def test_create_tf_record_flags(config, kw, flag):
  with pytest.raises(InputError, match="^" + flag + ": "):
    record_build.check_flags(instances.MaskingConfig(**config), **kw)


def test_create_tf_record_flag_edges_that_are_legal():
  record_build.check_flags(instances.MaskingConfig(max_seq_length=5, max_predictions_per_seq=2))
  record_build.check_flags(instances.MaskingConfig(max_seq_length=3, max_predictions_per_seq=1,
                                                   single_segment=True, masked_lm_prob=1.0,
                                                   short_seq_prob=0.0))


@pytest.mark.parametrize("args,flag", [
    ((32, 40), "--max_predictions_per_seq"), ((2, 1), "--max_seq_length"),
    ((32, 0), "--max_predictions_per_seq"), ((32, 5, -1), "--show"),
])
def test_inspect_flags(args, flag):
  with pytest.raises(InputError, match="^" + flag + ": "):
    inspect.check_flags(*args)


@pytest.mark.parametrize("kw,flag", [
    (dict(max_predictions_per_seq=40), "--max_predictions_per_seq"),
    (dict(eval_batch_size=0), "--eval_batch_size"),
    (dict(num_warmup_steps=-1), "--num_warmup_steps"),
    (dict(save_checkpoints_steps=0), "--save_checkpoints_steps"),
    (dict(keep_checkpoint_max=-1), "--keep_checkpoint_max"),
    (dict(log_every_steps=0), "--log_every_steps"),
    (dict(early_stopping_mode="lowest"), "--early_stopping_mode"),
    (dict(best_mode="up"), "--best_mode"),
    (dict(learning_rate=-1e-3), "--learning_rate"),
    (dict(train_batch_size=0), "--train_batch_size"),
    (dict(init_checkpoint_regex="^bert/"), "--init_checkpoint_regex"),
    (dict(freeze_regex="("), "--freeze_regex"),
])
def test_run_pretraining_flags(data, tmp_path, kw, flag):
  with pytest.raises(InputError, match="^" + flag + ": "):
    train.run(cfg(data, tmp_path / "out", **kw))
  assert not (tmp_path / "out").exists()


def test_warmup_longer_than_the_run_is_legal(data, tmp_path):
  train.check_flags(cfg(data, tmp_path, num_warmup_steps=100, num_train_steps=6))


@pytest.mark.parametrize("kw,flag", [
    (dict(pairs_file="p.tsv", correct_file="c.txt"), "--pairs_file"),
    (dict(pairs_file="p.tsv", wrong_file="w.txt"), "--pairs_file"),
    (dict(wrong_file="w.txt"), "--wrong_file"),
    ({}, "--correct_file"),
    (dict(pairs_file="p.tsv", max_error_ratio=0.0), "--max_error_ratio"),
    (dict(pairs_file="p.tsv", max_error_ratio=1.2), "--max_error_ratio"),
    (dict(correct_file="c.txt", synthetic_rate=1.5), "--synthetic_rate"),
    (dict(correct_file="c.txt", synthetic_phonetic_share=-0.1), "--synthetic_phonetic_share"),
    (dict(correct_file="c.txt", pairs_format_given=True), "--pairs_format"),
    (dict(pairs_file="p.tsv", smoothing=-1.0), "--smoothing"),
])
def test_create_data_flags(kw, flag):
  from csc_pretrain.create_data.__main__ import check_flags
  with pytest.raises(InputError, match="^" + flag + ": "):
    check_flags(**kw)


@pytest.mark.parametrize("args,flag", [
    ((0, 512, 1.0), "--top_k"), ((50, 0, 1.0), "--block_size"), ((50, 512, -1.0), "--merge_bonus"),
    ((50, 512, 1.0, "d.txt", "ids.txt"), "--decomposition_file"),
])
def test_char_meta_flags(args, flag):
  from csc_pretrain.char_meta.__main__ import check_flags
  with pytest.raises(InputError, match="^" + flag + ": "):
    check_flags(*args)


@pytest.mark.parametrize("args,flag", [
    (("-m", "csc_pretrain.char_meta", "--output_dir=OUT", "--top_k=0"), "--top_k"),
    (("-m", "csc_pretrain.create_data", "--output_dir=OUT", "--pairs_file=p.tsv",
      "--correct_file=c.txt"), "--pairs_file"),
    (("create_tf_record.py", "--input_file=c.txt", "--output_file=OUT/x.tfrecord",
      "--vocab_file=v.txt", "--max_seq_length=16", "--max_predictions_per_seq=20"),
     "--max_predictions_per_seq"),
    (("-m", "csc_pretrain.create_tf_record.inspect", "--input_file=x", "--vocab_file=v",
      "--max_seq_length=8", "--max_predictions_per_seq=9"), "--max_predictions_per_seq"),
    (("-m", "csc_pretrain.create_tf_record.build_vocab", "--output=OUT/vocab.txt"),
     "--input_file"),
    (("strip_adam.py", "x/model.ckpt-1", "--in_place", "--output=OUT/y"), "--in_place"),
    (("-m", "csc_pretrain.export", "--checkpoint=x", "--output=OUT/e", "--top_k=0"), "--top_k"),
    (("-m", "csc_pretrain.correct", "--checkpoint=x", "--top_k=0", "一"), "--top_k"),
    (("-m", "csc_pretrain.correct", "--checkpoint=x", "--min_prob=1.5", "一"), "--min_prob"),
    (("-m", "csc_pretrain.correct", "--checkpoint=x", "--batch_size=0", "一"), "--batch_size"),
    (("-m", "csc_pretrain.correct", "evaluate", "--checkpoint=x", "--test_file=TEST",
      "--max_seq_length=2"),
     "--max_seq_length"),
])
def test_clis_refuse_bad_flags_in_one_line_before_any_work(tmp_path, args, flag):
  out = tmp_path / "out"
  test_file = tmp_path / "test.tsv"
  test_file.write_text("一二\t一三\n", encoding="utf-8")
  args = [a.replace("OUT", str(out)).replace("TEST", str(test_file)) for a in args]
  result = _cli(*args)
  last = _assert_one_line_error(result)
  assert last.startswith(f"error: {flag}: "), last
  assert not out.exists()


def test_correct_max_seq_length_beyond_the_model(trained):
  prefix, _, _ = trained
  result = _cli("-m", "csc_pretrain.correct", f"--checkpoint={prefix}", "--max_seq_length=65",
                "一二")
  _assert_one_line_error(result, "--max_seq_length: 65 is more than the model's "
                         "max_position_embeddings 64")


def test_thresholds_file_values_are_checked(trained, tmp_path):
  prefix, _, _ = trained
  th = tmp_path / "th.json"
  th.write_text(json.dumps({"min_prob": 2.0, "margin": 0.1, "top_k": 5}))
  result = _cli("-m", "csc_pretrain.correct", f"--checkpoint={prefix}", f"--thresholds={th}",
                "一二")
  _assert_one_line_error(result, f"{th}: min_prob is 2.0: must be in [0, 1]")


# --- malformed lines in every reader -----------------------------------------------------------------

def _write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text, encoding="utf-8")
  return str(path)


def _raises_at(path, line, call, *args):
  with pytest.raises(InputError) as caught:
    call(*args)
  assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
  return str(caught.value)


def test_confusion_set_files(tmp_path):
  path = _write(tmp_path, "confusion_sets.tsv", "清\t请 情\n请\t清情\n")
  assert "not one character" in _raises_at(path, 2, formats.read_confusion_sets, path)
  path = _write(tmp_path, "dupe.tsv", "清\t请\n\n清\t情\n")
  assert "first on line 1" in _raises_at(path, 3, formats.read_confusion_sets, path)
  path = _write(tmp_path, "spaces.tsv", "清\t请  情\n")
  _raises_at(path, 1, formats.read_confusion_sets, path)
  path = _write(tmp_path, "ok.tsv", "清\t请 情\n晴\t\n")
  assert formats.read_confusion_sets(path) == {"清": ["请", "情"], "晴": []}


def test_confusion_scores(tmp_path):
  header = "char\tcandidate\tids\tstruct\tstrokes\tvisual\tphonetic\tcombined\tsets\n"
  good = "清\t请\t0.5\t0.5\t0.5\t0.5\t0.9\t0.9\tcp\n"
  path = _write(tmp_path, "confusion_scores.tsv", header + good + "\n" + good + "清\t晴\t0.5\n")
  assert "3 fields" in _raises_at(path, 5, mask_probability.read_confusability, path)
  path = _write(tmp_path, "sets.tsv", header + good.replace("\tcp\n", "\tcx\n"))
  _raises_at(path, 2, mask_probability.read_confusability, path)
  path = _write(tmp_path, "nan.tsv", header + good.replace("0.9\t0.9", "nan\t0.9"))
  _raises_at(path, 2, mask_probability.read_confusability, path)
  path = _write(tmp_path, "ok.tsv", header + good + "\n")  # an empty line: a char with no pairs
  assert mask_probability.read_confusability(path)["清"]["phonetic"] == pytest.approx(0.9 / 5)


def test_char_meta_extra(tmp_path):
  header = "\t".join(formats.EXTRA_HEADER) + "\n"
  row = "清\tU+6E05\tqing1\t⿰氵青\t⿰…\t44111\t5\t100\t1\n"
  path = _write(tmp_path, "char_meta_extra.tsv", header + row + "请\tU+8BF7\tqing3\n")
  _raises_at(path, 3, lambda p: list(formats.read_char_meta_extra(p)), path)
  _raises_at(path, 3, record_build._readings, str(tmp_path))
  _raises_at(path, 3, build_vocab.char_meta_counts, str(tmp_path))
  path = _write(tmp_path, "char_meta_extra.tsv", header + row.replace("\t100\t", "\tmany\t"))
  _raises_at(path, 2, build_vocab.char_meta_counts, str(tmp_path))
  path = _write(tmp_path, "char_meta_extra.tsv", "char\tcode\n")
  _raises_at(path, 1, record_build._readings, str(tmp_path))


def test_frequency_lists(tmp_path):
  path = _write(tmp_path, "freq.tsv", "的\t100\n一\t2\t50\n")
  assert "3 fields" in _raises_at(path, 2, formats.load_frequency_list, path)
  path = _write(tmp_path, "freq2.tsv", "的\t100\n一二\t50\n")
  _raises_at(path, 2, formats.load_frequency_list, path)
  path = _write(tmp_path, "freq3.tsv", "的\t-5\n")
  _raises_at(path, 1, formats.load_frequency_list, path)
  path = _write(tmp_path, "freq4.tsv", "的\tinf\n")
  _raises_at(path, 1, formats.load_frequency_list, path)
  path = _write(tmp_path, "freq.csv", "serial,char,count\n1,的,100\n2,一\n")
  _raises_at(path, 3, formats.load_frequency_list, path)


def test_external_confusion_sets_and_faspell_char_meta(tmp_path):
  path = _write(tmp_path, "ext.txt", "清\t请\n清请\t晴\n")
  _raises_at(path, 2, formats.read_external_confusions, path)
  path = _write(tmp_path, "char_meta.txt", "U+6E05\t清\tqing1;null;null;null;null\t⿰氵青\n清\n")
  _raises_at(path, 2, formats.read_faspell_char_meta, path)


def test_ids_and_decomposition_files(tmp_path):
  path = _write(tmp_path, "ids.txt", "U+6E05\t清\t⿰氵青\nU+6E05\t请\t⿰讠青\n")
  assert "not the code of" in _raises_at(path, 2, decompose.parse_ids_file, path)
  path = _write(tmp_path, "ids2.txt", "U+6E05\t清\t⿰氵青\n# note\nU+6E05\t清\t⿰氵靑\n")
  assert "first on line 1" in _raises_at(path, 3, decompose.parse_ids_file, path)
  path = _write(tmp_path, "decomp.txt", "清:a(氵,青)\n青:d(龶,月\n")
  _raises_at(path, 2, decompose.parse_cjk_decomp, path)


def test_mask_probability_pickle(tmp_path):
  for name, value in (("list.sav", [0.1]), ("empty.sav", {}), ("nan.sav", {"的": math.nan}),
                      ("str.sav", {"的": "0.1"}), ("big.sav", {"的": 3.0}),
                      ("bool.sav", {"的": True})):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(value))
    _raises_at_file(str(path), mask_probability.load, str(path))
  path = tmp_path / "text.sav"
  path.write_text("的 0.1\n")
  _raises_at_file(str(path), mask_probability.load, str(path), match="not a pickle")
  path = tmp_path / "ok.sav"
  path.write_bytes(pickle.dumps({"的": 0.1, "了": 1}))
  assert mask_probability.load(str(path)) == {"的": 0.1, "了": 1}


def _raises_at_file(path, call, *args, match=""):
  """For whole-file problems the message is ``path: ...`` (no line number)."""
  with pytest.raises(InputError) as caught:
    call(*args)
  assert str(caught.value).startswith(f"{path}: ") or str(caught.value).startswith(f"{path}:0"), \
      str(caught.value)
  assert match in str(caught.value)


def test_vocab_files(tmp_path):
  specials = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
  path = _write(tmp_path, "empty.txt", "")
  _raises_at_file(path, load_vocab, path, match="missing")
  path = _write(tmp_path, "dupe.txt", specials + "的\n的\n")
  assert "first on line 6" in _raises_at(path, 7, load_vocab, path)
  path = _write(tmp_path, "blank.txt", specials + "\n的\n")
  _raises_at(path, 6, load_vocab, path)
  path = _write(tmp_path, "nomask.txt", specials.replace("[MASK]\n", "") + "的\n")
  _raises_at_file(path, load_vocab, path, match="[MASK]")


@pytest.mark.parametrize("content,match", [
    ({"hidden_size": 32}, "no vocab_size"),
    ({"vocab_size": "150"}, "vocab_size is '150': expected int"),
    ({"vocab_size": 150, "hidden_size": 32.5}, "hidden_size is 32.5"),
    ({"vocab_size": 150, "num_hidden_layers": True}, "num_hidden_layers is True"),
    ({"vocab_size": 150, "hidden_size": 0}, "hidden_size is 0: must be >= 1"),
    ({"vocab_size": 150, "hidden_dropout_prob": 1.5}, "hidden_dropout_prob is 1.5"),
    ({"vocab_size": 150, "hidden_act": 3}, "hidden_act is 3"),
    ([1, 2], "not an object"),
])
def test_bert_config(tmp_path, content, match):
  path = _write(tmp_path, "bert_config.json", json.dumps(content))
  _raises_at_file(path, modeling.BertConfig.from_json_file, path, match=match)


def test_thresholds_json_unknown_keys(tmp_path):
  from csc_pretrain.correct.corrector import Thresholds
  path = _write(tmp_path, "th.json", json.dumps({"min_prob": 0.3, "top": 5}))
  _raises_at_file(path, Thresholds.from_file, path, match="unknown keys ['top']")


def test_corrupt_tfrecords(data, tmp_path):
  import struct
  raw = (data / "train.tfrecord").read_bytes()
  starts = [0]  # where each record's 12-byte header begins
  while len(starts) < 4:
    (length,) = struct.unpack("<Q", raw[starts[-1]:starts[-1] + 8])
    starts.append(starts[-1] + 12 + length + 4)
  truncated = tmp_path / "truncated.tfrecord"
  truncated.write_bytes(raw[:starts[1] + 20])
  flipped = bytearray(raw[:starts[3]])
  flipped[starts[2] + 12 + 5] ^= 0xFF  # inside the third record's data
  (tmp_path / "flipped.tfrecord").write_bytes(bytes(flipped))
  for path, line, what in ((truncated, 2, "truncated"), (tmp_path / "flipped.tfrecord", 3, "CRC")):
    with pytest.raises(InputError) as caught:
      list(tfrecord.check_records([str(path)], 32, 5))
    assert str(caught.value).startswith(f"{path}:{line}: record {line}: "), str(caught.value)
    assert what in str(caught.value)
    with pytest.raises(InputError, match=f"^{path}:{line}: "):
      list(tfrecord.check_records([str(path)], 32, 5, 10000, limit=100))


def test_a_corrupt_record_past_the_checked_sample_is_named_while_training(data, tmp_path):
  import struct
  raw = (data / "train.tfrecord").read_bytes() * 6  # TFRecord files concatenate
  starts = [0]
  while len(starts) <= 130:
    (length,) = struct.unpack("<Q", raw[starts[-1]:starts[-1] + 8])
    starts.append(starts[-1] + 12 + length + 4)
  flipped = bytearray(raw)
  flipped[starts[129] + 12 + 5] ^= 0xFF  # record 130: past the 100 checked before training
  bad = tmp_path / "bad.tfrecord"
  bad.write_bytes(bytes(flipped))
  with pytest.raises(InputError, match=f"^{bad}:130: record 130: corrupt data CRC$"):
    train.run(cfg(data, tmp_path / "out", input_file=str(bad)))
