"""Characters that stand in the same slot of real words: a context measure.

Many real errors are neither sound- nor look-alikes: 这/怎, 多/都, 的/个, 旅/路.
What such pairs share is *where* they occur: 这么/怎么, 旅途/路途, 旅程/路程. We
count, for a pair (a, b), the word frames "x_y" of a dictionary in which both a and
b make a word (jieba's dictionary by default, about 330k words of 2-4 characters;
the words come from the corrector's --lexicon reader, constraints.lexicon_words).
Frames with more than MAX_FRAME fillers ("_子", "第_") say nothing about a pair
and are skipped.

The table is sparse: each character has a few thousand frame-mates out of 21k.
"""

import collections

import numpy as np

from csc_pretrain.io_utils import is_cjk

MAX_FRAME = 300
MIN_LEN, MAX_LEN = 2, 4


class FrameTable:
  """Shared-frame counts between characters, rows taken as dense blocks."""

  def __init__(self, chars, words):
    index = {c: i for i, c in enumerate(chars)}
    frames = collections.defaultdict(set)
    for w in sorted(words):
      if not (MIN_LEN <= len(w) <= MAX_LEN and all(is_cjk(ch) for ch in w)):
        continue
      ids = [index.get(ch, -1) for ch in w]
      for i, k in enumerate(ids):
        if k >= 0:
          frames[(w[:i], w[i + 1:])].add(k)
    n = len(chars)
    codes = []
    for fillers in frames.values():
      if 2 <= len(fillers) <= MAX_FRAME:
        members = np.array(sorted(fillers), np.int64)
        a, b = np.meshgrid(members, members, indexing="ij")
        codes.append((a * n + b)[a != b])
    pairs, counts = np.unique(np.concatenate(codes) if codes else np.zeros(0, np.int64),
                              return_counts=True)
    rows, cols = pairs // n, pairs % n
    starts = np.searchsorted(rows, np.arange(n + 1))
    self.n = n
    self.cols = [cols[starts[i]:starts[i + 1]] for i in range(n)]
    self.counts = [counts[starts[i]:starts[i + 1]].astype(np.float32) for i in range(n)]

  def take(self, rows):
    """[len(rows), N] float32 shared-frame counts of ``rows`` against every character."""
    out = np.zeros((len(rows), self.n), np.float32)
    for k, r in enumerate(rows):
      out[k, self.cols[int(r)]] = self.counts[int(r)]
    return out
