"""Mandarin readings and how alike two of them sound.

A reading is a toned syllable in pypinyin's TONE3 form ("zhang3"; neutral tone
is 5). Two readings are compared by initial, final and tone:

    sim = s_initial * s_final * s_tone

    s_initial  1 same | FUZZY_PAIR (0.8) for z/zh c/ch s/sh n/l f/h r/l | 0.3 other
    s_final    1 same | FUZZY_PAIR (0.8) for an/ang en/eng in/ing ian/iang uan/uang | 0.2 other
    s_tone     1 same | 0.85 other (1 in tone-insensitive mode, for ASR output)

So 同音同调 = 1 > 同音异调 = 0.85 > 近音 (one fuzzy pair) = 0.8, or 0.68 with another tone > ... and a
different initial with the same final (zhang/bang, 0.3) still beats a different
final (0.2). Characters compare by their closest pair of readings, where a
reading other than a character's first (most common) one counts SECONDARY
(0.9) as much: pypinyin lists rare readings too (声 qing4), and they should not
make 声 a homophone of 清.
"""

import numpy as np

INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h",
            "j", "q", "x", "r", "z", "c", "s", "y", "w")
FUZZY_INITIALS = (("z", "zh"), ("c", "ch"), ("s", "sh"), ("n", "l"), ("f", "h"), ("r", "l"))
FUZZY_FINALS = (("an", "ang"), ("en", "eng"), ("in", "ing"), ("ian", "iang"),
                ("uan", "uang"))
FUZZY_PAIR = 0.8
OTHER_INITIAL = 0.3
OTHER_FINAL = 0.2
OTHER_TONE = 0.85
SECONDARY = 0.9


def readings(char):
  """Every Mandarin reading of ``char`` (heteronyms on), most common first."""
  from pypinyin import Style, pinyin  # imported here: loading its dictionary takes a while
  out = pinyin(char, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True,
               errors=lambda _: [[]])[0]
  # pypinyin writes ü as "v" in TONE3; keep it. Drop interjection-only nasal readings
  # ("n2", "ng4" for 嗯), which have no final to compare.
  return [r for r in dict.fromkeys(out) if r and r[:-1] not in ("n", "ng", "m", "hm", "hng")]


def split_syllable(reading):
  """'zhang3' -> ('zh', 'ang', 3); 'an4' -> ('', 'an', 4)."""
  tone = int(reading[-1]) if reading[-1].isdigit() else 5
  base = reading[:-1] if reading[-1].isdigit() else reading
  initial = next((i for i in INITIALS if base.startswith(i) and len(base) > len(i)), "")
  return initial, base[len(initial):], tone


def _part_similarity(a, b, fuzzy, other):
  """Pairwise similarity of two label arrays with a symmetric fuzzy-pair list."""
  sim = np.where(a[:, None] == b[None, :], 1.0, other)
  for x, y in fuzzy:
    pair = ((a[:, None] == x) & (b[None, :] == y)) | ((a[:, None] == y) & (b[None, :] == x))
    sim = np.where(pair, FUZZY_PAIR, sim)
  return sim


def syllable_similarity(syllables, tone_sensitive=True):
  """Dense ``[S, S]`` float32 similarity of a list of TONE3 syllables."""
  parts = [split_syllable(s) for s in syllables]
  initials = np.array([p[0] for p in parts])
  finals = np.array([p[1] for p in parts])
  tones = np.array([p[2] for p in parts])
  sim = (_part_similarity(initials, initials, FUZZY_INITIALS, OTHER_INITIAL) *
         _part_similarity(finals, finals, FUZZY_FINALS, OTHER_FINAL))
  if tone_sensitive:
    sim = sim * np.where(tones[:, None] == tones[None, :], 1.0, OTHER_TONE)
  return sim.astype(np.float32)


def reading_similarity(a, b, tone_sensitive=True):
  """Similarity of two TONE3 readings (a convenience for one pair)."""
  return float(syllable_similarity([a, b], tone_sensitive)[0, 1])


def reading_table(char_readings):
  """``(syllables, reading_ids)``: the sorted distinct readings, and per character
  the indices of its readings, padded with a sentinel syllable (index
  len(syllables)) that matches nothing. [n_chars, max_readings] int32."""
  syllables = sorted({r for rs in char_readings for r in rs})
  index = {s: k for k, s in enumerate(syllables)}
  max_readings = max([len(rs) for rs in char_readings] + [1])
  reading_ids = np.full((len(char_readings), max_readings), len(syllables), dtype=np.int32)
  for i, rs in enumerate(char_readings):
    reading_ids[i, :len(rs)] = [index[r] for r in rs]
  return syllables, reading_ids


SOUND_PARTS = ("syllable", "initial", "final")


def sound_parts(readings):
  """(toneless syllable, initial, final) of a character's first reading, or None
  for a character without one: 'zhang3' -> ('zhang', 'zh', 'ang')."""
  if not readings:
    return None
  initial, final, _ = split_syllable(readings[0])
  return initial + final, initial, final


class PhoneticTable:
  """Char-by-char phonetic similarity, computed a block of rows at a time.

  ``by_syllable[s, j]`` holds the best similarity between syllable ``s`` and any
  reading of character ``j``; a row of the char table is then the max over the
  row character's readings. Characters with no reading score 0.
  """

  def __init__(self, char_readings, tone_sensitive=True):
    syllables, self.reading_ids = reading_table(char_readings)
    self.max_readings = self.reading_ids.shape[1]
    ss = np.zeros((len(syllables) + 1, len(syllables) + 1), dtype=np.float32)
    ss[:-1, :-1] = syllable_similarity(syllables, tone_sensitive)
    by_syllable = ss[:, self.reading_ids[:, 0]]
    for b in range(1, self.max_readings):
      np.maximum(by_syllable, SECONDARY * ss[:, self.reading_ids[:, b]], out=by_syllable)
    self.by_syllable = by_syllable

  def rows(self, start, stop):
    """Similarity of characters ``start:stop`` to every character, ``[rows, n]``."""
    return self.rows_of(np.arange(start, stop))

  def rows_of(self, indices):
    """Similarity of the characters ``indices`` to every character, ``[rows, n]``."""
    ids = self.reading_ids[np.asarray(indices, np.int64)]
    out = self.by_syllable[ids[:, 0]]
    for b in range(1, self.max_readings):
      # Most characters have one or two readings: only the rows with a (b+1)-th.
      have = np.flatnonzero(ids[:, b] < len(self.by_syllable) - 1)
      if len(have):
        out[have] = np.maximum(out[have], SECONDARY * self.by_syllable[ids[have, b]])
    return out


# Kinds of sound-alike, one bit each, for the fitted ranking (ranking.py). A pair of
# characters has a bit when any pair of their readings has it; the *_FIRST bits
# look only at the two first (most common) readings.
SAME_TONE = 1          # same syllable, same tone
SAME_SYLLABLE = 2      # same syllable, any tone
FUZZY_INITIAL = 4      # finals equal, initials a fuzzy pair (z/zh, n/l, ...)
FUZZY_FINAL = 8        # initials equal, finals a fuzzy pair (in/ing, ...)
SAME_INITIAL = 16      # initials equal, other final
SAME_FINAL = 32        # finals equal, other initial
NEUTRAL = 64           # same syllable, one of the two in the neutral tone (的 de5 / 得 de2)
NEAR_SAME_TONE = 128   # a fuzzy initial or final, same tone
SAME_TONE_FIRST = 256
SAME_SYLLABLE_FIRST = 512
SAME_INITIAL_TONE = 1024  # same initial, other final, same tone (有 you3 / 要 yao4 is not)
SAME_FINAL_TONE = 2048    # same final, other initial, same tone (的 de5 / 了 le5)
# Learners' (and dialect speakers') sound confusions, not in the fuzzy lists:
ASPIRATED = 4096       # same final, initials differ only in aspiration (居 ju / 区 qu)
UMLAUT = 8192          # same initial, finals u/ü (努 nu / 女 nv, 路 lu / 旅 lv)
NEAR_SYLLABLE = 16384  # other toneless syllable one edit or swap away (多 duo / 都 dou)
NEAR_SYLLABLE_TONE = 32768  # the same, same tone

ASPIRATION_PAIRS = (("b", "p"), ("d", "t"), ("g", "k"), ("j", "q"), ("zh", "ch"), ("z", "c"))
UMLAUT_PAIRS = (("u", "v"), ("ue", "ve"), ("un", "vn"), ("uan", "van"))


def syllable_bits(syllables):
  """Dense ``[S, S]`` int32 kind bits of a list of TONE3 syllables (first-reading
  bits excluded: they depend on characters, not syllables)."""
  parts = [split_syllable(s) for s in syllables]
  initials = np.array([p[0] for p in parts])
  finals = np.array([p[1] for p in parts])
  tones = np.array([p[2] for p in parts])
  same_i = initials[:, None] == initials[None, :]
  same_f = finals[:, None] == finals[None, :]
  same_t = tones[:, None] == tones[None, :]
  fuzzy_i = _part_similarity(initials, initials, FUZZY_INITIALS, 0.0) == FUZZY_PAIR
  fuzzy_f = _part_similarity(finals, finals, FUZZY_FINALS, 0.0) == FUZZY_PAIR
  same = same_i & same_f
  neutral = same & ~same_t & ((tones[:, None] == 5) | (tones[None, :] == 5))
  near = (fuzzy_i & same_f) | (same_i & fuzzy_f)
  aspirated = same_f & (_part_similarity(initials, initials, ASPIRATION_PAIRS, 0.0) == FUZZY_PAIR)
  umlaut = same_i & (_part_similarity(finals, finals, UMLAUT_PAIRS, 0.0) == FUZZY_PAIR)
  from rapidfuzz.distance import OSA
  from rapidfuzz.process import cdist
  bases = [i + f for i, f, _ in parts]
  near_syllable = cdist(bases, bases, scorer=OSA.distance, dtype=np.int32) == 1
  bits = (ASPIRATED * aspirated + UMLAUT * umlaut + NEAR_SYLLABLE * near_syllable
          + NEAR_SYLLABLE_TONE * (near_syllable & same_t)
          + SAME_TONE * (same & same_t) + SAME_SYLLABLE * same + FUZZY_INITIAL * (fuzzy_i & same_f)
          + FUZZY_FINAL * (same_i & fuzzy_f) + SAME_INITIAL * (same_i & ~same_f & ~fuzzy_f
                                                               & (initials[:, None] != ""))
          + SAME_FINAL * (same_f & ~same_i & ~fuzzy_i) + NEUTRAL * neutral
          + NEAR_SAME_TONE * (near & same_t)
          + SAME_INITIAL_TONE * (same_i & ~same_f & same_t & (initials[:, None] != ""))
          + SAME_FINAL_TONE * (same_f & ~same_i & same_t))
  return bits.astype(np.int32)


class PhoneticBits:
  """Char-by-char sound-alike kind bits (see syllable_bits), a block of rows at a time."""

  def __init__(self, char_readings):
    syllables, self.reading_ids = reading_table(char_readings)
    self.max_readings = self.reading_ids.shape[1]
    ss = np.zeros((len(syllables) + 1, len(syllables) + 1), dtype=np.int32)
    if syllables:
      ss[:-1, :-1] = syllable_bits(syllables)
    self.ss = ss
    by_syllable = ss[:, self.reading_ids[:, 0]]
    for b in range(1, self.max_readings):
      by_syllable = by_syllable | ss[:, self.reading_ids[:, b]]
    self.by_syllable = by_syllable

  def take(self, indices):
    """Bits of the characters ``indices`` against every character, ``[rows, n]`` int32."""
    ids = self.reading_ids[np.asarray(indices, np.int64)]
    out = self.by_syllable[ids[:, 0]]
    for b in range(1, self.max_readings):
      have = np.flatnonzero(ids[:, b] < len(self.by_syllable) - 1)  # as PhoneticTable.rows_of
      if len(have):
        out[have] |= self.by_syllable[ids[have, b]]
    first = self.ss[ids[:, :1], self.reading_ids[None, :, 0]]
    out = out | (SAME_TONE_FIRST * ((first & SAME_TONE) > 0))
    return out | (SAME_SYLLABLE_FIRST * ((first & SAME_SYLLABLE) > 0))
