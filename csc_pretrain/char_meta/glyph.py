"""How alike two characters look on paper: correlation of their rendered glyphs.

Every character is drawn with one CJK font (default: Noto Sans CJK SC, SIL Open
Font License 1.1, from the ``noto-cjk-sans-otc`` package on PyPI; ``--font``
replaces it) in the middle of a RENDER_SIZE square, then at each of two SCALES
shrunk to grid x grid by box averaging and blurred: a fine one (24 px) that
tells 清 from 请, and a coarse one (16 px, strong blur) that sees the overall
shape (田/由 differ by one short stroke: 0.93, among 田's closest few). A
glyph becomes a unit vector after its mean is subtracted, so the similarity of
two glyphs is the Pearson correlation of their bitmaps, clipped to [0, 1]; a
block of rows against every character is one matrix product. The IDS measures
know the parts of a character, this one knows what the reader sees.

Vectors are rounded to integers in [-QUANT, QUANT]: every partial sum of a dot
product is then an integer below 2**24, exact in float32 whatever order BLAS
adds in, so the results do not depend on the block size (byte-identical output).

Characters the font lacks (it draws the .notdef box for them) get a zero
vector, so they look like nothing.
"""

import numpy as np

from csc_pretrain.io_utils import InputError

SCALES = ((24, 0.8), (16, 1.5))  # (grid, blur radius in grid pixels): fine, coarse
RENDER_SIZE = 96
QUANT = 127
DEFAULT_FACE = "Noto Sans CJK SC"


def default_font():
  """(path, face index) of Noto Sans CJK SC in the noto-cjk-sans-otc package."""
  try:
    import noto_cjk_sans_otc
  except ImportError:
    raise InputError("noto-cjk-sans-otc", 0, "package not installed; pip install "
                     "noto-cjk-sans-otc or pass --font") from None
  path = str(noto_cjk_sans_otc.FONT_PATH)
  return path, _face_index(path, DEFAULT_FACE)


def _face_index(path, name):
  """Index of the face called ``name`` in a font collection (0 when absent)."""
  from PIL import ImageFont
  for index in range(16):
    try:
      face = ImageFont.truetype(path, 8, index=index)
    except OSError:
      break
    if face.getname()[0] == name:
      return index
  return 0


def render(chars, font_path=None, font_index=0):
  """One [N, grid*grid] float32 array per scale of SCALES: each row a unit vector
  (mean removed) times QUANT, rounded; zero for a glyph the font lacks."""
  from PIL import Image, ImageDraw, ImageFilter, ImageFont
  if font_path is None:
    font_path, font_index = default_font()
  try:
    font = ImageFont.truetype(font_path, int(RENDER_SIZE * 0.9), index=font_index)
  except OSError as e:
    raise InputError(font_path, 0, f"cannot read the font: {e}") from None

  def draw(char):
    image = Image.new("L", (RENDER_SIZE, RENDER_SIZE), 0)
    ImageDraw.Draw(image).text((RENDER_SIZE / 2, RENDER_SIZE / 2), char, fill=255,
                               font=font, anchor="mm")
    return image

  # A private-use code point shows what the font draws for a character it lacks.
  missing = np.asarray(draw("\ue000"))
  out = [np.zeros((len(chars), grid * grid), np.float32) for grid, _ in SCALES]
  for i, char in enumerate(chars):
    image = draw(char)
    full = np.asarray(image)
    if np.array_equal(full, missing) or not full.any():
      continue
    for k, (grid, blur) in enumerate(SCALES):
      small = image.resize((grid, grid), Image.Resampling.BOX)
      bitmap = np.asarray(small.filter(ImageFilter.GaussianBlur(blur)), np.float64).reshape(-1)
      bitmap = bitmap - bitmap.mean()
      out[k][i] = np.round(QUANT * bitmap / max(float(np.linalg.norm(bitmap)), 1e-9))
  return out


class GlyphTable:
  """Glyph correlation of a block of rows against every character, per scale, in [0, 1]."""

  def __init__(self, vectors):
    self.vectors = [np.ascontiguousarray(v, np.float32) for v in vectors]

  def take(self, indices):
    """[(len(indices), N) similarity] per scale."""
    out = []
    for v in self.vectors:
      sim = v[np.asarray(indices, np.int64)] @ v.T
      sim *= np.float32(1.0 / QUANT ** 2)
      out.append(np.clip(sim, 0.0, 1.0, out=sim))
    return out

  def rows(self, start, stop):
    return self.take(np.arange(start, stop))
