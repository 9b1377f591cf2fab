"""BERT as plain tf.Variables, named exactly as in Google's checkpoints.

No Keras layers: Keras 3 renames variables, and the whole point is that a
Google or HIT checkpoint loads by name and that what we save loads back into
Google's TF1 code. ``BertPretrainer.variables_by_name`` is the single source
of truth for names; the math follows google-research/bert's modeling.py
(post-LayerNorm Transformer, tanh-approximated GELU, LayerNorm epsilon 1e-12,
truncated-normal init with stddev initializer_range, tied MLM decoder).
"""

import dataclasses
import math

import tensorflow as tf

from csc_pretrain.io_utils import InputError, read_json

LAYER_NORM_EPSILON = 1e-12


@dataclasses.dataclass
class BertConfig:
  vocab_size: int
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  hidden_dropout_prob: float = 0.1
  attention_probs_dropout_prob: float = 0.1
  max_position_embeddings: int = 512
  type_vocab_size: int = 16  # Google's default when a config omits it
  initializer_range: float = 0.02

  @classmethod
  def from_json_file(cls, path):
    raw = read_json(path)
    if not isinstance(raw, dict):
      raise InputError(path, 0, f"not a BERT config: a JSON {type(raw).__name__}, not an object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if "vocab_size" not in raw:
      raise InputError(path, 0, "not a BERT config: no vocab_size")
    # Google's configs carry extra keys (directionality, pooler_*); they do not change the model.
    values = {k: v for k, v in raw.items() if k in fields}
    for key, value in values.items():
      kind = fields[key].type
      # JSON has no int/float split beyond "1" vs "1.0"; bool is an int to Python, so refuse it.
      ok = (isinstance(value, str) if kind is str else
            isinstance(value, int) and not isinstance(value, bool) if kind is int else
            isinstance(value, (int, float)) and not isinstance(value, bool))
      if not ok:
        raise InputError(path, 0, f"{key} is {value!r}: expected {kind.__name__}")
      if kind is int and value < 1:
        raise InputError(path, 0, f"{key} is {value}: must be >= 1")
    config = cls(**values)
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      if not 0 <= getattr(config, key) < 1:
        raise InputError(path, 0, f"{key} is {getattr(config, key)}: must be in [0, 1)")
    if not config.initializer_range > 0:
      raise InputError(path, 0, f"initializer_range is {config.initializer_range}: must be > 0")
    if config.hidden_size % config.num_attention_heads:
      raise InputError(path, 0, f"hidden_size {config.hidden_size} is not a multiple of "
                       f"num_attention_heads {config.num_attention_heads}")
    if config.hidden_act not in ACTIVATIONS:
      raise InputError(path, 0, f"hidden_act {config.hidden_act!r} not one of {sorted(ACTIVATIONS)}")
    return config


# GELU and LayerNorm are chains of element-wise ops; XLA fuses each into one pass
# over memory (about a tenth of a CPU training step). They take tensors, never
# variables, so gradients reach the variables under every distribution strategy.
@tf.function(jit_compile=True)
def gelu(x):
  """Google's GELU (the tanh approximation)."""
  return 0.5 * x * (1.0 + tf.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


ACTIVATIONS = {"gelu": gelu, "relu": tf.nn.relu, "tanh": tf.tanh,
               "gelu_new": gelu, "linear": lambda x: x}


def layer_norm(x, gamma, beta):
  """LayerNorm over the last axis, computed in float32 whatever x's dtype."""
  return _layer_norm(x, tf.convert_to_tensor(gamma), tf.convert_to_tensor(beta))


@tf.function(jit_compile=True)
def _layer_norm(x, gamma, beta):
  dtype = x.dtype
  x = tf.cast(x, tf.float32)
  mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
  x = (x - mean) * tf.math.rsqrt(variance + LAYER_NORM_EPSILON)
  return tf.cast(x * gamma + beta, dtype)


@tf.function(jit_compile=True)
def cross_entropy(logits, labels):
  """-log softmax(logits)[label] along the last axis: Google's loss without the one-hot.

  TF's own CPU kernel makes several passes over the [positions, vocab] logits,
  about a twelfth of a CPU training step; XLA's lowering of the same op fuses
  them. (Written as logsumexp minus a gather instead, its gradient is a scatter
  that takes XLA seconds when --jit_compile puts it inside the whole step.)
  """
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


@tf.custom_gradient
def bias_add(x, bias):
  """tf.nn.bias_add of a [rows, width] matrix, whose bias gradient is one matrix product.

  TF's BiasAddGrad kernel sums the columns of the output gradient in a pass
  about a third slower than oneDNN's product of a row of ones with it.
  """
  def grad(dy):
    return dy, tf.matmul(tf.ones([1, tf.shape(dy)[0]], dy.dtype), dy)[0]
  return tf.nn.bias_add(x, bias), grad


@tf.custom_gradient
def tie(table):
  """``table`` twice: for the input lookup and for the tied MLM decoder.

  The lookup's gradient is a few rows (IndexedSlices), the decoder's the whole
  table. Summed by TF they are concatenated and segment-summed into a new
  table-sized tensor in one thread; here the rows are added into the decoder's
  gradient in place.
  """
  def grad(d_lookup, d_decoder):
    if isinstance(d_lookup, tf.IndexedSlices):
      return tf.tensor_scatter_nd_add(d_decoder, d_lookup.indices[:, None], d_lookup.values)
    return d_decoder + d_lookup
  return (tf.identity(table), tf.identity(table)), grad


def dropout(x, rate, training):
  """Inverted dropout, as tf.nn.dropout, with masks from a counter-based hash.

  Random numbers were the largest cost of a CPU step after the matrix products
  (TF's Philox takes about 3.5 ns a number, and the mask is kept for the
  gradient). Here each element's 16 bits come from hashing its index under a
  64-bit key drawn once a call (from TF's seeded generator: the same seed gives
  the same masks), in one XLA pass that also applies the mask; the gradient
  recomputes it. Elements are dropped where the bits are below round(rate *
  65536): within 1e-5 of ``rate`` (0.1 -> 6554 / 65536), and the kept values
  are scaled by the exact inverse, so the expectation is unchanged.
  """
  if not training or rate <= 0:
    return x
  key = tf.bitcast(tf.random.uniform([2], -2 ** 31, 2 ** 31 - 1, dtype=tf.int32), tf.uint32)
  threshold = round(rate * 65536)
  scale = tf.constant(65536 / (65536 - threshold), x.dtype)
  threshold = tf.constant(threshold, tf.uint32)

  @tf.custom_gradient
  def drop(x):
    return _drop(x, key, threshold, scale), lambda dy: _drop(dy, key, threshold, scale)
  return drop(x)


def _hash32(x):
  """A 32-bit integer hash with full avalanche (Wellons' "lowbias32")."""
  shift = lambda t, n: tf.bitwise.bitwise_xor(t, tf.bitwise.right_shift(t, tf.constant(n, t.dtype)))
  x = shift(x, 16) * tf.constant(0x7FEB352D, tf.uint32)
  x = shift(x, 15) * tf.constant(0x846CA68B, tf.uint32)
  return shift(x, 16)


@tf.function(jit_compile=True)
def _drop(x, key, threshold, scale):
  index = tf.bitcast(tf.range(tf.size(x)), tf.uint32)
  bits = _hash32(tf.bitwise.bitwise_xor(_hash32(index * tf.constant(0x9E3779B9, tf.uint32) + key[0]),
                                        key[1]))
  keep = tf.bitwise.bitwise_and(bits, tf.constant(0xFFFF, tf.uint32)) >= threshold
  return tf.where(tf.reshape(keep, tf.shape(x)), x * scale, tf.zeros_like(x))


# Packed rows (``padded_rows``) are rounded up to a multiple of these, so the
# XLA-compiled GELU, LayerNorm and loss compile for a few shapes, not one a batch.
ROW_BUCKET = 128
PREDICTION_BUCKET = 32


def padded_rows(keep, bucket):
  """The rows to compute of a flat bool ``keep``: (rows, position).

  ``rows`` [n] holds the indices where ``keep`` is True, in order, then the first
  others, up to the True count rounded up to a multiple of ``bucket`` (at most
  all); ``position`` [len(keep)] gives each flat index's place in ``rows``.
  """
  order = tf.argsort(tf.cast(tf.logical_not(keep), tf.int32), stable=True)
  count = tf.reduce_sum(tf.cast(keep, tf.int32))
  count = tf.minimum((count + bucket - 1) // bucket * bucket, tf.size(keep))
  return order[:count], tf.math.invert_permutation(order)


def row_packing(keep, bucket):
  """``padded_rows`` and the two maps between the full and the packed matrix.

  Returns (rows, position, pack, unpack): ``pack`` takes the rows of a
  [len(keep), width] matrix, ``unpack`` puts a [len(rows), width] matrix back
  with zeros elsewhere. Each is the other's gradient, so both directions are
  plain gathers: TF's scatter_nd, and gather's gradient (a segment sum), are
  single-threaded passes about twice as slow.
  """
  rows, position = padded_rows(keep, bucket)
  count = tf.shape(rows, out_type=position.dtype)[0]
  spread = tf.minimum(position, count)  # rows left out read a zero row appended at `count`

  @tf.custom_gradient
  def pack(t):
    return tf.gather(t, rows), unpack

  @tf.custom_gradient
  def unpack(t):
    return tf.gather(tf.pad(t, [[0, 1], [0, 0]]), spread), pack

  return rows, position, pack, unpack


class BertPretrainer(tf.Module):
  """BERT with Google's pretraining heads (masked LM and next sentence)."""

  def __init__(self, config, seed=None):
    super().__init__(name="bert_pretrainer")
    self.config = config
    c = config
    # One generator for all weights: each draw differs, and a seed repeats the lot.
    # (Keras initializers with a seed return the same tensor on every call.)
    rng = tf.random.Generator.from_seed(seed) if seed is not None else tf.random.Generator.from_non_deterministic_state()
    self.variables_by_name = {}

    def var(name, shape, kind="weight"):
      if kind == "weight":
        value = rng.truncated_normal(shape, stddev=c.initializer_range)
      elif kind == "ones":
        value = tf.ones(shape)
      else:
        value = tf.zeros(shape)
      v = tf.Variable(value, name=name, dtype=tf.float32)
      self.variables_by_name[name] = v
      return v

    def dense(prefix, n_in, n_out):
      return var(prefix + "/kernel", [n_in, n_out]), var(prefix + "/bias", [n_out], "zeros")

    def norm(prefix):
      return var(prefix + "/gamma", [c.hidden_size], "ones"), var(prefix + "/beta", [c.hidden_size], "zeros")

    h, i = c.hidden_size, c.intermediate_size
    self.word_embeddings = var("bert/embeddings/word_embeddings", [c.vocab_size, h])
    self.token_type_embeddings = var("bert/embeddings/token_type_embeddings", [c.type_vocab_size, h])
    self.position_embeddings = var("bert/embeddings/position_embeddings", [c.max_position_embeddings, h])
    self.embedding_norm = norm("bert/embeddings/LayerNorm")
    self.layers = []
    for n in range(c.num_hidden_layers):
      p = f"bert/encoder/layer_{n}"
      self.layers.append(dict(
          query=dense(p + "/attention/self/query", h, h),
          key=dense(p + "/attention/self/key", h, h),
          value=dense(p + "/attention/self/value", h, h),
          attention_output=dense(p + "/attention/output/dense", h, h),
          attention_norm=norm(p + "/attention/output/LayerNorm"),
          intermediate=dense(p + "/intermediate/dense", h, i),
          output=dense(p + "/output/dense", i, h),
          output_norm=norm(p + "/output/LayerNorm")))
    self.pooler = dense("bert/pooler/dense", h, h)
    self.mlm_transform = dense("cls/predictions/transform/dense", h, h)
    self.mlm_norm = norm("cls/predictions/transform/LayerNorm")
    self.mlm_bias = var("cls/predictions/output_bias", [c.vocab_size], "zeros")
    self.nsp_weights = var("cls/seq_relationship/output_weights", [2, h])
    self.nsp_bias = var("cls/seq_relationship/output_bias", [2], "zeros")

  # --- the encoder --------------------------------------------------------------------------

  def encode(self, input_ids, input_mask, segment_ids, training=False, dtype=tf.float32,
             positions=None, skip_padding=False, word_embeddings=None):
    """Sequence output [batch, seq, hidden] and pooled output [batch, hidden].

    With ``positions`` [batch, predictions], the sequence output is only those
    rows, [batch, predictions, hidden]. Pretraining reads nothing else, so the
    last layer computes queries, attention output and feed-forward for those
    rows and [CLS] alone; its keys and values still span the whole sequence, so
    the numbers are the same as gathering from the full output. For 128-token
    records with 20 predictions that is about a seventh less work a step.

    With ``skip_padding``, every per-token product (projections, feed-forward,
    LayerNorm) runs on the tokens of ``input_mask`` alone (and on any predicted
    position a record puts on padding), packed into one [tokens, hidden] matrix;
    only attention puts them back to [batch, seq] (``row_packing``). Padding
    is masked out of attention (its weight underflows to exactly 0), so the
    outputs at real tokens are the same numbers; at padding they are zeros. The
    packed rows are rounded up to ROW_BUCKET, so XLA-compiled pieces see few
    shapes. Not under XLA (--jit_compile): the shapes vary.

    Inside, activations are kept as [batch * seq, hidden] matrices, as in
    Google's modeling.py: 2-D matmuls with a fused bias add, whose kernel
    gradients are one matmul (a [batch, seq, hidden] x [hidden, out] product
    would be a broadcast batch matmul, and its kernel gradient a reduce over batch).
    """
    c = self.config
    act = ACTIVATIONS[c.hidden_act]
    if word_embeddings is None:
      word_embeddings = self.word_embeddings
    batch_size, seq_len = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
    heads, head_size = c.num_attention_heads, c.hidden_size // c.num_attention_heads
    rows = seq_len
    if positions is not None:  # [CLS] first (the pooler's row), then the predicted positions
      rows = tf.shape(positions)[1] + 1
      wanted = tf.concat([tf.zeros_like(positions[:, :1]), positions], axis=1)
      wanted = tf.reshape(wanted + tf.range(batch_size, dtype=positions.dtype)[:, None] * tf.cast(
          seq_len, positions.dtype), [-1])  # rows of the [batch * seq, hidden] matrix
    if skip_padding:
      real = tf.reshape(input_mask, [-1]) > 0
      if positions is not None:  # a row that is read is computed, even at padding (as Google's)
        real = tf.tensor_scatter_nd_update(real, wanted[:, None], tf.ones_like(wanted, tf.bool))
      kept, packed_row, pack, unpack_rows = row_packing(real, ROW_BUCKET)
      x = (tf.gather(word_embeddings, tf.gather(tf.reshape(input_ids, [-1]), kept))
           + tf.gather(self.token_type_embeddings, tf.gather(tf.reshape(segment_ids, [-1]), kept))
           + tf.gather(self.position_embeddings, kept % tf.cast(seq_len, kept.dtype)))
      if positions is not None:
        wanted = tf.gather(packed_row, wanted)  # rows of the packed matrix
    else:
      x = (tf.gather(word_embeddings, input_ids)
           + tf.gather(self.token_type_embeddings, segment_ids)
           + self.position_embeddings[:seq_len][None])  # [batch, seq, hidden]
    x = dropout(layer_norm(x, *self.embedding_norm), c.hidden_dropout_prob, training)
    x = tf.reshape(tf.cast(x, dtype), [-1, c.hidden_size])  # [batch * seq (or tokens), hidden]
    # Additive attention mask: 0 where attended, -10000 on padding. [batch, 1, 1, seq]
    mask = (1.0 - tf.cast(input_mask[:, None, None, :], tf.float32)) * -10000.0

    def unpack(t):  # packed [tokens, width] -> [batch * seq, width], zeros at padding
      if not skip_padding:
        return t
      return unpack_rows(t)

    def project(t, kernel_bias):  # [rows, in] -> [rows, out]
      kernel, bias = kernel_bias
      return bias_add(tf.matmul(t, tf.cast(kernel, dtype)), tf.cast(bias, dtype))

    def split_heads(t, length):  # [batch * length, hidden] -> [batch, heads, length, head_size]
      return tf.transpose(tf.reshape(t, [batch_size, length, heads, head_size]), [0, 2, 1, 3])

    for n, layer in enumerate(self.layers):
      k = split_heads(unpack(project(x, layer["key"])), seq_len)
      v = split_heads(unpack(project(x, layer["value"])), seq_len)
      last = positions is not None and n == len(self.layers) - 1
      if last:  # from here on, only the rows read later: [batch * rows, hidden]
        x = tf.gather(x, wanted)
        q = split_heads(project(x, layer["query"]), rows)
      else:
        q = split_heads(unpack(project(x, layer["query"])), seq_len)
      scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(head_size))  # [b, h, len, s]
      probs = tf.nn.softmax(tf.cast(scores, tf.float32) + mask)
      probs = tf.cast(dropout(probs, c.attention_probs_dropout_prob, training), dtype)
      context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])  # [batch, len, heads, head_size]
      context = tf.reshape(context, [-1, c.hidden_size])  # [batch * len, hidden]
      if skip_padding and not last:
        context = pack(context)  # back to the packed rows
      attention = dropout(project(context, layer["attention_output"]), c.hidden_dropout_prob,
                          training)
      x = layer_norm(attention + x, *layer["attention_norm"])
      inner = act(project(x, layer["intermediate"]))  # [rows, intermediate]
      out = dropout(project(inner, layer["output"]), c.hidden_dropout_prob, training)
      x = layer_norm(out + x, *layer["output_norm"])
    if positions is None:
      x = tf.reshape(unpack(x), [batch_size, seq_len, c.hidden_size])
    else:
      x = tf.reshape(x, [batch_size, rows, c.hidden_size])
    pooled = tf.tanh(project(x[:, 0], self.pooler))  # [batch, hidden]
    return (x if positions is None else x[:, 1:]), pooled

  # --- the pretraining heads ---------------------------------------------------------------------

  def mlm_logits(self, sequence_output, positions=None, dtype=tf.float32, word_embeddings=None):
    """Logits [..., vocab] of the rows [..., hidden] of ``sequence_output``.

    With ``positions`` [batch, predictions], ``sequence_output`` is the whole
    [batch, seq, hidden] and the logits are those at the positions,
    [batch, predictions, vocab]. The decoder is the word embeddings (tied), as in
    Google's model.
    """
    c = self.config
    if positions is not None:
      sequence_output = tf.gather(sequence_output, positions, batch_dims=1)
    shape = tf.shape(sequence_output)[:-1]
    x = tf.reshape(sequence_output, [-1, c.hidden_size])  # [rows, hidden]: 2-D matmuls
    kernel, bias = self.mlm_transform
    x = tf.nn.bias_add(tf.matmul(x, tf.cast(kernel, dtype)), tf.cast(bias, dtype))
    x = layer_norm(ACTIVATIONS[c.hidden_act](x), *self.mlm_norm)
    if word_embeddings is None:
      word_embeddings = self.word_embeddings
    logits = tf.matmul(x, tf.cast(word_embeddings, dtype), transpose_b=True)
    logits = tf.nn.bias_add(tf.cast(logits, tf.float32), self.mlm_bias)  # [rows, vocab]
    return tf.reshape(logits, tf.concat([shape, [c.vocab_size]], axis=0))

  def nsp_logits(self, pooled):
    """Next-sentence logits [batch, 2] from the pooled output [batch, hidden]."""
    return tf.matmul(tf.cast(pooled, tf.float32), self.nsp_weights, transpose_b=True) + self.nsp_bias

  def __call__(self, features, training=False, dtype=tf.float32, skip_padding=False):
    """(MLM logits [rows, vocab], NSP logits [batch, 2], rows).

    ``rows`` are the flat [batch * predictions] indices the MLM logits are for:
    all of them in order (None), or with ``skip_padding`` those of nonzero
    ``masked_lm_weights`` first (``padded_rows``). A zero-weight prediction adds
    nothing to the loss or its gradient; the vocabulary product is a fifth of a
    step at 128/20, and about one prediction in six of our records is padding.
    """
    lookup, decoder = tie(self.word_embeddings)
    sequence, pooled = self.encode(features["input_ids"], features["input_mask"],
                                   features["segment_ids"], training, dtype,
                                   positions=features["masked_lm_positions"],
                                   skip_padding=skip_padding, word_embeddings=lookup)
    sequence = tf.reshape(sequence, [-1, self.config.hidden_size])  # [batch * predictions, hidden]
    rows = None
    if skip_padding:
      weights = tf.reshape(features["masked_lm_weights"], [-1])
      rows, _ = padded_rows(weights > 0, PREDICTION_BUCKET)
      sequence = tf.gather(sequence, rows)
    return (self.mlm_logits(sequence, dtype=dtype, word_embeddings=decoder),
            self.nsp_logits(pooled), rows)


def pretraining_losses(model, features, training=False, dtype=tf.float32, use_nsp=True,
                       skip_padding=False):
  """Sums and counts for Google's losses, so that averages over micro-batches and
  replicas come out exactly as over one big batch.

  Returns a dict of scalars: mlm_loss_sum (weighted), mlm_weight_sum, nsp_loss_sum,
  examples, and metric counts (mlm_correct, error_correct, error_count, nsp_correct).
  ``skip_padding`` (see ``BertPretrainer.encode``) gives the same sums, computed
  on real tokens and predictions only.
  """
  mlm_logits, nsp_logits, rows = model(features, training, dtype, skip_padding=skip_padding)

  def predicted(t):  # [batch, predictions] -> the rows of the logits
    t = tf.reshape(t, [-1])
    return t if rows is None else tf.gather(t, rows)

  mlm_logits = tf.reshape(mlm_logits, [-1, model.config.vocab_size])
  labels = predicted(features["masked_lm_ids"])
  weights = predicted(tf.cast(features["masked_lm_weights"], tf.float32))
  # The same value as Google's -sum(log_softmax * one_hot), without the [B, P, vocab] one-hot.
  per_position = cross_entropy(mlm_logits, labels)
  predictions = tf.argmax(mlm_logits, axis=-1, output_type=labels.dtype)
  correct = tf.cast(tf.equal(predictions, labels), tf.float32) * weights
  # The CSC figure: positions whose input differs from the label (real or synthetic errors).
  inputs_there = predicted(tf.gather(features["input_ids"], features["masked_lm_positions"],
                                     batch_dims=1))
  is_error = tf.cast(tf.not_equal(inputs_there, labels), tf.float32) * weights
  nsp_labels = tf.reshape(features["next_sentence_labels"], [-1])
  nsp_per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=nsp_labels, logits=nsp_logits)
  nsp_correct = tf.cast(tf.equal(tf.argmax(nsp_logits, -1, output_type=nsp_labels.dtype), nsp_labels),
                        tf.float32)
  return {
      "mlm_loss_sum": tf.reduce_sum(per_position * weights),
      "mlm_weight_sum": tf.reduce_sum(weights),
      "nsp_loss_sum": tf.reduce_sum(nsp_per_example) if use_nsp else tf.constant(0.0),
      "examples": tf.cast(tf.shape(nsp_labels)[0], tf.float32),
      "mlm_correct": tf.reduce_sum(correct),
      "error_correct": tf.reduce_sum(correct * is_error),
      "error_count": tf.reduce_sum(is_error),
      "nsp_correct": tf.reduce_sum(nsp_correct),
      "nsp_loss_total": tf.reduce_sum(nsp_per_example),
  }

