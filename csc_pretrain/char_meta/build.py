"""Stage 1, top to bottom: characters -> metadata -> similarity -> confusion sets -> files."""

import json
import logging
import os
import time

from csc_pretrain.char_meta import decompose, formats, phonetic, similarity
from csc_pretrain.io_utils import InputError, atomic_write, check_can_write, read_lines

OUTPUT_FILES = ("char_meta.txt", "char_meta_extra.tsv", "confusion_sets.tsv",
                "confusion_phonetic.tsv", "confusion_visual.tsv", "confusion_scores.tsv",
                "char_meta_stats.json")


def default_charset():
  """Every CJK Unified Ideograph of the basic block, U+4E00..U+9FFF."""
  return [chr(c) for c in range(0x4E00, 0xA000)]


def read_charset(path):
  """The CJK characters of a text file, in order of first appearance."""
  seen = {}
  for _, line in read_lines(path):
    for c in line:
      if decompose.is_cjk_unified(c):
        seen.setdefault(c, None)
  if not seen:
    raise InputError(path, 0, "no CJK characters in the charset file")
  return list(seen)


def collect_metadata(chars, ids_by_char, readings_override=None, frequency=None):
  """CharInfo for ``chars`` plus every component their decompositions use."""
  stroke_ids = decompose.expand(ids_by_char, chars, full=True)
  component_ids = decompose.expand(ids_by_char, chars, full=False)
  components = sorted({c for alts in component_ids.values() for a in alts for c in a
                       if c not in decompose.IDS_ARITY and c not in chars
                       and not decompose.is_intermediate(c)})
  stroke_ids.update(decompose.expand(ids_by_char, components, full=True))
  component_ids.update(decompose.expand(ids_by_char, components, full=False))
  infos = []
  for c in list(chars) + components:
    if readings_override is not None and c in readings_override:
      readings = readings_override[c]
    else:
      readings = phonetic.readings(c)
    first = stroke_ids[c][0]
    infos.append(formats.CharInfo(
        char=c, readings=readings, stroke_ids=stroke_ids[c], component_ids=component_ids[c],
        strokes=decompose.stroke_sequence(first), complete=decompose.is_complete(first),
        frequency=int((frequency or {}).get(c, 0))))
  return infos


def build(output_dir, top_k=50, decomposition_file=None, ids_file=None,
          faspell_char_meta=None, charset=None, freq_file=None, freq_corpus=(),
          tone_sensitive=True, merge=(), merge_bonus=1.0, extra_columns=False,
          overwrite=False, block_size=512, progress_bar=True):
  """Runs the whole stage and writes its files into ``output_dir``.

  ``merge`` is a list of ``(path, kind)`` with kind in phonetic|visual|any.
  Returns the stats dict (also written as char_meta_stats.json).
  """
  t0 = time.time()
  paths = {name: os.path.join(output_dir, name) for name in OUTPUT_FILES}
  check_can_write(paths.values(), overwrite)

  # 1. Shapes and readings from the chosen source.
  readings_override = None
  if faspell_char_meta:
    ids_by_char, readings_override = formats.read_faspell_char_meta(faspell_char_meta)
    source = faspell_char_meta
  elif ids_file:
    ids_by_char, source = decompose.parse_ids_file(ids_file), ids_file
  else:
    source = decomposition_file or decompose.default_decomposition_file()
    ids_by_char = decompose.parse_cjk_decomp(source)
  chars = read_charset(charset) if charset else default_charset()
  chars = [c for c in chars if c in ids_by_char or phonetic.readings(c)]
  if len(chars) < 2:
    raise InputError(charset or source, 0, "fewer than two characters with any data")

  # Every input is read before any work, so bad input fails fast and alone.
  external = _read_external(merge)

  # 2. Frequency prior: a packaged list, optionally mixed with the user's corpus.
  base = formats.load_frequency_list(freq_file or formats.default_frequency_file())
  corpus = formats.count_corpus(freq_corpus) if freq_corpus else None
  frequency = formats.mix_frequencies(base, corpus)
  infos = collect_metadata(chars, ids_by_char, readings_override, frequency)
  logging.info("metadata for %d characters + %d components in %.1fs (source %s)",
               len(chars), len(infos) - len(chars), time.time() - t0, source)

  # 3. Similarity of every pair, keeping each character's best candidates.
  rows = infos[:len(chars)]
  index = {c: i for i, c in enumerate(chars)}
  shapes = similarity.Shapes([i.stroke_ids for i in rows], [i.component_ids for i in rows],
                             [i.strokes for i in rows])
  phonetic_table = phonetic.PhoneticTable([i.readings for i in rows], tone_sensitive)
  prior = similarity.frequency_prior([i.frequency for i in rows])
  bonus, merged_pairs = _merge_bonus(external, index, merge_bonus)
  bar = _progress(len(chars), progress_bar)
  ranked = similarity.rank_confusions(chars, shapes, phonetic_table, prior, top_k=top_k,
                                      block_size=block_size, bonus=bonus,
                                      progress=bar.update if bar else None)
  if bar:
    bar.close()
  t_sim = time.time() - t0

  # 4. Files, each written whole or not at all.
  with atomic_write(paths["char_meta.txt"]) as f:
    for info in infos:
      f.write(formats.faspell_line(info, extra_columns) + "\n")
  with atomic_write(paths["char_meta_extra.tsv"]) as f:
    f.write("\t".join(formats.EXTRA_HEADER) + "\n")
    for info in infos:
      f.write("\t".join(formats.extra_fields(info)) + "\n")
  for name, top in (("confusion_sets.tsv", ranked.combined),
                    ("confusion_phonetic.tsv", ranked.phonetic),
                    ("confusion_visual.tsv", ranked.visual)):
    with atomic_write(paths[name]) as f:
      for i, c in enumerate(chars):
        f.write(c + "\t" + " ".join(chars[j] for j in top[i] if j >= 0) + "\n")
  _write_scores(paths["confusion_scores.tsv"], chars, ranked)

  stats = {
      "characters": len(chars), "components": len(infos) - len(chars), "source": source,
      "complete_stroke_decompositions": sum(i.complete for i in rows),
      "with_readings": sum(bool(i.readings) for i in rows),
      "with_frequency": sum(i.frequency > 0 for i in rows), "top_k": top_k,
      "tone_sensitive": tone_sensitive, "merged_pairs": merged_pairs,
      "seconds_similarity": round(t_sim, 1), "seconds_total": round(time.time() - t0, 1),
  }
  with atomic_write(paths["char_meta_stats.json"]) as f:
    json.dump(stats, f, ensure_ascii=False, indent=2)
  return stats


def _read_external(merge):
  out = []
  for path, kind in merge:
    if kind not in ("phonetic", "visual", "any"):
      raise InputError(path, 0, f"unknown confusion kind {kind!r} (phonetic|visual|any)")
    out.append((formats.read_external_confusions(path), kind))
  return out


def _merge_bonus(external, index, amount):
  """External sets -> {ranking: {(row, col): amount}} for similarity.rank_confusions."""
  bonus = {"combined": {}, "phonetic": {}, "visual": {}}
  count = 0
  for sets, kind in external:
    for char, cands in sets.items():
      for cand in cands:
        if char in index and cand in index:
          pair = (index[char], index[cand])
          bonus["combined"][pair] = amount
          if kind in ("phonetic", "any"):
            bonus["phonetic"][pair] = amount
          if kind in ("visual", "any"):
            bonus["visual"][pair] = amount
          count += 1
  return bonus, count


def _write_scores(path, chars, ranked):
  sets = [(ranked.combined, "c"), (ranked.phonetic, "p"), (ranked.visual, "v")]
  with atomic_write(path) as f:
    f.write("\t".join(("char", "candidate") + similarity.SCORE_NAMES + ("sets",)) + "\n")
    for i, c in enumerate(chars):
      member = {}
      for top, tag in sets:
        for j in top[i][top[i] >= 0]:
          member[int(j)] = member.get(int(j), "") + tag
      lines = []
      for j, scores in zip(ranked.pairs[i], ranked.pair_scores[i]):
        if j < 0:
          break
        lines.append("\t".join([c, chars[j]] + [f"{s:.4f}" for s in scores] + [member[int(j)]]))
      f.write("\n".join(lines) + "\n")


def _progress(total, enabled):
  if not enabled:
    return None
  from tqdm import tqdm
  return tqdm(total=total, unit="char", desc="similarity", mininterval=1.0)

