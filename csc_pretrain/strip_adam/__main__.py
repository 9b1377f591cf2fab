r"""Stage 5 CLI: strip optimizer slots from a checkpoint.

  python strip_adam.py out/pretrain_tiny/model.ckpt-300          # -> out/pretrain_tiny/stripped/
  python strip_adam.py out/pretrain_tiny --output model/bert_model.ckpt
  python strip_adam.py google_run/model.ckpt-100000 --in_place
"""

from absl import app, flags

from csc_pretrain.io_utils import InputError, quiet_tensorflow, run_cli

FLAGS = flags.FLAGS


def define_flags():
  from csc_pretrain.strip_adam import DEFAULT_REMOVE
  flags.DEFINE_string("output", None, "Output prefix (default: DIR/stripped/model.ckpt-N).")
  flags.DEFINE_list("remove_regex", list(DEFAULT_REMOVE), "Variables matching any of these go.")
  flags.DEFINE_bool("keep_global_step", False, "Keep global_step.")
  flags.DEFINE_enum("dtype", None, ["float16", "bfloat16"], "Also cast float32 weights (lossy: "
                    "halves the size again, changes the values).")
  flags.DEFINE_bool("in_place", False, "Replace the input checkpoint's files.")
  flags.DEFINE_bool("overwrite", False, "Replace an existing output checkpoint.")


def main(argv):
  def run():
    if len(argv) != 2:
      raise InputError("strip_adam", 0, "usage: strip_adam.py CHECKPOINT [--output PREFIX]")
    if FLAGS.in_place and FLAGS.output:
      raise InputError("--in_place", 0, "cannot be used with --output: replace the input or "
                       "write elsewhere, not both")
    from csc_pretrain.strip_adam import strip
    result = strip.strip(argv[1], FLAGS.output, FLAGS.remove_regex, FLAGS.keep_global_step,
                         FLAGS.dtype, FLAGS.in_place, FLAGS.overwrite)
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
