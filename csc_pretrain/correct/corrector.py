"""Spelling correction with the masked LM, filtered by confusion sets (FASPell's idea).

The sentence goes in as it is (no [MASK]): the model was trained to put the
right character back at positions holding a wrong one. At every Chinese
character the model's top-k candidates are read, and a candidate replaces the
character only if

  * it is one of the character's confusion candidates (char_meta's combined,
    phonetic and visual sets), unless no confusion sets are given;
  * its probability is at least ``min_prob``; and
  * it beats the original character's probability by at least ``margin``.

Both thresholds are what a small dev set tunes (``tune``).
"""

import dataclasses
import os

import numpy as np

from csc_pretrain.io_utils import InputError, read_json


@dataclasses.dataclass
class Thresholds:
  min_prob: float = 0.3
  margin: float = 0.1
  top_k: int = 10

  @classmethod
  def from_file(cls, path):
    raw = read_json(path)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - fields
    if unknown:
      raise InputError(path, 0, f"unknown keys {sorted(unknown)}")
    return cls(**raw)


@dataclasses.dataclass
class Candidates:
  """Per-position model output for one sentence: the characters, their own
  probabilities, and the top-k (characters, probabilities)."""
  text: str
  chars: list          # character at each position ('' for non-Chinese positions)
  own_prob: np.ndarray
  top_chars: list      # [[c1..ck], ...] per position
  top_probs: np.ndarray


def _is_chinese(ch):
  return len(ch) == 1 and "\u4e00" <= ch <= "\u9fff"


class Corrector:
  """Loads a checkpoint once and corrects sentences in batches."""

  def __init__(self, checkpoint_path, bert_config_file=None, vocab_file=None, confusion_dir=None,
               thresholds=None, max_seq_length=128, batch_size=32):
    import tensorflow as tf
    from csc_pretrain.create_tf_record.tokenization import FullTokenizer
    from csc_pretrain.run_pretraining import checkpoint, modeling
    prefix = checkpoint.resolve(checkpoint_path)
    here = os.path.dirname(prefix)
    bert_config_file = bert_config_file or os.path.join(here, "bert_config.json")
    vocab_file = vocab_file or os.path.join(here, "vocab.txt")
    for path, flag in ((bert_config_file, "--bert_config_file"), (vocab_file, "--vocab_file")):
      if not os.path.exists(path):
        raise InputError(path, 0, f"no such file (pass {flag})")
    self.config = modeling.BertConfig.from_json_file(bert_config_file)
    self.tokenizer = FullTokenizer(vocab_file, do_lower_case=True)
    if len(self.tokenizer.vocab) != self.config.vocab_size:
      raise InputError(vocab_file, 0, f"{len(self.tokenizer.vocab)} tokens but vocab_size "
                       f"{self.config.vocab_size} in {bert_config_file}")
    self.model = modeling.BertPretrainer(self.config, seed=0)
    checkpoint.restore(prefix, self.model.variables_by_name)
    self.prefix = prefix
    self.confusions = _load_confusions(confusion_dir) if confusion_dir else None
    self.thresholds = thresholds or Thresholds()
    self.max_seq_length = min(max_seq_length, self.config.max_position_embeddings)
    self.batch_size = batch_size
    self._tf = tf
    self._predict = tf.function(self._forward, reduce_retracing=True)

  def _forward(self, ids, mask, k):
    tf = self._tf
    sequence, _ = self.model.encode(ids, mask, tf.zeros_like(ids))
    positions = tf.broadcast_to(tf.range(tf.shape(ids)[1])[None], tf.shape(ids))
    probs = tf.nn.softmax(self.model.mlm_logits(sequence, positions))
    own = tf.gather(probs, ids, batch_dims=2)
    top_p, top_i = tf.math.top_k(probs, k=k)
    return own, top_p, top_i

  # --- model side -------------------------------------------------------------------------------

  def candidates(self, texts, top_k=None):
    """Candidates for each text (texts longer than the model takes are windowed)."""
    k = top_k or self.thresholds.top_k
    window = self.max_seq_length - 2
    pieces = []  # (text index, offset, piece)
    for t, text in enumerate(texts):
      for start in range(0, max(len(text), 1), window):
        pieces.append((t, start, text[start:start + window]))
    per_text = [Candidates(text, [""] * len(text), np.zeros(len(text)), [[] for _ in text],
                           np.zeros((len(text), k))) for text in texts]
    vocab, inv = self.tokenizer.vocab, self.tokenizer.inv_vocab
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    for b in range(0, len(pieces), self.batch_size):
      batch = pieces[b:b + self.batch_size]
      encodings = self.tokenizer._tokenizer.encode_batch([p for _, _, p in batch],
                                                         add_special_tokens=False)
      length = max(len(e.ids) for e in encodings) + 2
      ids = np.zeros((len(batch), length), np.int32)
      mask = np.zeros_like(ids)
      for r, e in enumerate(encodings):
        row = [cls_id] + e.ids[:length - 2] + [sep_id]
        ids[r, :len(row)] = row
        mask[r, :len(row)] = 1
      own, top_p, top_i = (x.numpy() for x in self._predict(ids, mask, k))
      for r, ((t, offset, piece), e) in enumerate(zip(batch, encodings)):
        out = per_text[t]
        for j, (start, end) in enumerate(e.offsets):
          ch = piece[start:end]
          if end - start != 1 or not _is_chinese(ch):
            continue  # only single Chinese characters are corrected
          pos = offset + start
          out.chars[pos] = ch
          out.own_prob[pos] = own[r, j + 1]
          out.top_chars[pos] = [inv[i] for i in top_i[r, j + 1]]
          out.top_probs[pos] = top_p[r, j + 1]
    return per_text

  # --- filtering ------------------------------------------------------------------------------------------

  def allowed(self, original, candidate):
    if not _is_chinese(candidate) or candidate == original:
      return False
    return self.confusions is None or candidate in self.confusions.get(original, ())

  def decide(self, cands, thresholds=None):
    """(corrected text, edits) for one sentence's candidates."""
    th = thresholds or self.thresholds
    chars = list(cands.text)
    edits = []
    for pos, original in enumerate(cands.chars):
      if not original:
        continue
      for ch, p in zip(cands.top_chars[pos][:th.top_k], cands.top_probs[pos][:th.top_k]):
        if p < th.min_prob:
          break  # sorted: the rest are less likely still
        if self.allowed(original, ch) and p - cands.own_prob[pos] >= th.margin:
          chars[pos] = ch
          edits.append({"pos": pos, "from": original, "to": ch, "prob": round(float(p), 4)})
          break
    return "".join(chars), edits

  def correct(self, texts):
    """[{"text", "corrected", "edits"}] for a list of sentences."""
    return [dict(zip(("text", "corrected", "edits"), (c.text,) + self.decide(c)))
            for c in self.candidates(texts)]


def _load_confusions(confusion_dir):
  from csc_pretrain.char_meta.formats import read_confusion_sets
  merged = {}
  for name in ("confusion_sets.tsv", "confusion_phonetic.tsv", "confusion_visual.tsv"):
    path = os.path.join(confusion_dir, name)
    if not os.path.exists(path):
      raise InputError(path, 0, "no such file (is --confusion_dir a char_meta output?)")
    for ch, cands in read_confusion_sets(path).items():
      merged.setdefault(ch, set()).update(cands)
  return merged
