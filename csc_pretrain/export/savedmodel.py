"""Checkpoint -> TF SavedModel whose ``serving_default`` TF Serving's REST API serves.

Signature inputs: int32 ``input_ids``, ``input_mask``, ``segment_ids`` [batch, seq].
Outputs with ``output="topk"`` (default): ``top_ids`` int32 and ``top_probs``
float32 [batch, seq, k], the k likeliest tokens at every position; with
``output="logits"``: ``logits`` float32 [batch, seq, vocab]. A request:

  POST /v1/models/csc:predict
  {"signature_name": "serving_default",
   "instances": [{"input_ids": [...], "input_mask": [...], "segment_ids": [...]}]}
"""

import tensorflow as tf

from csc_pretrain.run_pretraining import modeling


class _Serving(tf.Module):
  def __init__(self, model, output, top_k):
    super().__init__()
    self.model = model
    self.output = output
    self.top_k = top_k

  def predict(self, input_ids, input_mask, segment_ids):
    sequence, _ = self.model.encode(input_ids, input_mask, segment_ids, training=False)
    positions = tf.broadcast_to(tf.range(tf.shape(input_ids)[1])[None], tf.shape(input_ids))
    logits = self.model.mlm_logits(sequence, positions)
    if self.output == "logits":
      return {"logits": logits}
    probs, ids = tf.math.top_k(tf.nn.softmax(logits), k=self.top_k)
    return {"top_ids": ids, "top_probs": probs}


def export(model, output_dir, output="topk", top_k=5):
  serving = _Serving(model, output, top_k)
  fn = tf.function(serving.predict).get_concrete_function(
      tf.TensorSpec([None, None], tf.int32, name="input_ids"),
      tf.TensorSpec([None, None], tf.int32, name="input_mask"),
      tf.TensorSpec([None, None], tf.int32, name="segment_ids"))
  tf.saved_model.save(serving, output_dir, signatures={"serving_default": fn})


def load_model(prefix, bert_config):
  """Our BertPretrainer with the checkpoint's weights (optimizer slots ignored)."""
  from csc_pretrain.run_pretraining import checkpoint
  model = modeling.BertPretrainer(bert_config, seed=0)
  checkpoint.restore(prefix, model.variables_by_name)
  return model
