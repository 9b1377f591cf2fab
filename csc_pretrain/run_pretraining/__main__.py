r"""Stage 4 CLI. Flags follow Google's run_pretraining.py; a YAML file may hold any of them.

  python run_pretraining.py --input_file create_data/tf_examples.tfrecord --output_dir out \
      --bert_config_file configs/bert_config_tiny.json --do_train --do_eval
  python run_pretraining.py --config configs/pretrain_tiny.yaml --num_train_steps 500

Values on the command line override the YAML file, which overrides the defaults.
"""

import logging
import sys

from absl import app, flags

from csc_pretrain.io_utils import (InputError, define_flag_table, flag_values, keep_freed_memory,
                                   quiet_tensorflow, run_cli)

FLAGS = flags.FLAGS

# name, kind, help. Defaults come from train.RunConfig (Google's where Google has the flag).
FLAG_TABLE = (
    ("bert_config_file", "string", "BERT config JSON (configs/ has tiny and chinese base)."),
    ("input_file", "string", "Training TFRecords: comma-separated files or globs."),
    ("output_dir", "string", "Checkpoints, eval_results.txt and TensorBoard logs; rerun to resume."),
    ("init_checkpoint", "string", "Google-format checkpoint to start from (prefix or directory)."),
    ("init_checkpoint_regex", "string", "Only load variables whose name matches (warm start)."),
    ("eval_input_file", "string", "Eval TFRecords (default: --input_file, as Google's script)."),
    ("vocab_file", "string", "Optional vocab.txt, checked against the config's vocab_size."),
    ("do_train", "bool", "Train."),
    ("do_eval", "bool", "Evaluate (at each checkpoint while training, and at the end)."),
    ("max_seq_length", "integer", "Sequence length of the records (default: from their "
     "stats.json, else 128)."),
    ("max_predictions_per_seq", "integer", "Masked positions per record (default: from their "
     "stats.json, else 20)."),
    ("train_batch_size", "integer", "Examples per optimizer step (all replicas and micro-batches)."),
    ("eval_batch_size", "integer", "Examples per eval step."),
    ("learning_rate", "float", "Peak learning rate of Adam."),
    ("num_train_steps", "integer", "Optimizer steps in all."),
    ("num_warmup_steps", "integer", "Linear warmup steps."),
    ("save_checkpoints_steps", "integer", "Checkpoint every this many steps."),
    ("keep_checkpoint_max", "integer", "Checkpoints kept."),
    ("max_eval_steps", "integer", "Eval batches at most."),
    ("eval_every_steps", "integer", "Evaluate every this many steps (0: at each checkpoint)."),
    ("log_every_steps", "integer", "Log loss and write summaries every this many steps."),
    ("use_nsp", "bool", "Add the next-sentence loss (Google's default)."),
    ("gradient_accumulation_steps", "integer", "Micro-batches summed per optimizer step."),
    ("mixed_precision", "string", "none | bf16 | fp16 (fp16 uses dynamic loss scaling)."),
    ("jit_compile", "bool", "XLA-compile the forward and backward pass."),
    ("skip_padding", "bool", "Run the per-token layers on real tokens only: the same "
     "numbers, less work (not under --jit_compile)."),
    ("distribution_strategy", "string", "auto | none | mirrored | multi_worker (TF_CONFIG)."),
    ("collective_timeout", "integer", "multi_worker: seconds a collective waits for the other "
     "workers before the run fails (0: forever)."),
    ("num_cpu_devices", "integer", "Split the CPU into this many logical devices (testing)."),
    ("freeze_regex", "string", "Variables whose name matches are not trained."),
    ("trainable_regex", "string", "If set, only variables whose name matches are trained."),
    ("early_stopping_metric", "string", "Eval metric for early stopping, e.g. masked_lm_loss."),
    ("early_stopping_mode", "string", "min | max."),
    ("early_stopping_patience", "integer", "Evaluations without improvement before stopping (0: off)."),
    ("early_stopping_min_steps", "integer", "Never stop before this step."),
    ("best_metric", "string", "Eval metric whose best checkpoint is kept in OUTPUT_DIR/best/."),
    ("best_mode", "string", "min | max."),
    ("seed", "integer", "Random seed (initialisation, dropout)."),
    ("progress_bar", "bool", "Show a tqdm bar."),
)


def define_flags():
  from csc_pretrain.run_pretraining.train import RunConfig
  flags.DEFINE_string("config", None, "YAML file with any of these flags as keys.")
  define_flag_table(FLAG_TABLE, RunConfig)


def apply_yaml(path):
  """Sets every flag the YAML file names, unless it was given on the command line."""
  import yaml
  try:
    with open(path, encoding="utf-8") as f:
      node = yaml.compose(f)
  except FileNotFoundError:
    raise InputError(path, 0, "no such file") from None
  except yaml.YAMLError as e:
    line = getattr(getattr(e, "problem_mark", None), "line", -1) + 1
    raise InputError(path, line, f"not YAML: {getattr(e, 'problem', e)}") from None
  if node is None:
    return
  if not isinstance(node, yaml.MappingNode):
    raise InputError(path, node.start_mark.line + 1, "expected key: value lines")
  known = {name for name, _, _ in FLAG_TABLE}
  for key_node, value_node in node.value:
    key, line = key_node.value, key_node.start_mark.line + 1
    if key not in known:
      raise InputError(path, line, f"unknown key {key!r}")
    value = yaml.safe_load(yaml.serialize(value_node))
    if FLAGS[key].present:
      continue
    try:
      FLAGS[key].value = FLAGS[key].parser.parse(value) if value is not None else None
    except (ValueError, TypeError) as e:
      raise InputError(path, line, f"bad value for {key}: {e}") from None


def main(argv):
  del argv
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  keep_freed_memory()  # before TensorFlow allocates: its per-step buffers then reuse pages

  def run():
    if FLAGS.config:
      apply_yaml(FLAGS.config)
    for name in ("bert_config_file", "input_file", "output_dir"):
      if not FLAGS[name].value:
        raise InputError(f"--{name}", 0, "required (on the command line or in --config)")
    from csc_pretrain.run_pretraining import train
    cfg = train.RunConfig(**flag_values(FLAG_TABLE))
    return train.run(cfg)

  from csc_pretrain.run_pretraining.train import ClusterError
  try:
    results = run_cli(run)
  except ClusterError as e:  # not bad input (exit 2): a worker died, hung or disagrees
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  if results:
    logging.info("results: %s", results)


def cli():
  """The console entry point (`csc-run-pretraining` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
