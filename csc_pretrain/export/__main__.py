r"""Export a checkpoint (stripped or not) for use elsewhere.

  python -m csc_pretrain.export --checkpoint out/pretrain_tiny/stripped --format hf --output out/hf
  python -m csc_pretrain.export --checkpoint out/pretrain_tiny --format savedmodel --output out/sm

bert_config.json and vocab.txt are taken from the flags or from next to the checkpoint.
"""

import os

from absl import app, flags
from absl import logging as absl_logging

from csc_pretrain.io_utils import InputError, check_range, quiet_tensorflow, run_cli

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("checkpoint", None, "Checkpoint prefix, model.ckpt-N or directory.")
  flags.DEFINE_enum("format", "hf", ["hf", "savedmodel"], "What to write.")
  flags.DEFINE_string("output", None, "Output directory (must not exist unless --overwrite).")
  flags.DEFINE_string("bert_config_file", None, "Default: bert_config.json next to the checkpoint.")
  flags.DEFINE_string("vocab_file", None, "Default: vocab.txt next to the checkpoint.")
  flags.DEFINE_bool("include_nsp", False, "hf: also export the pooler and NSP head "
                    "(BertForPreTraining).")
  flags.DEFINE_enum("serving_output", "topk", ["topk", "logits"], "savedmodel: what "
                    "serving_default returns.")
  flags.DEFINE_integer("top_k", 5, "savedmodel: candidates per position with --serving_output topk.")
  flags.DEFINE_bool("overwrite", False, "Write into an existing output directory.")
  flags.mark_flag_as_required("checkpoint")
  flags.mark_flag_as_required("output")


def main(argv):
  del argv

  def run():
    check_range("--top_k", FLAGS.top_k, low=1)
    if FLAGS.include_nsp and FLAGS.format != "hf":
      raise InputError("--include_nsp", 0, "applies to --format hf only")
    from csc_pretrain.export import hf, savedmodel
    from csc_pretrain.bert import checkpoint, modeling
    prefix = checkpoint.resolve(FLAGS.checkpoint)
    config_path = checkpoint.side_file(prefix, "bert_config.json", FLAGS.bert_config_file)
    bert_config = modeling.BertConfig.from_json_file(config_path)
    if FLAGS.format == "savedmodel" and FLAGS.top_k > bert_config.vocab_size:
      raise InputError("--top_k", 0, f"{FLAGS.top_k} is more than vocab_size "
                       f"{bert_config.vocab_size} in {config_path}")
    if os.path.exists(FLAGS.output) and not os.path.isdir(FLAGS.output):
      raise InputError(FLAGS.output, 0, "exists and is not a directory")
    if os.path.exists(FLAGS.output) and os.listdir(FLAGS.output) and not FLAGS.overwrite:
      raise InputError(FLAGS.output, 0, "exists and is not empty; refusing to overwrite "
                       "(pass --overwrite)")
    if FLAGS.format == "hf":
      from csc_pretrain.bert.tokenization import load_vocab
      vocab = checkpoint.side_file(prefix, "vocab.txt", FLAGS.vocab_file)
      size = len(load_vocab(vocab))  # empty, duplicate or missing special tokens: file:line
      if size != bert_config.vocab_size:
        raise InputError(vocab, 0, f"{size} tokens but vocab_size {bert_config.vocab_size} in "
                         f"{config_path}")
      reader, shapes = checkpoint.read_shapes(prefix)
      written = hf.export(reader, list(shapes), bert_config, vocab, FLAGS.output, FLAGS.include_nsp)
      print(f"wrote {len(written)} tensors to {FLAGS.output}/model.safetensors "
            "(+ config.json, vocab.txt)")
    else:
      model = savedmodel.load_model(prefix, bert_config)
      # tf.saved_model.save logs its internals (sharding callbacks, renamed inputs) at INFO.
      absl_logging.set_verbosity(absl_logging.WARNING)
      savedmodel.export(model, FLAGS.output, FLAGS.serving_output, FLAGS.top_k)
      print(f"wrote SavedModel to {FLAGS.output} (signature serving_default)")

  run_cli(run)


def cli():
  """The console entry point (`csc-export` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)


if __name__ == "__main__":
  cli()
