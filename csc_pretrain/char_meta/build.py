"""Stage 1, top to bottom: characters -> metadata -> measures -> ranked confusion sets -> files.

The measures of every pair (IDS, stroke, glyph, sound; similarity.py, glyph.py,
phonetic.py) feed the fitted ranking (ranking.py, weights in ranking_weights.json)
in both directions: confusion_sets.tsv ranks corrections of a wrong character,
confusion_errors.tsv the errors writers make for a correct one. Observed
confusions (--observed) come first in both.

run() takes the CLI's BuildConfig, fit() its FitConfig (refitting the ranking's
weights on real errors); build() is the same stage with keyword arguments.
"""

import dataclasses
import json
import logging
import os
import time

import numpy as np

from csc_pretrain.char_meta import decompose, formats, glyph, phonetic, ranking, similarity
from csc_pretrain.char_meta import lexicon
from csc_pretrain.correct.constraints import JIEBA, lexicon_words
from csc_pretrain.io_utils import (CJK_FIRST, CJK_LAST, InputError, atomic_write, check_can_write,
                                   is_cjk, read_lines)

# The error direction's look-alike list also takes glyphs at least this alike (fine scale).
MIN_GLYPH = 0.7
# Added to the probability of an observed pair, times log(1 + count): probabilities
# are at most 1, so every observed pair comes first, the most frequent first.
OBSERVED_WEIGHT = 2.0


@dataclasses.dataclass(frozen=True)
class SourceConfig:
  """Where characters, shapes, readings, frequencies and glyphs come from: the flags
  building and fitting share (field names are the flag names, defaults theirs)."""
  charset: str = None
  decomposition_file: str = None
  ids_file: str = None
  faspell_char_meta: str = None
  freq_file: str = None
  freq_corpus: tuple = ()
  tone_insensitive: bool = False
  font: str = None
  font_index: int = 0
  lexicon: str = JIEBA


@dataclasses.dataclass(frozen=True)
class BuildConfig:
  """The flags of building the tables; run() takes it."""
  output_dir: str = None
  sources: SourceConfig = dataclasses.field(default_factory=SourceConfig)
  top_k: int = 50
  merge_confusion: tuple = ()  # PATH or PATH:KIND, see _merge_spec
  merge_bonus: float = 1.0
  extra_columns: bool = False
  overwrite: bool = False
  block_size: int = 128
  weights_file: str = None
  observed: str = None
  observed_weight: float = OBSERVED_WEIGHT
  prior_file: str = None


@dataclasses.dataclass(frozen=True)
class FitConfig:
  """The flags of the ``fit`` subcommand; fit() takes it."""
  fit_pairs: tuple = ()
  weights_out: str = None
  prior_out: str = None
  overwrite: bool = False
  sources: SourceConfig = dataclasses.field(default_factory=SourceConfig)


def default_charset():
  """Every CJK Unified Ideograph of the basic block, U+4E00..U+9FFF."""
  return [chr(c) for c in range(CJK_FIRST, CJK_LAST + 1)]


def read_charset(path):
  """The CJK characters of a text file, in order of first appearance."""
  seen = {}
  for _, line in read_lines(path):
    for c in line:
      if is_cjk(c):
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


def load_sources(charset=None, decomposition_file=None, ids_file=None, faspell_char_meta=None,
                 freq_file=None, freq_corpus=()):
  """Characters and their metadata: ``(chars, infos, source)``; ``infos`` starts
  with one CharInfo per character, then the components their shapes use."""
  t0 = time.time()
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
  # Frequency prior: a packaged list, optionally mixed with the user's corpus.
  base = formats.load_frequency_list(freq_file or formats.default_frequency_file())
  corpus = formats.count_corpus(freq_corpus) if freq_corpus else None
  frequency = formats.mix_frequencies(base, corpus)
  infos = collect_metadata(chars, ids_by_char, readings_override, frequency)
  logging.info("metadata for %d characters + %d components in %.1fs (source %s)",
               len(chars), len(infos) - len(chars), time.time() - t0, source)
  return chars, infos, source


def make_tables(chars, infos, font=None, font_index=0, tone_sensitive=True, words=None):
  """ranking.Tables for ``chars`` (the first len(chars) of ``infos``). ``words``: the
  lexicon of the shared-frame features (``lexicon_words(--lexicon)``; None: none)."""
  t0 = time.time()
  rows = infos[:len(chars)]
  shapes = similarity.Shapes([i.stroke_ids for i in rows], [i.component_ids for i in rows],
                             [i.strokes for i in rows])
  vectors = glyph.render(chars, font, font_index)
  logging.info("rendered %d glyphs in %.1fs", len(chars), time.time() - t0)
  readings = [i.readings for i in rows]
  return ranking.Tables(
      chars=chars, visual=similarity.VisualTable(shapes), glyph=glyph.GlyphTable(vectors),
      phonetic=phonetic.PhoneticTable(readings, tone_sensitive),
      bits=phonetic.PhoneticBits(readings), freq=np.array([i.frequency for i in rows], np.float64),
      has_reading=np.array([bool(r) for r in readings]),
      sounds=[phonetic.sound_parts(r) for r in readings],
      frames=lexicon.FrameTable(chars, words) if words else None)


def build(output_dir, top_k=50, decomposition_file=None, ids_file=None,
          faspell_char_meta=None, charset=None, freq_file=None, freq_corpus=(),
          tone_sensitive=True, merge=(), merge_bonus=1.0, extra_columns=False,
          overwrite=False, block_size=128, progress_bar=True, weights_file=None,
          font=None, font_index=0, observed=None, observed_weight=OBSERVED_WEIGHT,
          prior_file=None, lexicon_spec=JIEBA):
  """Runs the whole stage and writes its files into ``output_dir``.

  ``merge`` is a list of ``(path, kind)`` with kind in phonetic|visual|any.
  ``observed`` is a wrong<TAB>correct<TAB>count file whose pairs come first in
  both directions. ``prior_file``: real errors in the same layout for the
  ranking's prior features (None: the shipped SIGHAN counts; "": no prior).
  ``lexicon_spec``: the words of the shared-frame features, as the corrector's
  --lexicon (a file, ``jieba``, or both joined by commas; "": none).
  Returns the stats dict (also written as char_meta_stats.json).
  """
  t0 = time.time()
  paths = {name: os.path.join(output_dir, name) for name in formats.OUTPUT_FILES}
  check_can_write(paths.values(), overwrite)

  # 1. Every input is read before any work, so bad input fails fast and alone.
  external = _read_external(merge)
  weights = ranking.load_weights(weights_file)
  observed_pairs = formats.read_observed_confusions(observed) if observed else {}
  prior_file = ranking.default_prior_file() if prior_file is None else prior_file
  prior_pairs = formats.read_observed_confusions(prior_file) if prior_file else {}
  words = lexicon_words(lexicon_spec)
  chars, infos, source = load_sources(charset, decomposition_file, ids_file,
                                      faspell_char_meta, freq_file, freq_corpus)

  # 2. The measures every pair is compared by.
  rows = infos[:len(chars)]
  index = {c: i for i, c in enumerate(chars)}
  tables = make_tables(chars, infos, font, font_index, tone_sensitive, words)
  bonus, merged_pairs = _merge_bonus(external, index, merge_bonus)
  observed_bonus, observed_used = _observed_bonus(observed_pairs, index, observed_weight)
  priors = ({d: ranking.Prior.of(prior_pairs, chars, d) for d in ranking.DIRECTIONS}
            if prior_pairs else None)

  # 3. Both directions' scores for every pair, keeping each row's best candidates.
  bar = _progress(len(chars), progress_bar)
  ranked = rank_all(tables, weights, top_k, block_size, bonus, observed_bonus, priors,
                    progress=bar.update if bar else None)
  if bar:
    bar.close()
  t_sim = time.time() - t0

  # 4. Files, each written whole or not at all.
  with atomic_write(paths[formats.CHAR_META]) as f:
    for info in infos:
      f.write(formats.faspell_line(info, extra_columns) + "\n")
  with atomic_write(paths[formats.CHAR_META_EXTRA]) as f:
    f.write("\t".join(formats.EXTRA_HEADER) + "\n")
    for info in infos:
      f.write("\t".join(formats.extra_fields(info)) + "\n")
  for name, top in ((formats.CORRECTION_TABLE, ranked.combined),
                    (formats.ERROR_TABLE, ranked.error),
                    (formats.ERROR_TABLE_PHONETIC, ranked.error_phonetic),
                    (formats.ERROR_TABLE_VISUAL, ranked.error_visual),
                    (formats.PHONETIC_TABLE, ranked.phonetic),
                    (formats.VISUAL_TABLE, ranked.visual)):
    with atomic_write(paths[name]) as f:
      for i, c in enumerate(chars):
        f.write(c + "\t" + " ".join(chars[j] for j in top[i] if j >= 0) + "\n")
  _write_scores(paths[formats.SCORES], chars, ranked)

  stats = {
      "characters": len(chars), "components": len(infos) - len(chars), "source": source,
      "complete_stroke_decompositions": sum(i.complete for i in rows),
      "with_readings": sum(bool(i.readings) for i in rows),
      "with_frequency": sum(i.frequency > 0 for i in rows), "top_k": top_k,
      "tone_sensitive": tone_sensitive, "merged_pairs": merged_pairs,
      "observed_pairs": observed_used,
      "weights_file": weights_file or ranking.default_weights_file(),
      "prior_file": prior_file, "prior_pairs": len(priors["correct"].pairs) if priors else 0,
      "font": font or "noto-cjk-sans-otc (Noto Sans CJK SC)",
      "lexicon": lexicon_spec,
      "seconds_similarity": round(t_sim, 1), "seconds_total": round(time.time() - t0, 1),
  }
  with atomic_write(paths[formats.STATS]) as f:
    json.dump(stats, f, ensure_ascii=False, indent=2)
  return stats


def run(cfg):
  """Runs the stage with a BuildConfig; returns build()'s stats dict."""
  src = cfg.sources
  return build(
      cfg.output_dir, top_k=cfg.top_k, decomposition_file=src.decomposition_file,
      ids_file=src.ids_file, faspell_char_meta=src.faspell_char_meta, charset=src.charset,
      freq_file=src.freq_file, freq_corpus=src.freq_corpus,
      tone_sensitive=not src.tone_insensitive,
      merge=[_merge_spec(spec) for spec in cfg.merge_confusion], merge_bonus=cfg.merge_bonus,
      extra_columns=cfg.extra_columns, overwrite=cfg.overwrite, block_size=cfg.block_size,
      weights_file=cfg.weights_file, font=src.font, font_index=src.font_index,
      observed=cfg.observed, observed_weight=cfg.observed_weight, prior_file=cfg.prior_file,
      lexicon_spec=src.lexicon)


def _merge_spec(spec):
  """``PATH`` or ``PATH:KIND`` -> (path, kind); without a kind, guessed from the file name."""
  path, _, kind = spec.rpartition(":") if spec.rsplit(":", 1)[-1] in (
      "phonetic", "visual", "any") else (spec, "", "")
  if not kind:
    name = spec.lower()
    kind = ("phonetic" if any(w in name for w in ("pinyin", "pron", "sound", "phon")) else
            "visual" if any(w in name for w in ("stroke", "shape", "visual")) else "any")
  return path, kind


def fit(cfg):
  """The fit subcommand: refits ranking_weights.json on real error pairs (a FitConfig)."""
  if not cfg.fit_pairs:
    raise InputError("--fit_pairs", 0, "fit needs at least one pair file")
  out = cfg.weights_out or ranking.default_weights_file()
  # The prior belongs with its weights: by default it goes next to them.
  prior_out = cfg.prior_out or os.path.join(os.path.dirname(os.path.abspath(out)),
                                            os.path.basename(ranking.default_prior_file()))
  # The default is the shipped pair: refitting it must be asked for, like any overwrite.
  check_can_write([out, prior_out], cfg.overwrite)
  corpora = _fit_corpora(cfg.fit_pairs)
  src = cfg.sources
  words = lexicon_words(src.lexicon)
  counts = {}
  for corpus in corpora:
    for pair, n in corpus.items():
      counts[pair] = counts.get(pair, 0) + n
  chars, infos, _ = load_sources(
      charset=src.charset, decomposition_file=src.decomposition_file, ids_file=src.ids_file,
      faspell_char_meta=src.faspell_char_meta, freq_file=src.freq_file,
      freq_corpus=src.freq_corpus)
  tables = make_tables(chars, infos, src.font, src.font_index, not src.tone_insensitive,
                       words)
  weights = ranking.fit(tables, corpora, log=logging.info)
  note = (f"fitted by `python -m csc_pretrain.char_meta fit` on {sum(counts.values()):.0f} "
          f"errors ({len(counts)} pairs) from {len(corpora)} corpora, "
          f"{len(chars)} characters; prior: {os.path.basename(prior_out)}")
  with atomic_write(out) as f:
    f.write(ranking.weights_json(weights, note))
  with atomic_write(prior_out) as f:
    f.write(formats.observed_confusions_text(
        counts, f"real errors of the {len(corpora)} fitting corpora, summed: the prior of "
        f"{os.path.basename(out)}"))
  return {"weights_out": out, "prior_out": prior_out, "pairs": len(counts)}


def _fit_corpora(specs):
  """One {(wrong, correct): count} per spec."""
  corpora = []
  for spec in specs:
    if ":" in spec and not os.path.exists(spec):
      corpora.append(formats.read_parallel_confusions(*spec.split(":", 1)))
    else:
      corpora.append(formats.read_observed_confusions(spec))
  return corpora


@dataclasses.dataclass
class Ranked:
  """Top candidates per row, column indices [N, K] (-1 where there are fewer)."""
  combined: np.ndarray    # correction direction, P(correct | wrong)
  error: np.ndarray       # error direction, P(wrong | correct)
  error_phonetic: np.ndarray  # the same, sound-alike candidates only
  error_visual: np.ndarray    # the same, look-alike candidates only
  phonetic: np.ndarray
  visual: np.ndarray
  # Every candidate kept in combined/phonetic/visual, [N, 3K] (-1 padded,
  # ascending), and its similarity.SCORE_NAMES scores, [N, 3K, len(similarity.SCORE_NAMES)].
  pairs: np.ndarray
  pair_scores: np.ndarray


def rank_all(tables, weights, top_k, block_size=128, bonus=None, observed=None,
             priors=None, progress=None, threads=None):
  """Every row's best candidates in both directions and the two kind-only lists.

  ``bonus``: {"combined"|"phonetic"|"visual": {(i, j): extra}}, added to those
  probabilities (merged external sets); ``observed``: {"correct"|"error":
  {(i, j): extra}}, added to the probabilities of that direction; ``priors``:
  {"correct"|"error": ranking.Prior} or None. Blocks of rows run on ``threads``
  threads (default: one per core); the result does not depend on either.
  """
  n = len(tables.chars)
  top_k = min(top_k, n - 1)
  out = {name: np.full((n, top_k), -1, np.int64)
         for name in ("combined", "error", "error_phonetic", "error_visual", "phonetic",
                      "visual")}
  pairs = np.full((n, 3 * top_k), -1, np.int64)
  pair_scores = np.zeros((n, 3 * top_k, len(similarity.SCORE_NAMES)), np.float32)
  extras = {kind: similarity._Bonus((bonus or {}).get(kind, {}), n)
            for kind in ("combined", "phonetic", "visual")}
  extras.update({d: similarity._Bonus((observed or {}).get(d, {}), n)
                 for d in ranking.DIRECTIONS})
  priors = priors or {}

  def rank_block(start):
    stop = min(n, start + block_size)
    part = np.arange(start, stop)
    raw = ranking.measures(tables, part)
    valid = np.ones(raw["bits"].shape, bool)
    valid[np.arange(stop - start), part] = False  # never oneself
    correct, error = ranking.scores(tables, part, raw, [weights[d] for d in ranking.DIRECTIONS],
                                    [priors.get(d) for d in ranking.DIRECTIONS])
    extra = {kind: b.block(start, stop) for kind, b in extras.items()}
    q_phon, q_vis = raw["mixture"]  # computed by ranking.features
    look = raw["look_alike"]
    combined = (ranking.probabilities(correct, look, valid, rows=part, prior=priors.get("correct"))
                + extra["correct"] + extra["combined"])
    error = (ranking.probabilities(error, look, valid, rows=part, prior=priors.get("error"))
             + extra["error"])
    top = {"combined": similarity._top_k(combined, top_k, valid),
           "error": similarity._top_k(error, top_k, valid)}
    sounds = raw["phonetic"] >= similarity.MIN_PHONETIC
    looks = (raw["visual"] >= similarity.MIN_VISUAL) | (raw["glyph"] >= MIN_GLYPH)
    observed_here = extra["error"] > 0
    top["error_phonetic"] = similarity._top_k(error, top_k, valid & (sounds | observed_here))
    top["error_visual"] = similarity._top_k(error, top_k, valid & (looks | observed_here))
    top["phonetic"] = similarity._top_k(
        q_phon + extra["phonetic"], top_k,
        valid & ((raw["phonetic"] >= similarity.MIN_PHONETIC) | (extra["phonetic"] > 0)))
    top["visual"] = similarity._top_k(
        q_vis + extra["visual"], top_k,
        valid & ((raw["visual"] >= similarity.MIN_VISUAL) | (extra["visual"] > 0)))
    all_scores = (raw["ids"], raw["struct"], raw["strokes"], raw["visual"],
                  np.clip(raw["glyph"], 0.0, 1.0), raw["phonetic"], combined, error)
    block_pairs = np.full((stop - start, 3 * top_k), -1, np.int64)
    block_scores = np.zeros((stop - start, 3 * top_k, len(all_scores)), np.float32)
    for r in range(stop - start):
      cols = np.unique(np.concatenate([top[k][r] for k in ("combined", "phonetic", "visual")]))
      cols = cols[cols >= 0]
      block_pairs[r, :len(cols)] = cols
      block_scores[r, :len(cols)] = np.stack([m[r, cols] for m in all_scores], axis=1)
    return top, block_pairs, block_scores

  starts = range(0, n, block_size)
  for start, (top, block_pairs, block_scores) in zip(
      starts, ranking.map_blocks(rank_block, starts, threads)):
    stop = min(n, start + block_size)
    for name, value in top.items():
      out[name][start:stop] = value
    pairs[start:stop] = block_pairs
    pair_scores[start:stop] = block_scores
    if progress:
      progress(stop - start)
  return Ranked(out["combined"], out["error"], out["error_phonetic"], out["error_visual"],
                out["phonetic"], out["visual"], pairs, pair_scores)


def _observed_bonus(observed_pairs, index, weight):
  """Observed wrong->correct counts -> {"correct": {(w, c): x}, "error": {(c, w): x}}."""
  out = {"correct": {}, "error": {}}
  for (w, c), count in sorted(observed_pairs.items()):
    if w in index and c in index:
      extra = weight * float(np.log1p(count))
      out["correct"][(index[w], index[c])] = extra
      out["error"][(index[c], index[w])] = extra
  return out, len(out["correct"])


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

