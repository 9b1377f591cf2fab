"""Google BERT's FullTokenizer, run by Hugging Face ``tokenizers`` (Rust).

Same vocab file, same output: clean the text, put spaces around every CJK
character, lowercase and strip accents when asked, split on whitespace and
punctuation, then greedy longest-match WordPiece with ``##`` continuations and
[UNK] for words longer than 200 characters or with no match. The tests check
token-for-token equality with Google's own tokenization.py.
"""

import collections
import re

from csc_pretrain.io_utils import InputError, read_lines

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_INPUT_CHARS_PER_WORD = 200  # Google's WordpieceTokenizer default
MAX_CACHED_RUNS = 100_000


def load_vocab(path):
  """``{token: id}`` from a BERT vocab.txt (one token a line, id = line index)."""
  vocab = collections.OrderedDict()
  for number, line in read_lines(path):
    token = line.strip()
    if not token:
      raise InputError(path, number, "empty token")
    if token in vocab:
      raise InputError(path, number, f"duplicate token {token!r} (first on line {vocab[token] + 1})")
    vocab[token] = len(vocab)
  missing = [t for t in SPECIAL_TOKENS if t not in vocab]
  if missing:
    raise InputError(path, 0, f"not a BERT vocab: missing {', '.join(missing)}")
  return vocab


class FullTokenizer:
  """Batch tokenizer equivalent to Google's ``tokenization.FullTokenizer``."""

  def __init__(self, vocab_file, do_lower_case=True):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = list(self.vocab)
    self.do_lower_case = do_lower_case
    tokenizer = Tokenizer(models.WordPiece(vocab=dict(self.vocab), unk_token="[UNK]",
                                           max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None,
        lowercase=do_lower_case)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    self._tokenizer = tokenizer
    self._alone = {}  # char -> token id when it always makes a token of its own, else -1
    self._not_alone = None  # a regex of runs of the -1 characters
    self._runs = {}  # run of -1 characters -> (ids, token starts), as it repeats ("mg", "10")

  def encode(self, texts, offsets=False):
    """Token ids of each text, as tokenize_ids; with ``offsets`` also (ids, first
    character of each token) pairs.

    Faster on Chinese: a character that the pipeline always makes a token of its
    own whatever its neighbours (a CJK character, punctuation) is looked up
    once and then taken from a table; only the runs of other characters between
    such characters go through the tokenizer, all in one batch. The pipeline
    treats every character on its own up to the splitting into words, and these
    characters are word boundaries, so the tokens are the same.
    """
    alone = self._alone
    try:
      table = [list(map(alone.__getitem__, text)) for text in texts]
    except KeyError:  # characters not seen before
      self._learn_alone(set().union(*texts).difference(alone))
      table = [list(map(alone.__getitem__, text)) for text in texts]
    out = [None] * len(texts)
    mixed = []  # (text index, its ids, [(run, start, end)])
    for t, (text, ids) in enumerate(zip(texts, table)):
      if -1 not in ids:
        out[t] = (ids, list(range(len(ids)))) if offsets else ids
        continue
      mixed.append((t, ids, [(m.group(), m.start(), m.end())
                             for m in self._not_alone.finditer(text)]))
    runs = self._runs
    if len(runs) > MAX_CACHED_RUNS:  # memory stays bounded on any corpus
      runs.clear()
    todo = list({run for _, _, spans in mixed for run, _, _ in spans if run not in runs})
    for run, e in zip(todo, self._tokenizer.encode_batch(todo, add_special_tokens=False)):
      runs[run] = (e.ids, [s for s, _ in e.offsets])
    for t, ids, spans in mixed:
      out_ids, starts, done = [], [], 0
      for run, start, end in spans:
        run_ids, run_starts = runs[run]
        out_ids += ids[done:start]
        out_ids += run_ids
        if offsets:
          starts += range(done, start)
          starts += [start + s for s in run_starts]
        done = end
      out_ids += ids[done:]
      if offsets:
        starts += range(done, len(ids))
      out[t] = (out_ids, starts) if offsets else out_ids
    return out

  def _learn_alone(self, chars):
    """Sorts new characters: the token id of one that stands alone, else -1. It
    stands alone if the tokenizer splits it from letters on both sides."""
    chars = sorted(chars)
    probes = self._tokenizer.encode_batch(["a" + c + "a" for c in chars] + ["a"],
                                          add_special_tokens=False)
    a_ids = probes[-1].ids
    for c, probe in zip(chars, probes):
      ids = probe.ids
      split = (len(a_ids) == 1 and len(ids) == 3 and ids[0] == ids[2] == a_ids[0]
               and probe.offsets[1] == (1, 2))
      self._alone[c] = ids[1] if split else -1
    others = sorted(c for c, i in self._alone.items() if i < 0)
    self._not_alone = re.compile("[" + "".join(map(re.escape, others)) + "]+") if others else (
        re.compile("(?!)"))  # matches nothing

  def tokenize_ids(self, texts):
    """Token ids of each text in ``texts``."""
    return [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

  def tokenize(self, text):
    return self.convert_ids_to_tokens(self.tokenize_ids([text])[0])

  def convert_tokens_to_ids(self, tokens):
    return [self.vocab[t] for t in tokens]

  def convert_ids_to_tokens(self, ids):
    return [self.inv_vocab[i] for i in ids]


def _is_cjk(ch):
  cp = ord(ch)
  return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F
          or 0xF900 <= cp <= 0xFAFF)


def build_vocab(texts, extra_chars=(), max_size=None):
  """A BERT-Chinese-style vocab: Google's special tokens in Google's order, ASCII,
  then characters by frequency, then ``##`` continuations of letters and digits.

  ``texts`` is an iterable of strings (the corpus); ``extra_chars`` maps
  characters to a count that is added (e.g. char_meta frequencies, so that
  confusion candidates the corpus lacks are in the vocab too).
  """
  vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  ascii_tokens = [chr(c) for c in range(33, 127)]
  counts = collections.Counter()
  for text in texts:
    counts.update(ch for ch in text if not ch.isspace())
  for ch, n in dict(extra_chars).items():
    counts[ch] += n
  chars = sorted((c for c in counts if c not in ascii_tokens and len(c) == 1
                  and (_is_cjk(c) or not c.isascii())),
                 key=lambda c: (-counts[c], c))
  lower = [c.lower() for c in chars]
  chars = list(dict.fromkeys(lower))  # the model sees lowercased text by default
  # WordPiece continuations: letters, digits, and every other non-CJK character,
  # which can follow a digit inside one word ("39.2℃" -> 39 . 2 ##℃).
  continuations = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
  continuations += ["##" + c for c in chars if not _is_cjk(c)]
  vocab += ascii_tokens
  budget = None if max_size is None else max_size - len(vocab) - len(continuations)
  if budget is not None and budget < 0:
    raise ValueError(f"max_size {max_size} leaves no room for characters")
  vocab += chars[:budget] + continuations
  return vocab
