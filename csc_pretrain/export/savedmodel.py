"""Checkpoint -> TF SavedModel whose ``serving_default`` TF Serving's REST API serves.

Signature inputs: int32 ``input_ids``, ``input_mask``, ``segment_ids`` [batch, seq].
Outputs with ``output="topk"`` (default): ``top_ids`` int32 and ``top_probs``
float32 [batch, seq, k], the k likeliest tokens at every position; with
``output="logits"``: ``logits`` float32 [batch, seq, vocab]. A request:

  POST /v1/models/csc:predict
  {"signature_name": "serving_default",
   "instances": [{"input_ids": [...], "input_mask": [...], "segment_ids": [...]}]}
"""

import os
import shutil
import tempfile

import tensorflow as tf

from csc_pretrain.bert import modeling


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
  # Saved next to the destination and renamed into place: a failure leaves no half SavedModel.
  output_dir = os.path.abspath(output_dir)
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix="." + os.path.basename(output_dir) + ".", suffix=".tmp", dir=parent)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700
  old = None
  try:
    tf.saved_model.save(serving, tmp, signatures={"serving_default": fn})
    if os.path.isdir(output_dir):
      old = tmp + ".old"
      os.replace(output_dir, old)
    os.replace(tmp, output_dir)
  except BaseException:
    if old is not None and not os.path.exists(output_dir):
      os.replace(old, output_dir)
      old = None
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  finally:
    if old is not None:
      shutil.rmtree(old, ignore_errors=True)


def load_model(prefix, bert_config):
  """Our BertPretrainer with the checkpoint's weights (optimizer slots ignored)."""
  from csc_pretrain.bert import checkpoint
  model = modeling.BertPretrainer(bert_config, seed=0)
  checkpoint.restore(prefix, model.variables_by_name)
  return model
