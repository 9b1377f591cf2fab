"""Training examples/s: our TF2 run_pretraining against Google's TF1 run_pretraining.py.

  bash scripts/run_all.sh            # once: char_meta/ and create_data/ outputs
  bash scripts/setup_tf1_env.sh      # once: Google's code in .venv-tf1
  python bench/run_pretraining_speed.py [--steps 300] [--variants fp32,xla,bf16] [--pairs 3]

Both train the same BERT (hidden 256, 4 layers, 4 heads, intermediate 1024,
dropout 0.1, vocab 21128 like Chinese BERT) on the same TFRecords (seq 128,
20 predictions, batch 32), CPU only. The programs alternate, Google's then ours,
``--pairs`` times (A B A B ...), so a slow spell of the machine hits both; each
row prints the median over its runs, and each variant's ratio to Google's is
the median of the per-pair ratios, with their range. The rate is the steady
state: Google's from Estimator's ``global_step/sec`` log lines, ours from our
``examples/s`` log lines, the first window (graph building and compilation)
left out. Run it on an otherwise idle machine.

The last row is a ceiling measured on the spot before each pair: every matrix
product of one training step (forward, and the two products of each gradient)
and the optimizer's update, each timed alone with TF's own kernels, summed. The
products are on the rows our fp32 step computes: real tokens and nonzero-weight
predictions (--skip_padding, the default; Google's step and ours under
--jit_compile compute all rows). An fp32 step that does that work cannot beat it
by more than what running two products at once gains, whatever else is fused or
removed; its ratio to Google's says whether a target ratio is reachable on this
machine.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
TF1_PYTHON = os.path.join(ROOT, ".venv-tf1", "bin", "python")
CONFIG = {"vocab_size": 21128, "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
          "intermediate_size": 1024, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
          "initializer_range": 0.02}
BATCH = 32
SEQ, PREDICTIONS = 128, 20


def make_records(tmp):
  """A 21128-token vocab from the demo corpus + char_meta, and records made with it."""
  for needed in ("char_meta/char_meta_extra.tsv", "create_data/correct.txt"):
    if not os.path.exists(os.path.join(ROOT, needed)):
      sys.exit(f"missing {needed}: run `bash scripts/run_all.sh` first")
  vocab = os.path.join(tmp, "vocab.txt")
  subprocess.run([sys.executable, "-m", "csc_pretrain.create_tf_record.build_vocab",
                  "--input_file", "create_data/correct.txt", "--char_meta_dir", "char_meta",
                  "--max_size", str(CONFIG["vocab_size"]), "--output", vocab], check=True, cwd=ROOT,
                 stdout=subprocess.DEVNULL)
  records = os.path.join(tmp, "train.tfrecord")
  subprocess.run([sys.executable, "create_tf_record.py", "--input_file", "create_data/correct.txt",
                  "--wrong_input_file", "create_data/wrong.txt", "--output_file", records,
                  "--vocab_file", vocab, "--confusion_dir", "char_meta", "--dupe_factor", "3"],
                 check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  config = os.path.join(tmp, "bert_config.json")
  with open(config, "w") as f:
    json.dump(CONFIG, f)
  return records, config


def google(records, config, out, steps):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1", CUDA_VISIBLE_DEVICES="")
  t = time.time()
  result = subprocess.run(
      [TF1_PYTHON, "-m", "bert.run_pretraining", f"--input_file={records}", f"--output_dir={out}",
       f"--bert_config_file={config}", "--do_train=True", f"--train_batch_size={BATCH}",
       f"--max_seq_length={SEQ}", f"--max_predictions_per_seq={PREDICTIONS}",
       f"--num_train_steps={steps}",
       "--num_warmup_steps=10", "--learning_rate=1e-4", f"--save_checkpoints_steps={steps}"],
      capture_output=True, text=True, env=env, cwd=ROOT)
  if result.returncode:
    sys.exit("Google's run_pretraining failed:\n" + result.stderr[-3000:])
  rates = [float(x) for x in re.findall(r"global_step/sec: ([0-9.]+)", result.stderr)]
  return [r * BATCH for r in rates], time.time() - t


def ours(records, config, out, steps, extra):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1", CUDA_VISIBLE_DEVICES="")
  t = time.time()
  result = subprocess.run(
      [sys.executable, "run_pretraining.py", f"--input_file={records}", f"--output_dir={out}",
       f"--bert_config_file={config}", "--do_train", f"--train_batch_size={BATCH}",
       f"--max_seq_length={SEQ}", f"--max_predictions_per_seq={PREDICTIONS}",
       f"--num_train_steps={steps}",
       "--num_warmup_steps=10", "--learning_rate=1e-4", f"--save_checkpoints_steps={steps}",
       "--log_every_steps=50", "--noprogress_bar"] + extra,
      capture_output=True, text=True, env=env, cwd=ROOT)
  if result.returncode:
    sys.exit("our run_pretraining failed:\n" + result.stderr[-3000:])
  return [float(x) for x in re.findall(r"([0-9.]+) examples/s", result.stderr)], time.time() - t


def _median_seconds(fn, args, repeats):
  fn(*args)  # trace
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn(*args)
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def rows_per_step(records):
  """(token rows, prediction rows) a step computes with --skip_padding (the default),
  the median over the batches of ``records``: real tokens and nonzero-weight
  predictions, each rounded up to its bucket (modeling.ROW_BUCKET, PREDICTION_BUCKET)."""
  import tensorflow as tf
  from csc_pretrain.bert import modeling, tfrecord
  spec = {k: v for k, v in tfrecord.feature_spec(SEQ, PREDICTIONS).items()
          if k in ("input_mask", "masked_lm_weights")}
  tokens, predictions = [], []
  for batch in tf.data.TFRecordDataset(records).batch(BATCH, drop_remainder=True):
    f = tf.io.parse_example(batch, spec)
    for rows, keep, bucket in ((tokens, f["input_mask"] > 0, modeling.ROW_BUCKET),
                               (predictions, f["masked_lm_weights"] > 0, modeling.PREDICTION_BUCKET)):
      rows.append(len(modeling.padded_rows(tf.reshape(keep, [-1]), bucket)[0]))
  return statistics.median_low(tokens), statistics.median_low(predictions)


def step_floor(tokens=BATCH * SEQ, predictions=BATCH * PREDICTIONS, repeats=20):
  """(seconds, GFLOP) of what every fp32 training step of this model must do, each
  part timed here on its own with TF's kernels (median of ``repeats``): the matrix
  products (forward, in every layer and the MLM head, and the two products of each
  one's gradient) on ``tokens`` rows and ``predictions`` rows a batch (all of
  them, as Google's step, by default), and the optimizer's update of every
  variable and its two slots."""
  import tensorflow as tf
  from csc_pretrain.bert import modeling
  from csc_pretrain.run_pretraining import optimization
  c, t, m = CONFIG, tokens, predictions
  h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
  heads = c["num_attention_heads"]
  d = h // heads

  def layer(r, queries):  # a layer's products when `r` rows (`queries` a sequence) go on
    return [(1, t, h, h)] * 2 + [(1, r, h, h)] * 2 + [(1, r, h, i), (1, r, i, h),
                                                      (BATCH * heads, queries, d, SEQ),
                                                      (BATCH * heads, queries, SEQ, d)]

  # The last layer goes on only at [CLS] and the predicted positions (BertPretrainer.encode).
  forward = layer(t, SEQ) * (c["num_hidden_layers"] - 1) \
      + layer(BATCH * (PREDICTIONS + 1), PREDICTIONS + 1) + [(1, m, h, h), (1, m, h, v)]
  # C = A @ B, A [a, k], B [k, b]: dA = dC @ B^T [a, b] x [b, k], dB = A^T @ dC [k, a] x [a, b].
  products = [p for (n, a, k, b) in forward for p in ((n, a, k, b), (n, a, b, k), (n, k, a, b))]
  seconds = 0.0
  for shape in sorted(set(products)):
    n, a, k, b = shape
    x, y = tf.random.normal([n, a, k]), tf.random.normal([n, k, b])
    # A function per shape: one function over many shapes trips TF's retracing warning.
    product = tf.function(tf.linalg.matmul, autograph=False)
    seconds += products.count(shape) * _median_seconds(
        lambda x, y: product(x, y).numpy(), (x, y), repeats)
  model = modeling.BertPretrainer(modeling.BertConfig(**CONFIG), seed=0)
  variables = list(model.variables_by_name.values())
  optimizer = optimization.AdamWeightDecay(model.variables_by_name)
  grads = [tf.zeros_like(var) for var in variables]
  update = tf.function(lambda grads: optimizer.apply(zip(grads, variables), 1e-4),
                       autograph=False)
  seconds += _median_seconds(lambda g: update(g) or variables[0].numpy(), (grads,), repeats)
  return seconds, sum(2 * n * a * k * b for n, a, k, b in products) / 1e9


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--variants", default="fp32,xla,bf16",
                      help="ours: fp32 (plain), xla (--jit_compile), bf16 (--mixed_precision bf16)")
  parser.add_argument("--pairs", type=int, default=3, help="alternations of Google's and ours")
  args = parser.parse_args()
  if not os.path.exists(TF1_PYTHON):
    sys.exit("no .venv-tf1: run `bash scripts/setup_tf1_env.sh` first")
  flags = {"fp32": [], "xla": ["--jit_compile"], "bf16": ["--mixed_precision=bf16"],
           "bf16_xla": ["--mixed_precision=bf16", "--jit_compile"]}
  variants = args.variants.split(",")
  runs = {name: [] for name in ["google"] + variants}  # (steady rate, wall seconds) per run
  floors = []  # step_floor() before each pair: the machine's speed drifts too
  with tempfile.TemporaryDirectory() as tmp:
    records, config = make_records(tmp)
    rows = rows_per_step(records)  # our step skips padding; the floor counts what it computes
    for k in range(args.pairs):
      floors.append(step_floor(*rows))
      rates, seconds = google(records, config, os.path.join(tmp, f"google{k}"), args.steps)
      runs["google"].append((statistics.median(rates[1:] or rates), seconds))
      for variant in variants:
        rates, seconds = ours(records, config, os.path.join(tmp, f"{variant}{k}"), args.steps,
                              flags[variant])
        runs[variant].append((statistics.median(rates[1:] or rates), seconds))
      print(f"pair {k + 1}: Google {runs['google'][-1][0]:.1f} ex/s, " + ", ".join(
          f"{v} {runs[v][-1][0]:.1f}" for v in variants), file=sys.stderr, flush=True)
  print(f"BERT hidden {CONFIG['hidden_size']}, {CONFIG['num_hidden_layers']} layers, "
        f"{CONFIG['num_attention_heads']} heads, intermediate {CONFIG['intermediate_size']}, "
        f"vocab {CONFIG['vocab_size']}, seq {SEQ}, {PREDICTIONS} predictions, batch {BATCH}, "
        f"{args.steps} steps, {os.cpu_count()} cores, {args.pairs} alternating pairs")
  print(f"{'':34s}{'examples/s':>12s}{'vs Google (range)':>24s}{'wall s':>9s}")
  google_rates = [rate for rate, _ in runs["google"]]
  for name in ["google"] + variants:
    rates = [rate for rate, _ in runs[name]]
    wall = statistics.median(seconds for _, seconds in runs[name])
    ratios = [r / g for r, g in zip(rates, google_rates)]
    label = "Google TF1 1.15.5 (Estimator)" if name == "google" else f"ours TF2 {name}"
    ratio = (f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
             if name != "google" else "1.00x")
    print(f"{label:34s}{statistics.median(rates):12.1f}{ratio:>24s}{wall:9.1f}")
  ceilings = [BATCH / seconds for seconds, _ in floors]
  ratios = [r / g for r, g in zip(ceilings, google_rates)]
  print(f"{'ceiling (see below)':34s}{statistics.median(ceilings):12.1f}"
        f"{f'{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})':>24s}")
  print(f"(ceiling: the step's {floors[0][1]:.0f} GFLOP of matrix products, on its "
        f"{rows[0]:.0f} of {BATCH * SEQ} token rows and {rows[1]:.0f} of {BATCH * PREDICTIONS} "
        f"prediction rows, and its optimizer update, each timed alone with TF's kernels, take "
        f"{statistics.median(seconds for seconds, _ in floors) * 1000:.0f} ms: the rate if "
        "everything else in the step took no time)")


if __name__ == "__main__":
  main()
