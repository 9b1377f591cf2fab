r"""Training examples/s and model FLOPs utilisation (MFU) of run_pretraining's step.

  python bench/run_pretraining_mfu.py --config configs/bert_base_gpu.yaml --peak_tflops 312
  python bench/run_pretraining_mfu.py --bert_config_file configs/bert_config_tiny.json \
      --train_batch_size 8 --steps 5 --peak_tflops 1     # CPU smoke run

Takes run_pretraining's own flags and YAML (batch, sequence length, accumulation,
--mixed_precision, --jit_compile, --distribution_strategy), builds the same
Trainer and times its compiled step (forward, backward, all-reduce, clipping,
AdamWeightDecay) on random batches shaped like the records. The input pipeline
is left out on purpose: the figure is the model's. Records are not needed.

Model FLOPs count each matmul once (2 FLOPs a multiply-add), three times over
for forward and backward, and no recomputation (PaLM's MFU definition). Per
sequence of S tokens with P masked positions, L layers, hidden H, intermediate
I and vocab V, the forward pass is

  L * S * (8 H^2 + 4 H I + 4 S H)     Q, K, V, output projections, FFN, QK^T and AV
  + P * (2 H^2 + 2 H V)              MLM transform and tied decoder, masked positions only
  + 2 H^2 + 4 H                      pooler and NSP

(embedding lookups, softmax, LayerNorm and the optimizer are not counted). The
6 * parameters * tokens rule would count the 21128 x 768 decoder at every
token instead of the P masked ones, which overstates BERT's FLOPs by ~20 %.
--peak_tflops is one device's peak at the precision you train in (A100: 312
bf16 / 156 TF32 dense; H100 SXM: 989 bf16 dense); MFU divides by it times the
number of replicas.
"""

import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from csc_pretrain.io_utils import InputError, check_range, quiet_tensorflow, run_cli  # noqa: E402
from csc_pretrain.run_pretraining import __main__ as cli  # noqa: E402  (its flags and YAML loader)

FLAGS = flags.FLAGS


def forward_flops_per_sequence(c, seq_length, predictions):
  """Matmul FLOPs of one sequence's forward pass (see the module docstring)."""
  h, i, s = c.hidden_size, c.intermediate_size, seq_length
  encoder = c.num_hidden_layers * s * (8 * h * h + 4 * h * i + 4 * s * h)
  mlm = predictions * (2 * h * h + 2 * h * c.vocab_size)
  return encoder + mlm + 2 * h * h + 4 * h


def train_flops_per_sequence(c, seq_length, predictions):
  return 3 * forward_flops_per_sequence(c, seq_length, predictions)


def random_batch(c, cfg, micro, rng):
  """One ``[accumulation, micro, ...]`` batch with the records' names, dtypes and shapes."""
  shape = (cfg.gradient_accumulation_steps, micro)
  s, p = cfg.max_seq_length, cfg.max_predictions_per_seq
  positions = np.sort(np.stack([rng.choice(np.arange(1, s), p, replace=False)
                                for _ in range(np.prod(shape))]), axis=-1).reshape(shape + (p,))
  segment = (np.arange(s) >= s // 2).astype(np.int32)
  return {
      "input_ids": rng.integers(0, c.vocab_size, shape + (s,), dtype=np.int32),
      "input_mask": np.ones(shape + (s,), np.int32),
      "segment_ids": np.broadcast_to(segment, shape + (s,)).copy(),
      "masked_lm_positions": positions.astype(np.int32),
      "masked_lm_ids": rng.integers(0, c.vocab_size, shape + (p,), dtype=np.int32),
      "masked_lm_weights": np.ones(shape + (p,), np.float32),
      "next_sentence_labels": rng.integers(0, 2, shape + (1,), dtype=np.int32),
  }


def measure(cfg, steps, warmup_steps, peak_tflops=None):
  """Times ``steps`` train steps after ``warmup_steps``; returns a dict of figures."""
  import tensorflow as tf
  from csc_pretrain.bert import modeling
  from csc_pretrain.run_pretraining import train
  train.check_flags(cfg)
  c = modeling.BertConfig.from_json_file(cfg.bert_config_file)
  if cfg.max_seq_length > c.max_position_embeddings:
    raise InputError(cfg.bert_config_file, 0, f"max_position_embeddings "
                     f"{c.max_position_embeddings} < --max_seq_length {cfg.max_seq_length}")
  strategy = train.make_strategy(cfg)
  replicas = strategy.num_replicas_in_sync
  micro = train.micro_batch_size(cfg, replicas)
  tf.random.set_seed(cfg.seed)
  trainer = train.Trainer(c, cfg, strategy)
  batch = random_batch(c, cfg, micro, np.random.default_rng(cfg.seed))
  ds = strategy.distribute_datasets_from_function(
      lambda ctx: tf.data.Dataset.from_tensors(batch).repeat())
  iterator = iter(ds)
  for _ in range(warmup_steps):  # tracing, XLA compilation, autotuning
    float(trainer._train_step(next(iterator))[0]["mlm_loss_sum"])
  start = time.perf_counter()
  for _ in range(steps):
    sums, _, _ = trainer._train_step(next(iterator))
  float(sums["mlm_loss_sum"])  # waits for the device: GPU steps run asynchronously
  seconds = time.perf_counter() - start
  params = sum(int(np.prod(v.shape)) for v in trainer.model.variables_by_name.values())
  per_sequence = train_flops_per_sequence(c, cfg.max_seq_length, cfg.max_predictions_per_seq)
  examples_per_second = steps * cfg.train_batch_size / seconds
  achieved = examples_per_second * per_sequence / 1e12
  out = {"replicas": replicas, "parameters": params, "step_ms": 1000 * seconds / steps,
         "examples_per_second": examples_per_second,
         "tokens_per_second": examples_per_second * cfg.max_seq_length,
         "train_gflop_per_example": per_sequence / 1e9, "achieved_tflops": achieved,
         "strategy": type(strategy).__name__}
  if peak_tflops:
    out["mfu"] = achieved / (peak_tflops * replicas)
  return out


def main(argv):
  del argv

  def run():
    if FLAGS.config:
      cli.apply_yaml(FLAGS.config)
    if not FLAGS.bert_config_file:
      raise InputError("--bert_config_file", 0, "required (on the command line or in --config)")
    check_range("--steps", FLAGS.steps, low=1)
    check_range("--warmup_steps", FLAGS.warmup_steps, low=1)
    check_range("--peak_tflops", FLAGS.peak_tflops, low=0, low_open=True)
    from csc_pretrain.run_pretraining import train
    values = {name: FLAGS[name].value for name, _, _ in cli.FLAG_TABLE}
    values.update(input_file="", output_dir="", do_eval=False)  # nothing is read or written
    from csc_pretrain.bert.tfrecord import DEFAULT_LENGTHS
    for key, default in DEFAULT_LENGTHS.items():  # no records to take them from
      values[key] = values[key] or default
    return measure(train.RunConfig(**values), FLAGS.steps, FLAGS.warmup_steps, FLAGS.peak_tflops)

  r = run_cli(run)
  print(f"{r['strategy']}, {r['replicas']} replica(s), {r['parameters'] / 1e6:.1f}M parameters, "
        f"batch {FLAGS.train_batch_size} x seq {FLAGS.max_seq_length or 128}, "
        f"{FLAGS.mixed_precision}{' + XLA' if FLAGS.jit_compile else ''}")
  print(f"step {r['step_ms']:.1f} ms   {r['examples_per_second']:.1f} examples/s   "
        f"{r['tokens_per_second']:.0f} tokens/s")
  print(f"model FLOPs {r['train_gflop_per_example']:.2f} GFLOP/example (fwd+bwd)   "
        f"achieved {r['achieved_tflops']:.3f} TFLOP/s", end="")
  if "mfu" in r:
    print(f"   MFU {100 * r['mfu']:.1f}% of {FLAGS.peak_tflops:g} TFLOP/s x {r['replicas']}")
  else:
    print("   (pass --peak_tflops for MFU)")


if __name__ == "__main__":
  quiet_tensorflow()
  cli.define_flags()
  flags.DEFINE_integer("steps", 20, "Timed steps.")
  flags.DEFINE_integer("warmup_steps", 3, "Untimed steps first (tracing, XLA compilation).")
  flags.DEFINE_float("peak_tflops", None, "One device's peak TFLOP/s at the training precision.")
  app.run(main)
