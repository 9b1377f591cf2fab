"""Correction speed: sentences/s of the corrector and of ``evaluate``, tiny config.

  python bench/evaluate_speed.py [--sentences 1100] [--batch_sizes 1,32] [--keep DIR]

Builds a BERT with configs/bert_config_tiny.json (random weights: the numbers
are about speed, not quality), a vocab of its 8000 tokens and a test file of
``--sentences`` wrong<TAB>correct pairs shaped like SIGHAN's (10-80 characters
with digits, Latin words and punctuation; one in ten 150-300 characters, which
is longer than --max_seq_length and so goes through the windows). Then prints

  * Corrector.correct on all sentences, per batch size: sentences/s and
    characters/s, the median of --repeats runs after one warm-up call;
  * ``python -m csc_pretrain.correct evaluate`` on the file: the wall seconds of the
    whole command (start-up and model loading included) and the sentences/s it
    reports itself (the correction only).

CPU only. The timing is only meaningful on an otherwise idle machine.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from csc_pretrain.io_utils import is_cjk  # noqa: E402
from csc_pretrain.bert.tokenization import build_vocab  # noqa: E402
from csc_pretrain.io_utils import quiet_tensorflow  # noqa: E402

CONFIG = os.path.join(ROOT, "configs", "bert_config_tiny.json")
LATIN = ["computer", "CT", "MRI", "iPhone", "PDF", "https://example.com/a?b=1", "COVID-19", "mg"]
PUNCTUATION = "，，，。、：；！？"


def make_model(directory):
  """Random-weight checkpoint of the tiny config, with bert_config.json and vocab.txt."""
  from csc_pretrain.bert import checkpoint, modeling
  with open(CONFIG) as f:
    config = json.load(f)
  # The most common CJK block first: 7766 ideographs fill 8000 tokens with the
  # special tokens, ASCII and ## continuations.
  ideographs = {chr(0x4E00 + i): 1 for i in range(0x9FFF - 0x4E00 + 1)}
  vocab = build_vocab([], extra_chars=ideographs, max_size=config["vocab_size"])
  config["vocab_size"] = len(vocab)
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(vocab) + "\n")
  with open(os.path.join(directory, "bert_config.json"), "w") as f:
    json.dump(config, f, indent=2)
  model = modeling.BertPretrainer(modeling.BertConfig.from_json_file(
      os.path.join(directory, "bert_config.json")), seed=0)
  tensors = {name: v.numpy() for name, v in model.variables_by_name.items()}
  return checkpoint.save(directory, 0, tensors), [t for t in vocab if is_cjk(t)]


def make_sentences(chinese, count, seed=0):
  """(wrong, correct) pairs: random in-vocab characters, a few non-Chinese spans,
  one wrong character in two of three sentences."""
  rng = random.Random(seed)
  common = chinese[:3000]  # a realistic spread: most text uses few characters
  pairs = []
  for _ in range(count):
    length = rng.randint(150, 300) if rng.random() < 0.1 else rng.randint(10, 80)
    parts = []
    while sum(map(len, parts)) < length:
      roll = rng.random()
      if roll < 0.05:
        parts.append(rng.choice(LATIN))
      elif roll < 0.1:
        parts.append(str(rng.randint(1, 2024)))
      elif roll < 0.2:
        parts.append(rng.choice(PUNCTUATION))
      else:
        parts.append("".join(rng.choices(common, k=rng.randint(1, 4))))
    correct = "".join(parts)[:length - 1] + "。"
    wrong = list(correct)
    positions = [i for i, ch in enumerate(correct) if is_cjk(ch)]
    if positions and rng.random() < 2 / 3:
      wrong[rng.choice(positions)] = rng.choice(common)
    pairs.append(("".join(wrong), correct))
  return pairs


def time_corrector(prefix, sentences, batch_sizes, max_seq_length, confusion_dir, repeats):
  from csc_pretrain.correct.corrector import Corrector
  characters = sum(map(len, sentences))
  for batch_size in batch_sizes:
    corrector = Corrector(prefix, confusion_dir=confusion_dir, max_seq_length=max_seq_length,
                          batch_size=batch_size)
    corrector.correct(sentences[:batch_size])  # trace the model outside the timing
    seconds = []
    for _ in range(repeats):
      t = time.perf_counter()
      corrector.correct(sentences)
      seconds.append(time.perf_counter() - t)
    s = statistics.median(seconds)
    print(f"Corrector.correct, batch {batch_size:3d}  {len(sentences) / s:9.1f} sentences/s  "
          f"{characters / s:10.0f} characters/s  ({s:.2f}s median of {repeats})", flush=True)


def time_evaluate(prefix, test_file, max_seq_length, confusion_dir):
  command = [sys.executable, "-m", "csc_pretrain.correct", "evaluate", "--checkpoint", prefix,
             "--test_file", test_file, "--max_seq_length", str(max_seq_length)]
  if confusion_dir:
    command += ["--confusion_dir", confusion_dir]
  t = time.perf_counter()
  done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
  wall = time.perf_counter() - t
  if done.returncode != 0:
    sys.exit(f"evaluate failed:\n{done.stderr[-3000:]}")
  try:
    reported = json.loads(done.stdout.strip().splitlines()[-1]).get("sentences_per_second")
  except (ValueError, IndexError):
    reported = None  # the summary line changed shape; the wall time still stands
  reported = f"{reported:9.1f} sentences/s (its own figure)" if reported else "no figure"
  print(f"python -m csc_pretrain.correct evaluate    {reported}  {wall:.2f}s wall in all")


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--sentences", type=int, default=1100)
  parser.add_argument("--batch_sizes", default="1,32", help="comma-separated")
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--confusion_dir", help="char_meta output, as evaluate takes it")
  parser.add_argument("--skip_evaluate", action="store_true", help="only time Corrector.correct")
  parser.add_argument("--keep", help="write here instead of a temp dir (and keep it)")
  args = parser.parse_args()
  quiet_tensorflow()
  root = args.keep or tempfile.mkdtemp(prefix="evaluate_bench_")
  try:
    t = time.time()
    prefix, chinese = make_model(os.path.join(root, "model"))
    pairs = make_sentences(chinese, args.sentences)
    test_file = os.path.join(root, "test.tsv")
    with open(test_file, "w", encoding="utf-8") as f:
      f.writelines(f"{wrong}\t{correct}\n" for wrong, correct in pairs)
    long_ones = sum(len(c) > args.max_seq_length - 2 for _, c in pairs)
    print(f"made the model and {len(pairs)} sentences ({sum(len(c) for _, c in pairs)} characters, "
          f"{long_ones} longer than max_seq_length {args.max_seq_length}) "
          f"in {time.time() - t:.1f}s", flush=True)
    sentences = [wrong for wrong, _ in pairs]
    time_corrector(prefix, sentences, [int(b) for b in args.batch_sizes.split(",")],
                   args.max_seq_length, args.confusion_dir, args.repeats)
    if not args.skip_evaluate:
      time_evaluate(prefix, test_file, args.max_seq_length, args.confusion_dir)
  finally:
    if not args.keep:
      shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
  main()
