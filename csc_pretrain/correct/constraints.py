"""Protected terms and a user lexicon: what the corrector may not touch, and what it should favour.

--protect FILE, one entry a line (blank lines and ``#`` comments skipped):

    阿莫西林            a literal word: never edited inside, wherever it occurs
    re:[A-Z]{2}-\\d+     a Python regular expression (after ``re:``): never edited inside a match

--lexicon FILE, one domain word a line (at least two characters, no spaces; ``#``
comments). A correction that changes a character inside an occurrence of a
lexicon word in the input is refused: it would break the word. A correction
that creates an occurrence that was not there (a non-word becomes a lexicon
word) is favoured: the decoder gives it a bonus (see decoder.py). ``--lexicon
jieba`` takes the 330,415 words of 2 to 4 characters of jieba's dictionary
instead (3 s and 350 MB to index), and ``--lexicon jieba,FILE`` both: general
words hold a small model back from editing inside them, at the price of the
slips that happen to make a word (on SIGHAN 2013, 21 % of the wrong characters).

Both are matched on the input text; spans are Python ``str`` indices like
every edit's ``pos``.
"""

import dataclasses
import functools
import os
import re

from csc_pretrain.io_utils import InputError, read_lines

REGEX_PREFIX = "re:"
JIEBA = "jieba"  # --lexicon's name for jieba's dictionary


def _entries(path):
  """(line number, entry) for the non-blank, non-comment lines of ``path``."""
  for number, line in read_lines(path):
    entry = line.strip()
    if entry and not entry.startswith("#"):
      yield number, entry


def read_protect(path):
  """Compiled patterns from a protect file; a bad line is an InputError at file:line."""
  literals, patterns = [], []
  for number, entry in _entries(path):
    if entry.startswith(REGEX_PREFIX):
      source = entry[len(REGEX_PREFIX):]
      try:
        pattern = re.compile(source)
      except re.error as e:
        raise InputError(path, number, f"bad regular expression {source!r}: {e}") from None
      if pattern.fullmatch(""):
        # It would match everywhere with an empty span and so protect nothing: a mistake.
        raise InputError(path, number, f"regular expression {source!r} matches the empty string")
      patterns.append(pattern)
    else:
      if any(ch.isspace() for ch in entry):
        raise InputError(path, number, f"protected word {entry!r} holds whitespace "
                         f"(for a pattern write {REGEX_PREFIX}PATTERN)")
      literals.append(entry)
  if not literals and not patterns:
    raise InputError(path, 0, "no protected terms in the file")
  if literals:
    # Longest first, so a long term wins over a prefix of it at the same start.
    alternation = "|".join(re.escape(w) for w in sorted(set(literals), key=len, reverse=True))
    patterns.insert(0, re.compile(alternation))
  return patterns


def read_lexicon(path):
  """The set of words in a lexicon file; a bad line is an InputError at file:line."""
  words = set()
  for number, entry in _entries(path):
    if any(ch.isspace() for ch in entry):
      raise InputError(path, number, f"lexicon word {entry!r} holds whitespace: one word a line")
    if len(entry) < 2:
      raise InputError(path, number, f"lexicon word {entry!r} has one character; a lexicon "
                       "word needs at least two")
    words.add(entry)
  if not words:
    raise InputError(path, 0, "no words in the lexicon file")
  return words


def lexicon_words(spec):
  """The words of a --lexicon ``spec``: a file, ``jieba``, or several joined by commas."""
  words = set()
  for source in spec.split(","):
    if source == JIEBA:
      words |= set(Dictionary.jieba().counts)
    elif source:
      words |= read_lexicon(source)
  return words


@dataclasses.dataclass
class Constraints:
  """Protected patterns and lexicon words, applied to one text at a time."""
  protect: list = dataclasses.field(default_factory=list)   # compiled patterns
  lexicon: set = dataclasses.field(default_factory=set)

  def __post_init__(self):
    self._lengths = sorted({len(w) for w in self.lexicon})
    # Each word with one character blanked -> the characters that fill the blank:
    # what may be put at a position to make a word, without trying every character.
    self._holes = {}
    for word in self.lexicon:
      for k in range(len(word)):
        self._holes.setdefault(word[:k] + "\0" + word[k + 1:], set()).add(word[k])

  @classmethod
  def from_files(cls, protect_path=None, lexicon_path=None):
    """``lexicon_path``: a file, ``jieba``, or several of them joined by commas."""
    if not protect_path and not lexicon_path:
      return None
    return cls(read_protect(protect_path) if protect_path else [],
               lexicon_words(lexicon_path or ""))

  def frozen(self, text):
    """Positions of ``text`` no edit may touch: inside a protected match or inside
    a lexicon word already there (changing it would break the word)."""
    out = set()
    for pattern in self.protect:
      for m in pattern.finditer(text):
        out.update(range(m.start(), m.end()))
    for n in self._lengths:
      for start in range(len(text) - n + 1):
        if text[start:start + n] in self.lexicon:
          out.update(range(start, start + n))
    return out

  def _fillers(self, text, pos):
    """Every character that, at ``pos``, completes a lexicon word covering ``pos``."""
    out = set()
    for n in self._lengths:
      for start in range(max(0, pos - n + 1), min(pos, len(text) - n) + 1):
        out |= self._holes.get(text[start:pos] + "\0" + text[pos + 1:start + n], set())
    return out

  def word_makers(self, text, pos):
    """The characters other than ``text[pos]`` that, put at ``pos``, create a
    lexicon word covering ``pos`` (sorted)."""
    return sorted(self._fillers(text, pos) - {text[pos]})

  def makes_word(self, text, pos, candidate):
    """Whether putting ``candidate`` at ``pos`` creates a lexicon word covering ``pos``."""
    return candidate in self._fillers(text, pos)


class Dictionary:
  """Words of the language and how common they are, for the fitted decoder's word
  features: the words (2 to ``max_length`` characters) that cover a position. A
  real slip mostly leaves its character in no word at all while the correction
  makes one (on SIGHAN 2013: 79 % of wrong characters stand in no word of jieba's
  dictionary, against 27 % of correct ones); unlike the model's confidence, that
  carries over to text the model never saw."""

  def __init__(self, words, max_length=4):
    """``words``: {word: count}, or words (count 1 each); copied, never changed."""
    self.max_length = max_length
    counts = words if isinstance(words, dict) else dict.fromkeys(words, 1)
    self.counts = {w: c for w, c in counts.items() if self._fits(w)}

  def _fits(self, word):
    return 2 <= len(word) <= self.max_length

  @classmethod
  def jieba(cls, max_length=4):
    """jieba's bundled dictionary (dict.txt: word, count, part of speech a line),
    all of it: leaving out its rarer words separated errors from correct text no
    better on the SIGHAN 2014+2015 training pairs."""
    return cls(_jieba_counts(), max_length)

  def add(self, words):
    """Adds ``words`` (a lexicon's) that it lacks, with count 1."""
    for w in words:
      if self._fits(w):
        self.counts.setdefault(w, 1)

  def covering(self, text, pos, ch=None):
    """(length of the longest word, largest count of any word) covering ``pos`` when
    ``ch`` (default: the character there) stands at ``pos``; (0, 0) when none does."""
    if ch is not None:
      text = text[:pos] + ch + text[pos + 1:]
    length = count = 0
    for n in range(2, self.max_length + 1):
      for start in range(max(0, pos - n + 1), min(pos, len(text) - n) + 1):
        c = self.counts.get(text[start:start + n])
        if c is not None:
          length, count = n, max(count, c)
    return length, count


@functools.lru_cache(maxsize=1)
def _jieba_counts():
  """{word: count} of jieba's dict.txt, read once a process: ``--lexicon jieba`` and
  the decoder's word features both need it."""
  import jieba
  counts = {}
  with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
    for line in f:
      word, count = line.split(" ")[:2]
      counts[word] = int(count)
  return counts
