r"""Export a checkpoint (stripped or not) for use elsewhere.

  python -m csc_pretrain.export --checkpoint out/pretrain_tiny/stripped --format hf --output out/hf
  python -m csc_pretrain.export --checkpoint out/pretrain_tiny --format savedmodel --output out/sm

bert_config.json and vocab.txt are taken from the flags or from next to the checkpoint.
"""

from absl import app, flags

from csc_pretrain.export import ExportConfig, run
from csc_pretrain.io_utils import define_flag_table, flag_values, quiet_tensorflow, run_cli

# name, kind, help[, enum values]. Defaults come from ExportConfig.
FLAG_TABLE = (
    ("checkpoint", "string", "Checkpoint prefix, model.ckpt-N or directory."),
    ("format", "enum", "What to write.", ["hf", "savedmodel"]),
    ("output", "string", "Output directory (must not exist unless --overwrite)."),
    ("bert_config_file", "string", "Default: bert_config.json next to the checkpoint."),
    ("vocab_file", "string", "Default: vocab.txt next to the checkpoint."),
    ("include_nsp", "bool", "hf: also export the pooler and NSP head (BertForPreTraining)."),
    ("serving_output", "enum", "savedmodel: what serving_default returns.", ["topk", "logits"]),
    ("top_k", "integer", "savedmodel: candidates per position with --serving_output topk."),
    ("overwrite", "bool", "Write into an existing output directory."),
)


def define_flags():
  define_flag_table(FLAG_TABLE, ExportConfig)
  flags.mark_flag_as_required("checkpoint")
  flags.mark_flag_as_required("output")


def main(argv):
  del argv
  cfg = ExportConfig(**flag_values(FLAG_TABLE))
  print(run_cli(lambda: run(cfg)))


def cli():
  """The console entry point (`csc-export` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
