"""Exports of a checkpoint for use elsewhere.

hf.py          Hugging Face: config.json + model.safetensors + vocab.txt for BertForMaskedLM
savedmodel.py  TF SavedModel with a serving_default signature (TF Serving's REST :predict)
__main__.py    python -m csc_pretrain.export --checkpoint ... --format hf|savedmodel --output DIR

ExportConfig and run() are here, not in hf.py or savedmodel.py, so the CLI can
define its flags without loading TensorFlow.
"""

import dataclasses
import os

from csc_pretrain.io_utils import InputError, check_range


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """The CLI's flags (field names are the flag names, defaults theirs); run() takes it."""
  checkpoint: str = None
  format: str = "hf"
  output: str = None
  bert_config_file: str = None
  vocab_file: str = None
  include_nsp: bool = False
  serving_output: str = "topk"
  top_k: int = 5
  overwrite: bool = False


def run(cfg):
  """Writes the export ``cfg`` asks for; returns a line saying what was written."""
  check_range("--top_k", cfg.top_k, low=1)
  if cfg.include_nsp and cfg.format != "hf":
    raise InputError("--include_nsp", 0, "applies to --format hf only")
  from csc_pretrain.bert import checkpoint, modeling
  from csc_pretrain.export import hf, savedmodel
  prefix = checkpoint.resolve(cfg.checkpoint)
  config_path = checkpoint.side_file(prefix, "bert_config.json", cfg.bert_config_file)
  bert_config = modeling.BertConfig.from_json_file(config_path)
  if cfg.format == "savedmodel" and cfg.top_k > bert_config.vocab_size:
    raise InputError("--top_k", 0, f"{cfg.top_k} is more than vocab_size "
                     f"{bert_config.vocab_size} in {config_path}")
  if os.path.exists(cfg.output) and not os.path.isdir(cfg.output):
    raise InputError(cfg.output, 0, "exists and is not a directory")
  if os.path.exists(cfg.output) and os.listdir(cfg.output) and not cfg.overwrite:
    raise InputError(cfg.output, 0, "exists and is not empty; refusing to overwrite "
                     "(pass --overwrite)")
  if cfg.format == "hf":
    from csc_pretrain.bert.tokenization import load_vocab
    vocab = checkpoint.side_file(prefix, "vocab.txt", cfg.vocab_file)
    size = len(load_vocab(vocab))  # empty, duplicate or missing special tokens: file:line
    if size != bert_config.vocab_size:
      raise InputError(vocab, 0, f"{size} tokens but vocab_size {bert_config.vocab_size} in "
                       f"{config_path}")
    reader, shapes = checkpoint.read_shapes(prefix)
    written = hf.export(reader, list(shapes), bert_config, vocab, cfg.output, cfg.include_nsp)
    return (f"wrote {len(written)} tensors to {cfg.output}/model.safetensors "
            "(+ config.json, vocab.txt)")
  model = savedmodel.load_model(prefix, bert_config)
  # tf.saved_model.save logs its internals (sharding callbacks, renamed inputs) at INFO.
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)
  savedmodel.export(model, cfg.output, cfg.serving_output, cfg.top_k)
  return f"wrote SavedModel to {cfg.output} (signature serving_default)"
