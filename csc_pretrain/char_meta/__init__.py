"""Stage 1: per-character metadata -> visual + phonetic similarity -> ranked confusion sets.

decompose.py   structure trees, stroke-level IDS, 5-class stroke sequences
phonetic.py    Mandarin readings and their similarity
similarity.py  visual similarity, the combined ranking, top-k over all pairs
glyph.py       rendered glyphs (Noto Sans CJK, Pillow) and their correlation
lexicon.py     word frames two characters share (这么/怎么), from a dictionary
ranking.py     the fitted ranking of real errors: features, linear score + a small
               network, the fit, both directions
formats.py     char_meta.txt (FASPell layout), confusion set files, external sets
build.py       the stage top to bottom; __main__.py its command line
"""
