"""One reader for every wrong/correct pair layout, shared by create_data and evaluation.

Layouts (``--format``; ``auto`` picks one from the file, see ``detect_format``):

  tsv      ``wrong<TAB>correct`` (a line may add an id first, as in faspell)
  faspell  ``id<TAB>wrong<TAB>correct`` (FASPell, ECSpell)
  spaced   the two layouts above with characters separated by spaces (LEMON,
           ECSpell): spaces are separators, not characters, and are removed
  lines    one sentence a line, no errors (clean text: wrong == correct)
  json     a JSON array or JSON lines of objects with ``source``/``target`` or
           pycorrector's ``original_text``/``correct_text`` (its ``wrong_ids``
           is ignored: the texts' differences are the edits); optional ``id``
  sighan   SIGHAN official input ``(pid=ID)<TAB>sentence`` plus a truth file
           ``ID, location, correction[, …]`` or ``ID, 0`` (1-based locations)
  sgml     SIGHAN training SGML, 2014/15 (``<PASSAGE id>`` + ``<MISTAKE id location>
           <WRONG><CORRECTION>``) and 2013 (``<DOC Nid><p>…</p><MISTAKE
           wrong_position><wrong><correct>``), tags in any case

Readers never drop a record silently: each ``Record`` carries ``problem`` (a short
reason, empty when fine) and ``detail`` (the message for ``path:line``). The
caller decides: evaluation skips and counts, create_data raises (``check``).
"""

import collections
import dataclasses
import functools
import json
import os
import re

from csc_pretrain.io_utils import InputError, read_lines

FORMATS = ("auto", "tsv", "faspell", "spaced", "lines", "json", "sighan", "sgml")

# Problem reasons, the keys of evaluation's "skipped" counts.
UNEQUAL = "unequal_length"     # well-formed, but not a substitution-only pair
MALFORMED = "malformed"        # wrong number of fields, bad JSON, bad truth line
EMPTY = "empty_sentence"
UNKNOWN_ID = "unknown_id"      # truth/mistake names an id the input lacks, or the reverse
MISMATCH = "mistake_mismatch"  # a marked mistake does not fit its sentence

SAMPLE_LINES = 50  # auto-detection looks at this many non-blank lines
SIGHAN_INPUT = re.compile(r"^\((?:pid|nid|sid)=([^)]+)\)\s*(.*)$", re.IGNORECASE)
HEADER_FIELD = re.compile(r"^[A-Za-z_ ]*$")


@dataclasses.dataclass
class Record:
  id: str
  wrong: str
  correct: str
  path: str
  line: int
  problem: str = ""  # reason this pair cannot be used as is; empty when fine
  detail: str = ""   # human-readable message for problem


def _record(rid, wrong, correct, path, line):
  """A record with the problems every layout shares filled in."""
  rec = Record(rid, wrong, correct, str(path), line)
  if not wrong.strip() or not correct.strip():
    rec.problem, rec.detail = EMPTY, "empty sentence"
  elif len(wrong) != len(correct):
    rec.problem = UNEQUAL
    rec.detail = (f"wrong and correct differ in length ({len(wrong)} vs {len(correct)}): "
                  "CSC pairs substitute characters only")
  return rec


def _bad(rid, path, line, problem, detail):
  return Record(rid, "", "", str(path), line, problem, detail)


def check(record, allow=()):
  """Raises InputError(path, line, detail) unless the record is fine or its
  problem is in ``allow``; returns the record."""
  if record.problem and record.problem not in allow:
    raise InputError(record.path, record.line, record.detail)
  return record


# --- detection ---------------------------------------------------------------------------------

def _has_cjk(text):
  return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def _is_spaced(text):
  """Characters separated by spaces: at least 3 tokens, nearly all one character."""
  tokens = text.split()
  return len(tokens) >= 3 and sum(len(t) == 1 for t in tokens) >= 0.8 * len(tokens)


def _is_header(fields):
  return all(HEADER_FIELD.match(f) for f in fields) and any(f.strip() for f in fields)


def _is_id(field):
  """FASPell/ECSpell first columns are numbers or labels, never Chinese text."""
  field = field.strip()
  return bool(field) and len(field) <= 64 and not _has_cjk(field) and " " not in field


def detect_format(path, truth_path=None):
  """Guesses the layout from the first non-blank lines.

  A truth file means sighan; ``<`` first means SGML; ``{`` or ``[`` first means
  JSON; ``(pid=`` lines mean a SIGHAN input file (which needs a truth file);
  otherwise tab fields decide: 3 with an id-like first → faspell, 2 → tsv,
  1 → lines, and spaced when most sampled text columns are space-separated
  characters.
  """
  if truth_path:
    return "sighan"
  sample = []
  for _, line in read_lines(path):
    if line.strip():
      sample.append(line)
      if len(sample) >= SAMPLE_LINES:
        break
  if not sample:
    raise InputError(path, 0, "empty file")
  first = sample[0].lstrip()
  if first.startswith("<"):
    return "sgml"
  if first.startswith(("{", "[")):
    return "json"
  if SIGHAN_INPUT.match(first):
    raise InputError(path, 0, "looks like a SIGHAN input file ((pid=ID) lines): pass its "
                     "truth file too")
  rows = [line.split("\t") for line in sample]
  if _is_header(rows[0]) and len(rows) > 1:
    rows = rows[1:]
  widths = collections.Counter(len(r) for r in rows)
  width = widths.most_common(1)[0][0]
  if width == 3 and sum(_is_id(r[0]) for r in rows if len(r) == 3) >= 0.5 * widths[3]:
    kind = "faspell"
  elif width == 2:
    kind = "tsv"
  elif width == 1:
    kind = "lines"
  else:
    raise InputError(path, 0, f"cannot tell the layout: most lines have {width} tab-separated "
                     "fields (pass --format)")
  texts = [f for r in rows for f in (r[-2:] if kind != "lines" else r)]
  if sum(_is_spaced(t) for t in texts) > 0.5 * len(texts):
    return "spaced"
  return kind


# --- readers -------------------------------------------------------------------------------------

def _read_columns(path, kind):
  """tsv, faspell, spaced and lines: one record a line."""
  spaced = kind == "spaced"
  for number, line in read_lines(path):
    if not line.strip():
      continue
    fields = line.split("\t")
    if number == 1 and _is_header(fields) and len(fields) > 1:
      continue  # a column header such as "src<TAB>tgt"
    rid = str(number)
    if kind == "lines":
      wrong = correct = line.strip()
    elif spaced and len(fields) == 1:
      wrong = correct = fields[0]
    elif len(fields) == 2 and kind in ("tsv", "spaced"):
      wrong, correct = fields
    elif len(fields) == 3 and (kind in ("faspell", "spaced") or _is_id(fields[0])):
      rid, wrong, correct = fields[0].strip(), fields[1], fields[2]
    else:
      want = {"tsv": "wrong<TAB>correct", "faspell": "id<TAB>wrong<TAB>correct",
              "spaced": "[id<TAB>]wrong<TAB>correct", "lines": "one sentence"}[kind]
      yield _bad(rid, path, number, MALFORMED, f"expected {want}, got {len(fields)} field(s)")
      continue
    if spaced:
      wrong, correct = wrong.replace(" ", ""), correct.replace(" ", "")
    else:
      wrong, correct = wrong.strip(), correct.strip()
    yield _record(rid, wrong, correct, path, number)


def _json_objects(path):
  """(line, object or None, error) for a JSON array or JSON lines file."""
  with open(path, encoding="utf-8-sig") as f:
    text = f.read()
  if text.lstrip().startswith("["):
    decoder = json.JSONDecoder()
    try:
      values = json.loads(text)
    except json.JSONDecodeError as e:
      yield e.lineno, None, f"not JSON: {e.msg}"
      return
    # Line numbers for messages: where each top-level element starts.
    position = text.index("[") + 1
    for value in values:
      while text[position] in " \t\r\n,":
        position += 1
      _, end = decoder.raw_decode(text, position)
      yield text.count("\n", 0, position) + 1, value, ""
      position = end
    return
  for number, line in enumerate(text.split("\n"), start=1):
    if not line.strip():
      continue
    try:
      yield number, json.loads(line), ""
    except json.JSONDecodeError as e:
      yield number, None, f"not JSON: {e.msg}"


def _read_json(path):
  if not os.path.isfile(path):
    raise InputError(path, 0, "no such file")
  for index, (number, obj, error) in enumerate(_json_objects(path), start=1):
    if obj is None:
      yield _bad(str(index), path, number, MALFORMED, error)
      continue
    if not isinstance(obj, dict):
      yield _bad(str(index), path, number, MALFORMED, "expected a JSON object")
      continue
    rid = str(obj.get("id", index))
    if isinstance(obj.get("source"), str) and isinstance(obj.get("target"), str):
      wrong, correct = obj["source"], obj["target"]
    elif isinstance(obj.get("original_text"), str) and isinstance(obj.get("correct_text"), str):
      wrong, correct = obj["original_text"], obj["correct_text"]
    else:
      yield _bad(rid, path, number, MALFORMED, "expected source/target or "
                 "original_text/correct_text string fields")
      continue
    # pycorrector's wrong_ids is redundant: the edits are where the texts differ,
    # as every scorer (pycorrector's own too) reads them.
    yield _record(rid, wrong, correct, path, number)


def _read_sighan(input_path, truth_path):
  """Records in truth-file order; input sentences without a truth line are reported."""
  sentences = {}
  for number, line in read_lines(input_path):
    if not line.strip():
      continue
    m = SIGHAN_INPUT.match(line.strip())
    if not m:
      yield _bad(str(number), input_path, number, MALFORMED, "expected (pid=ID)<TAB>sentence")
      continue
    sentences[m.group(1)] = (m.group(2).strip(), number)
  seen = set()
  for number, line in read_lines(truth_path):
    if not line.strip():
      continue
    fields = [f.strip() for f in line.split(",")]
    sid, rest = fields[0], fields[1:]
    if sid not in sentences:
      yield _bad(sid, truth_path, number, UNKNOWN_ID, f"id {sid!r} is not in {input_path}")
      continue
    seen.add(sid)
    wrong = sentences[sid][0]
    correct = list(wrong)
    if rest != ["0"]:
      if not rest or len(rest) % 2:
        yield _bad(sid, truth_path, number, MALFORMED,
                   "expected ID, location, correction[, ...] or ID, 0")
        continue
      bad = [(loc, ch) for loc, ch in zip(rest[::2], rest[1::2])
             if not loc.isdigit() or not 1 <= int(loc) <= len(wrong) or len(ch) != 1]
      if bad:
        yield _bad(sid, truth_path, number, MALFORMED,
                   f"bad location/correction {bad[0][0]!r}, {bad[0][1]!r}")
        continue
      same = [loc for loc, ch in zip(rest[::2], rest[1::2]) if wrong[int(loc) - 1] == ch]
      if same:
        # The official scorer would want this location, but it is no edit: flag it.
        yield _bad(sid, truth_path, number, MISMATCH,
                   f"the correction at {same[0]} is the sentence's own character")
        continue
      for loc, ch in zip(rest[::2], rest[1::2]):
        correct[int(loc) - 1] = ch
    yield _record(sid, wrong, "".join(correct), truth_path, number)
  for sid, (_, number) in sentences.items():
    if sid not in seen:
      yield _bad(sid, input_path, number, UNKNOWN_ID, f"id {sid!r} has no line in {truth_path}")


_SGML_UNIT = re.compile(r"<(passage|doc)\b([^>]*)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_SGML_P = re.compile(r"<p\b[^>]*>(.*?)</p\s*>", re.IGNORECASE | re.DOTALL)
_SGML_MISTAKE = re.compile(r"<mistake\b([^>]*)>(.*?)</mistake\s*>", re.IGNORECASE | re.DOTALL)
_SGML_ATTR = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def _attrs(text):
  return {m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
          for m in _SGML_ATTR.finditer(text)}


def _tag(body, *names):
  for name in names:
    m = re.search(rf"<{name}\b[^>]*>(.*?)</{name}\s*>", body, re.IGNORECASE | re.DOTALL)
    if m:
      return m.group(1).strip()
  return None


def _apply_mistake(wrong, correct, location, wrong_text, correct_text):
  """Puts the corrected character at 1-based ``location``; an error string if the
  mistake does not fit. WRONG/CORRECTION are phrases around the error: the
  character at ``location`` is the one where they differ, at the offset that
  places the phrase over the sentence."""
  i = location - 1
  if not 0 <= i < len(wrong):
    return f"location {location} is outside the sentence ({len(wrong)} characters)"
  if len(wrong_text) == len(correct_text):
    for k, (w, c) in enumerate(zip(wrong_text, correct_text)):
      if w != c and w == wrong[i] and wrong[i - k:i - k + len(wrong_text)] == wrong_text:
        correct[i] = c
        return ""
    if len(wrong_text) == 1 and wrong_text == wrong[i]:
      correct[i] = correct_text
      return ""
  return (f"mistake at {location} ({wrong_text!r} -> {correct_text!r}) does not fit "
          f"the sentence's character {wrong[i]!r}")


def _read_sgml(path):
  if not os.path.isfile(path):
    raise InputError(path, 0, "no such file")
  with open(path, encoding="utf-8-sig") as f:
    text = f.read()

  def line_of(offset):
    return text.count("\n", 0, offset) + 1

  passages = {}  # id -> [wrong, correct chars, line, (line, problem, detail) or ""]
  order = []
  for unit in _SGML_UNIT.finditer(text):
    kind, attrs, body = unit.group(1).lower(), _attrs(unit.group(2)), unit.group(3)
    if kind == "passage":
      pid, sentence, number = attrs.get("id"), body.strip(), line_of(unit.start())
      if pid is None:
        raise InputError(path, number, "<PASSAGE> without id")
      passages[pid] = [sentence, list(sentence), number, ""]
      order.append(pid)
      continue
    # 2013: a <DOC Nid=...> holds its <p> text and its <MISTAKE>s.
    pid, number = attrs.get("nid") or attrs.get("id"), line_of(unit.start())
    paragraphs = _SGML_P.findall(body)
    if pid is None or len(paragraphs) != 1:
      raise InputError(path, number, "expected <DOC Nid=...> with one <p>...</p>")
    sentence = paragraphs[0].strip()
    passages[pid] = [sentence, list(sentence), number, ""]
    order.append(pid)
    for m in _SGML_MISTAKE.finditer(body):
      _sgml_mistake(path, passages, pid, _attrs(m.group(1)), m.group(2),
                    number + body.count("\n", 0, m.start()))
  if not passages:
    raise InputError(path, 0, "no <PASSAGE id=...> or <DOC Nid=...> elements: not SIGHAN SGML")
  # 2014/15: <MISTAKE id=... location=...> elements follow the passages.
  for m in _SGML_MISTAKE.finditer(text):
    attrs = _attrs(m.group(1))
    if "location" in attrs:
      _sgml_mistake(path, passages, attrs.get("id"), attrs, m.group(2), line_of(m.start()))
  for pid in order:
    wrong, correct, number, error = passages[pid]
    if error:
      yield _bad(pid, path, *error)  # named by the mistake's line, the one to fix
    else:
      yield _record(pid, wrong, "".join(correct), path, number)


def _sgml_mistake(path, passages, pid, attrs, body, number):
  location = attrs.get("location") or attrs.get("wrong_position")
  wrong_text, correct_text = _tag(body, "wrong"), _tag(body, "correction", "correct")
  if location is None or not location.strip().isdigit() or None in (wrong_text, correct_text):
    raise InputError(path, number, "expected <MISTAKE id location><WRONG>…<CORRECTION>… or "
                     "<MISTAKE wrong_position><wrong>…<correct>…")
  if pid not in passages:
    raise InputError(path, number, f"<MISTAKE> for id {pid!r}, which has no passage")
  entry = passages[pid]
  if entry[3]:
    return
  error = _apply_mistake(entry[0], entry[1], int(location), wrong_text, correct_text)
  if error:
    entry[3] = (number, MISMATCH, f"passage {pid!r}: {error}")


# --- t2s ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _t2s_converter():
  try:
    import opencc
  except ImportError:
    raise InputError("--t2s", 0, "needs the opencc package: pip install opencc") from None
  return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=65536)
def _t2s_char(ch):
  out = _t2s_converter().convert(ch)
  return out if len(out) == 1 else ch  # never change a length: positions must stay


def t2s(text):
  """Traditional to simplified, one character at a time so every position stays
  (opencc's phrase tables may map several characters to a different number)."""
  _t2s_converter()  # fails early, with advice, when opencc is missing
  return "".join(_t2s_char(ch) for ch in text)


# --- entry points ---------------------------------------------------------------------------------

def read(path, fmt="auto", truth_path=None, convert_t2s=False):
  """Yields a Record for every pair in ``path`` (streaming for line layouts)."""
  if fmt not in FORMATS:
    raise InputError(path, 0, f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
  if truth_path and fmt not in ("auto", "sighan"):
    raise InputError(truth_path, 0, f"a truth file goes with format sighan, not {fmt}")
  if fmt == "auto":
    fmt = detect_format(path, truth_path)
  if fmt == "sighan":
    if not truth_path:
      raise InputError(path, 0, "format sighan needs the truth file too")
    records = _read_sighan(path, truth_path)
  elif fmt == "json":
    records = _read_json(path)
  elif fmt == "sgml":
    records = _read_sgml(path)
  else:
    records = _read_columns(path, fmt)
  for rec in records:
    if convert_t2s and (rec.wrong or rec.correct):
      converted = _record(rec.id, t2s(rec.wrong), t2s(rec.correct), rec.path, rec.line)
      # t2s can merge a traditional error into its correction (著/着 both -> 着): the
      # pair stays, as an error-free one; earlier problems (e.g. a mismatch) stay too.
      if rec.problem and rec.problem != converted.problem:
        converted.problem, converted.detail = rec.problem, rec.detail
      rec = converted
    yield rec


def read_triples(path, fmt="auto", truth_path=None, convert_t2s=False):
  """Strict ``[(id, wrong, correct)]``: any problem is an InputError (file:line).
  For dev sets and other inputs that must be clean."""
  out = [(r.id, r.wrong, r.correct)
         for r in map(check, read(path, fmt, truth_path, convert_t2s))]
  if not out:
    raise InputError(truth_path or path, 0, "no pairs")
  return out
