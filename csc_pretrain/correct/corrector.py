"""Spelling correction with the masked LM, filtered by confusion sets (FASPell's idea).

The sentence goes in as it is (no [MASK]): the model was trained to put the
right character back at positions holding a wrong one. At every Chinese
character the model's top-k candidates are read, and a candidate replaces the
character only if

  * it is one of the character's confusion candidates (char_meta's combined,
    phonetic and visual sets), unless no confusion sets are given;
  * its probability is at least ``min_prob``; and
  * it beats the original character's probability by at least ``margin``.

Both thresholds are what a small dev set tunes (``tune``), for the best F1 or,
with a false-positive budget, the best recall within it. ``decoder.py`` holds
this rule and the fitted confidence-similarity boundary that can replace it,
and ``constraints.py`` the protected terms and lexicon both respect. With
``second_pass``, the corrected sentences are read again and an edit of that
second round is kept only next to an edit of the first.

Invariant: ``corrected`` has exactly the input's length and every edit's
``pos`` is an index into the input string (a Python ``str`` index, i.e. a
Unicode code point; not a UTF-16 or byte offset). A character is only ever
replaced by one character, never inserted or removed. The only candidates are
CJK unified ideographs (U+4E00..U+9FFF, io_utils.is_cjk) that
the vocab holds as a token of their own; everything else (digits, Latin words,
URLs, full-width forms, whitespace, characters the tokenizer drops such as
control characters, or turns into [UNK] such as emoji and rare ideographs) is
context at most and comes out unchanged. This holds because the text is
tokenized once with each token's start offset, and a prediction is written
back only where the token is the very character at its offset.

Long texts: the model reads at most ``max_seq_length - 2`` tokens at a time.
A longer text is cut after sentence ends (。！？； or a line break, with the
closing quotes that follow) and whole sentences are packed into windows; a
single sentence that is still too long is read in half-overlapping sliding
windows, each character keeping the prediction of the window where it sits
most centrally. ``correct``, ``evaluate`` and the HTTP service all go this way.
"""

import bisect
import dataclasses
import os
import re

import numpy as np

from csc_pretrain.io_utils import InputError, is_cjk, read_json

# Where a long text may be cut: after a run of sentence ends and the closing
# quotes and brackets that belong to the sentence before the cut.
SENTENCE_END = re.compile(r"[。！？；\n]+[”’」』）》\"')]*")
# Lone surrogates (from argv bytes that are not UTF-8, or JSON "\ud800") cannot
# reach the Rust tokenizer; U+FFFD, which it drops, holds their place instead.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
DECODERS = ("threshold", "fitted")


@dataclasses.dataclass
class Thresholds:
  """How candidates are accepted (decoder.py): the threshold rule's ``min_prob``,
  ``margin`` and ``top_k``; ``decoder`` "fitted" uses the boundary in ``fitted``
  (a decoder.Fitted) instead. ``calibration`` is what ``tune`` measured, kept
  for the record."""
  min_prob: float = 0.3
  margin: float = 0.1
  top_k: int = 10
  decoder: str = "threshold"
  fitted: object = None
  calibration: dict = None

  @classmethod
  def from_file(cls, path):
    from csc_pretrain.correct.decoder import Fitted
    raw = read_json(path)
    if not isinstance(raw, dict):
      raise InputError(path, 1, "expected a JSON object such as {\"min_prob\": 0.5}")
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(fields)
    if unknown:
      raise InputError(path, 0, f"unknown keys {sorted(unknown)}")
    for key in ("min_prob", "margin", "top_k"):
      value = raw.get(key, 0)
      if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(path, 0, f"{key} must be a number, got {value!r}")
    if raw.get("decoder", "threshold") not in DECODERS:
      raise InputError(path, 0, f"decoder must be one of {list(DECODERS)}, got "
                       f"{raw['decoder']!r}")
    if raw.get("fitted") is not None:
      raw["fitted"] = Fitted.from_dict(raw["fitted"], path)
    elif raw.get("decoder") == "fitted":
      raise InputError(path, 0, "decoder is \"fitted\" but there is no fitted boundary "
                       "(make one with `tune --decoder fitted`)")
    if raw.get("calibration") is not None and not isinstance(raw["calibration"], dict):
      raise InputError(path, 0, "calibration must be an object")
    return cls(**raw)

  def candidates_needed(self):
    """How many of the model's candidates per position the rule in use reads."""
    return self.fitted.top_k if self.decoder == "fitted" and self.fitted else self.top_k

  def to_json(self):
    """The JSON object ``from_file`` reads; fields at their defaults of None are left out,
    so a plain threshold file keeps its three keys."""
    out = {"min_prob": self.min_prob, "margin": self.margin, "top_k": self.top_k}
    if self.decoder != "threshold" or self.fitted is not None:
      out["decoder"] = self.decoder
    if self.fitted is not None:
      out["fitted"] = self.fitted.to_dict()
    if self.calibration is not None:
      out["calibration"] = self.calibration
    return out


@dataclasses.dataclass
class Candidates:
  """Per-position model output for one sentence: the characters, their own
  probabilities, and the top-k (characters, probabilities)."""
  text: str
  chars: list          # character at each position ('' where it is not a candidate)
  own_prob: np.ndarray
  top_chars: list      # [[c1..ck], ...] per position
  top_probs: np.ndarray
  # With a lexicon: per position, the allowed characters outside the top-k that
  # would make a lexicon word there, and the model's probabilities of them.
  extra_chars: list = dataclasses.field(default_factory=list)
  extra_probs: list = dataclasses.field(default_factory=list)


class Corrector:
  """Loads a checkpoint once and corrects sentences in batches."""

  def __init__(self, checkpoint_path, bert_config_file=None, vocab_file=None, confusion_dir=None,
               thresholds=None, max_seq_length=128, batch_size=32, constraints=None,
               second_pass=False):
    import tensorflow as tf
    from csc_pretrain.bert.tokenization import FullTokenizer
    from csc_pretrain.bert import checkpoint, modeling
    prefix = checkpoint.resolve(checkpoint_path)
    bert_config_file = checkpoint.side_file(prefix, "bert_config.json", bert_config_file)
    vocab_file = checkpoint.side_file(prefix, "vocab.txt", vocab_file)
    self.config = modeling.BertConfig.from_json_file(bert_config_file)
    self.tokenizer = FullTokenizer(vocab_file, do_lower_case=True)
    if len(self.tokenizer.vocab) != self.config.vocab_size:
      raise InputError(vocab_file, 0, f"{len(self.tokenizer.vocab)} tokens but vocab_size "
                       f"{self.config.vocab_size} in {bert_config_file}")
    self.model = modeling.BertPretrainer(self.config, seed=0)
    checkpoint.restore(prefix, self.model.variables_by_name)
    self.prefix = prefix
    self.confusions = _load_confusions(confusion_dir) if confusion_dir else None
    self.confusion_dir = confusion_dir
    self._similarity = None
    self._dictionary = None
    self.constraints = constraints
    self.second_pass = second_pass
    self.thresholds = thresholds or Thresholds()
    self.max_seq_length = min(max_seq_length, self.config.max_position_embeddings)
    if self.max_seq_length < 3:
      raise InputError("--max_seq_length", 0, f"{max_seq_length} leaves no room for a character "
                       "next to [CLS] and [SEP]; use at least 3")
    self.batch_size = batch_size
    self._tf = tf
    # One trace for every batch shape: each distinct length would retrace otherwise.
    self._predict = tf.function(self._forward, input_signature=[
        tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([None, None], tf.int32)])

  def _forward(self, ids, mask, targets, k, extra):
    """(own probability [N], top-k probabilities [N, k], top-k ids [N, k],
    probabilities of the ``extra`` ids [N, E]) at ``targets``, flat indices
    into the [B, S] batch. The MLM head (a matmul with
    the whole vocab) runs only where a character may be replaced, not at
    padding, [CLS]/[SEP] or non-Chinese tokens: with a small encoder it is most
    of the cost."""
    tf = self._tf
    sequence, _ = self.model.encode(ids, mask, tf.zeros_like(ids))
    flat = tf.reshape(sequence, [1, -1, tf.shape(sequence)[-1]])
    probs = tf.nn.softmax(self.model.mlm_logits(flat, targets[None]))[0]
    own = tf.gather(probs, tf.gather(tf.reshape(ids, [-1]), targets), batch_dims=1)
    top_p, top_i = tf.math.top_k(probs, k=k)
    return own, top_p, top_i, tf.gather(probs, extra, batch_dims=1)

  # --- model side -------------------------------------------------------------------------------

  def candidates(self, texts, top_k=None):
    """Candidates for each text (texts longer than the model takes are windowed)."""
    k = top_k or self.thresholds.candidates_needed()
    texts = list(texts)
    inv = self.tokenizer.inv_vocab
    cls_id, sep_id = self.tokenizer.vocab["[CLS]"], self.tokenizer.vocab["[SEP]"]
    per_text = [Candidates(text, [""] * len(text), np.zeros(len(text)), [[] for _ in text],
                           np.zeros((len(text), k)), [[] for _ in text], [[] for _ in text])
                for text in texts]
    lexicon = self.constraints is not None and self.constraints.lexicon
    encoded = self.tokenizer.encode([LONE_SURROGATE.sub("\ufffd", t) for t in texts],
                                    offsets=True)  # [(ids, first character of each)]
    targets = []  # per text: the token indices whose prediction may replace a character
    rows = []  # (text index, first token, end token, first kept token, end kept token)
    for t, (text, (ids, starts)) in enumerate(zip(texts, encoded)):
      # The token must be the very character at its offset: not [UNK], not a
      # WordPiece of a longer run, not something the normalizer changed.
      wanted = [inv[i] == text[s] and is_cjk(text[s]) for i, s in zip(ids, starts)]
      targets.append(wanted)
      if any(wanted):  # windows with nothing to correct are not run at all
        rows += [(t,) + w for w in self._windows(text, starts) if any(wanted[w[2]:w[3]])]
    rows.sort(key=lambda row: row[2] - row[1])  # similar lengths share a batch: less padding
    for b in range(0, len(rows), self.batch_size):
      batch = rows[b:b + self.batch_size]
      width = max(hi - lo for _, lo, hi, _, _ in batch) + 2
      ids = np.zeros((len(batch), width), np.int32)
      mask = np.zeros_like(ids)
      flat, where = [], []  # each kept target: its index in ids.flat, (text, character)
      makers = []  # each kept target: the lexicon-making candidates' ids
      for r, (t, lo, hi, keep_lo, keep_hi) in enumerate(batch):
        ids[r, :hi - lo + 2] = [cls_id] + encoded[t][0][lo:hi] + [sep_id]
        mask[r, :hi - lo + 2] = 1
        starts, wanted = encoded[t][1], targets[t]
        for j in range(keep_lo, keep_hi):
          if wanted[j]:
            flat.append(r * width + j - lo + 1)  # +1: [CLS]
            where.append((t, starts[j]))
            makers.append(self._word_makers(texts[t], starts[j]) if lexicon else [])
      extra = np.zeros((len(flat), max([len(m) for m in makers] + [1])), np.int32)
      for n, m in enumerate(makers):
        extra[n, :len(m)] = m
      own, top_p, top_i, extra_p = (np.asarray(x) for x in self._predict(
          ids, mask, np.array(flat, np.int32), k, extra))
      for n, (t, pos) in enumerate(where):
        out = per_text[t]
        out.chars[pos] = texts[t][pos]
        out.own_prob[pos] = own[n]
        out.top_chars[pos] = [inv[i] for i in top_i[n]]
        out.top_probs[pos] = top_p[n]
        out.extra_chars[pos] = [inv[i] for i in makers[n]]
        out.extra_probs[pos] = [float(p) for p in extra_p[n, :len(makers[n])]]
    return per_text

  def _word_makers(self, text, pos):
    """Vocab ids of the allowed characters that would make a lexicon word at ``pos``:
    the model is asked for them even when they are not among its top k."""
    vocab = self.tokenizer.vocab
    return [vocab[c] for c in self.constraints.word_makers(text, pos)
            if c in vocab and self.allowed(text[pos], c)]

  def _windows(self, text, starts):
    """[(lo, hi, keep_lo, keep_hi)]: the model reads tokens [lo, hi) and its
    predictions for [keep_lo, keep_hi) are kept; the kept ranges tile the text."""
    budget = self.max_seq_length - 2
    n = len(starts)
    if n <= budget:
      return [(0, n, 0, n)]
    cuts = {bisect.bisect_left(starts, m.end()) for m in SENTENCE_END.finditer(text)}
    bounds = sorted(cuts | {0, n})
    windows = []
    lo = 0  # first token of the window being filled with whole sentences
    for first, end in zip(bounds, bounds[1:]):
      if end - lo <= budget:
        continue  # this sentence fits too
      if first > lo:
        windows.append((lo, first, lo, first))
      lo = first
      if end - first > budget:
        windows += _sliding_windows(first, end, budget)
        lo = end
    if lo < n:
      windows.append((lo, n, lo, n))
    return windows

  # --- filtering ------------------------------------------------------------------------------------------

  def allowed(self, original, candidate):
    if not is_cjk(candidate) or candidate == original:
      return False
    return self.confusions is None or candidate in self.confusions.get(original, ())

  @property
  def similarity(self):
    """char_meta's similarity and frequency tables (decoder.CharSimilarity), read
    on first use: only the fitted decoder needs them."""
    if self._similarity is None:
      from csc_pretrain.correct.decoder import CharSimilarity
      self._similarity = CharSimilarity(self.confusion_dir)
    return self._similarity

  @property
  def dictionary(self):
    """The words the fitted decoder's word features look up (constraints.Dictionary:
    jieba's dictionary, and the lexicon's words), read on first use."""
    if self._dictionary is None:
      from csc_pretrain.correct.constraints import Dictionary
      self._dictionary = Dictionary.jieba()
      if self.constraints is not None:
        self._dictionary.add(self.constraints.lexicon)
    return self._dictionary

  def decide(self, cands, thresholds=None, frozen=None):
    """(corrected text, edits) for one sentence's candidates; ``frozen`` positions
    (default: the constraints' on this text) stay as they are."""
    from csc_pretrain.correct import decoder
    th = thresholds or self.thresholds
    if th.decoder != "fitted":
      return decoder.decide(cands, th, self.allowed, None, self.constraints, frozen)
    return decoder.decide(cands, th, self.allowed, self.similarity, self.constraints, frozen,
                          self.dictionary)

  def correct(self, texts):
    """[{"text", "corrected", "edits": [{"pos", "from", "to", "prob"}]}] for a list of
    texts of any length; ``pos`` indexes ``text`` (see the module docstring). The
    fitted decoder adds each edit's ``score``; a second-pass edit has ``"pass": 2``."""
    cands = self.candidates(texts)
    frozen = [self.constraints.frozen(c.text) if self.constraints else set() for c in cands]
    results = [dict(zip(("text", "corrected", "edits"), (c.text,) + self.decide(c, frozen=f)))
               for c, f in zip(cands, frozen)]
    if self.second_pass:
      self.read_again(results, frozen)
    return results

  def read_again(self, results, frozen, thresholds=None, candidates=None):
    """Reads the corrected sentences again and keeps a new edit only right next to
    a first-round one: a two-character error whose second half only shows once the
    first is fixed, without opening the whole sentence again. ``thresholds`` and
    ``candidates`` (texts -> Candidates) default to the corrector's own."""
    redo = [i for i, r in enumerate(results) if r["edits"]]
    read = candidates or self.candidates
    for i, cands in zip(redo, read([results[i]["corrected"] for i in redo])):
      result = results[i]
      first = {e["pos"] for e in result["edits"]}
      near = {p + d for p in first for d in (-1, 1)} - first
      # Only the neighbours may change; everything else is frozen for this round.
      still = (set(range(len(result["text"]))) - near) | frozen[i]
      _, more = self.decide(cands, thresholds, frozen=still)
      if not more:
        continue
      chars = list(result["corrected"])
      for edit in more:
        chars[edit["pos"]] = edit["to"]
        edit["pass"] = 2
      result["corrected"] = "".join(chars)
      result["edits"] = sorted(result["edits"] + more, key=lambda e: e["pos"])


def _sliding_windows(lo, hi, budget):
  """Windows of ``budget`` tokens over [lo, hi), each half over the last; a token
  is kept from the window where it has the most context on its nearer side."""
  firsts = list(range(lo, hi - budget, max(budget // 2, 1))) + [hi - budget]
  windows = []
  keep_lo = lo
  for i, first in enumerate(firsts):
    # The middle of the overlap with the next window: the hand-over point.
    keep_hi = (firsts[i + 1] + first + budget) // 2 if i + 1 < len(firsts) else hi
    windows.append((first, first + budget, keep_lo, keep_hi))
    keep_lo = keep_hi
  return windows


def _load_confusions(confusion_dir):
  from csc_pretrain.char_meta import formats
  merged = {}
  for name in (formats.CORRECTION_TABLE, formats.PHONETIC_TABLE, formats.VISUAL_TABLE):
    path = os.path.join(confusion_dir, name)
    if not os.path.exists(path):
      raise InputError(path, 0, "no such file (is --confusion_dir a char_meta output?)")
    for ch, cands in formats.read_confusion_sets(path).items():
      merged.setdefault(ch, set()).update(cands)
  return merged
