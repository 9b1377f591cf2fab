r"""Stage 5 CLI: strip optimizer slots from a checkpoint.

  python strip_adam.py out/pretrain_tiny/model.ckpt-300          # -> out/pretrain_tiny/stripped/
  python strip_adam.py out/pretrain_tiny --output model/bert_model.ckpt
  python strip_adam.py google_run/model.ckpt-100000 --in_place
"""

from absl import app

from csc_pretrain.io_utils import (InputError, define_flag_table, flag_values, quiet_tensorflow,
                                   run_cli)
from csc_pretrain.strip_adam import StripConfig

# name, kind, help[, enum values]. Defaults come from StripConfig.
FLAG_TABLE = (
    ("output", "string", "Output prefix (default: DIR/stripped/model.ckpt-N)."),
    ("remove_regex", "list", "Variables matching any of these go."),
    ("keep_global_step", "bool", "Keep global_step."),
    ("dtype", "enum", "Also cast float32 weights (lossy: halves the size again, changes the "
     "values).", ["float16", "bfloat16"]),
    ("in_place", "bool", "Replace the input checkpoint's files."),
    ("overwrite", "bool", "Replace an existing output checkpoint."),
)


def define_flags():
  define_flag_table(FLAG_TABLE, StripConfig)


def main(argv):
  def run():
    if len(argv) != 2:
      raise InputError("strip_adam", 0, "usage: strip_adam.py CHECKPOINT [--output PREFIX]")
    cfg = StripConfig(checkpoint=argv[1], **flag_values(FLAG_TABLE))
    from csc_pretrain.strip_adam import strip  # loads TensorFlow
    result = strip.run(cfg)
    mib = lambda b: b / 2 ** 20
    print(f"{result['input']}: {result['kept']} tensors kept, {result['removed']} removed")
    print(f"size {mib(result['bytes_before']):.1f} MiB -> {mib(result['bytes_after']):.1f} MiB "
          f"(ratio {result['ratio']:.3f})")
    print(f"wrote {result['output']}")

  run_cli(run)


def cli():
  """The console entry point (`csc-strip-adam` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
