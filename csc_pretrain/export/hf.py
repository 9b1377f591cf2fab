"""Google checkpoint -> Hugging Face ``BertForMaskedLM`` folder (safetensors).

Names map one to one (``bert/encoder/layer_0/attention/self/query/kernel`` ->
``bert.encoder.layer.0.attention.self.query.weight``, kernels transposed to
torch's [out, in]); the MLM decoder stays tied to the word embeddings, so only
``cls.predictions.bias`` is written for it. ``hidden_act`` is exported as
``gelu_new``: Google's GELU is the tanh approximation, which is what
transformers calls gelu_new (its "gelu" is the exact erf form), so the logits
match ours. The pooler and the next-sentence head are left out by default
(BertForMaskedLM has neither); ``include_nsp`` keeps them for BertForPreTraining.
"""

import json
import os
import re

import numpy as np

from csc_pretrain.io_utils import InputError, atomic_write, set_default_mode

_LAYER_PARTS = {
    "attention/self/query": "attention.self.query",
    "attention/self/key": "attention.self.key",
    "attention/self/value": "attention.self.value",
    "attention/output/dense": "attention.output.dense",
    "attention/output/LayerNorm": "attention.output.LayerNorm",
    "intermediate/dense": "intermediate.dense",
    "output/dense": "output.dense",
    "output/LayerNorm": "output.LayerNorm",
}
_FIXED = {
    "bert/embeddings/word_embeddings": "bert.embeddings.word_embeddings.weight",
    "bert/embeddings/position_embeddings": "bert.embeddings.position_embeddings.weight",
    "bert/embeddings/token_type_embeddings": "bert.embeddings.token_type_embeddings.weight",
    "bert/embeddings/LayerNorm/gamma": "bert.embeddings.LayerNorm.weight",
    "bert/embeddings/LayerNorm/beta": "bert.embeddings.LayerNorm.bias",
    "cls/predictions/transform/dense/kernel": "cls.predictions.transform.dense.weight",
    "cls/predictions/transform/dense/bias": "cls.predictions.transform.dense.bias",
    "cls/predictions/transform/LayerNorm/gamma": "cls.predictions.transform.LayerNorm.weight",
    "cls/predictions/transform/LayerNorm/beta": "cls.predictions.transform.LayerNorm.bias",
    "cls/predictions/output_bias": "cls.predictions.bias",
}
_NSP = {
    "bert/pooler/dense/kernel": "bert.pooler.dense.weight",
    "bert/pooler/dense/bias": "bert.pooler.dense.bias",
    "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
    "cls/seq_relationship/output_bias": "cls.seq_relationship.bias",
}
_SUFFIX = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}


def hf_name(tf_name, include_nsp=False):
  """The transformers name of a Google variable, or None when not exported."""
  if tf_name in _FIXED:
    return _FIXED[tf_name]
  if tf_name in _NSP:
    return _NSP[tf_name] if include_nsp else None
  m = re.match(r"^bert/encoder/layer_(\d+)/(.+)/(kernel|bias|gamma|beta)$", tf_name)
  if m and m.group(2) in _LAYER_PARTS:
    return f"bert.encoder.layer.{m.group(1)}.{_LAYER_PARTS[m.group(2)]}.{_SUFFIX[m.group(3)]}"
  return None


def hf_config(bert_config, include_nsp=False):
  c = bert_config
  return {
      "architectures": ["BertForPreTraining" if include_nsp else "BertForMaskedLM"],
      "model_type": "bert", "vocab_size": c.vocab_size, "hidden_size": c.hidden_size,
      "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
      "intermediate_size": c.intermediate_size,
      "hidden_act": "gelu_new" if c.hidden_act == "gelu" else c.hidden_act,
      "hidden_dropout_prob": c.hidden_dropout_prob,
      "attention_probs_dropout_prob": c.attention_probs_dropout_prob,
      "max_position_embeddings": c.max_position_embeddings, "type_vocab_size": c.type_vocab_size,
      "initializer_range": c.initializer_range, "layer_norm_eps": 1e-12, "pad_token_id": 0,
      "tie_word_embeddings": True,
  }


def export(reader, names, bert_config, vocab_file, output_dir, include_nsp=False):
  """Writes config.json, model.safetensors and vocab.txt into ``output_dir``."""
  from safetensors.numpy import save_file
  state = {}
  for name in names:
    target = hf_name(name, include_nsp)
    if target is None:
      continue
    value = np.asarray(reader.get_tensor(name), dtype=np.float32)
    if name.endswith("/kernel"):
      value = value.T  # TF [in, out] -> torch [out, in]
    state[target] = np.ascontiguousarray(value)
  missing = [n for n in _FIXED if n not in names]
  if missing:
    raise InputError("--checkpoint", 0, "not a BERT pretraining checkpoint: missing " + ", ".join(missing))
  # Everything is read before anything is written: a bad input leaves no partial export.
  with open(vocab_file, encoding="utf-8") as f:
    vocab = f.read()
  os.makedirs(output_dir, exist_ok=True)
  tmp = os.path.join(output_dir, ".model.safetensors.tmp")
  try:
    save_file(state, tmp, metadata={"format": "pt"})
    set_default_mode(tmp)
    os.replace(tmp, os.path.join(output_dir, "model.safetensors"))
  finally:
    if os.path.exists(tmp):
      os.unlink(tmp)
  with atomic_write(os.path.join(output_dir, "config.json")) as f:
    json.dump(hf_config(bert_config, include_nsp), f, indent=2)
  with atomic_write(os.path.join(output_dir, "vocab.txt")) as f:
    f.write(vocab)
  return sorted(state)
