"""Stage 3, top to bottom: documents -> tokens -> instances -> masked examples -> TFRecord shards.

Documents stream from disk in groups of ``chunk_documents``; each group is
tokenized, cut into instances, masked and serialized on its own (in a worker
process when there are several), with a random generator seeded by
(random_seed, group index). Memory therefore stays flat as the corpus grows,
and the output is byte-identical for the same seed whatever the number of
workers. Within a group the algorithm is Google's: documents shuffled,
``dupe_factor`` passes, instances shuffled, written round-robin to the shards.

Every setting a worker uses travels in a frozen ``Job``, made once from the
flags: the pool initializer gets it (with the vocabulary tables) to build the
worker's tokenizer and mask tables (``Tools``), and every task gets it again.

Groups are also the unit of work across machines: with ``num_shards`` N, the
machine with ``shard_index`` i makes only groups i, i + N, i + 2N, ... Since a
group's records depend only on the seed and its index, a group's bytes are the
same whatever N is: the N shards hold exactly the records of the one-machine
run, and ``merge_stats`` sums their stats.json files.
"""

import collections
import contextlib
import dataclasses
import itertools
import json
import logging
import multiprocessing
import os

from csc_pretrain.bert import tfrecord
from csc_pretrain.bert.tokenization import SPECIAL_TOKENS, FullTokenizer, load_vocab
from csc_pretrain.char_meta import formats
from csc_pretrain.create_data import mask_probability, pairs
from csc_pretrain.create_tf_record import instances
from csc_pretrain.io_utils import (InputError, atomic_write, check_can_write, check_range,
                                   expand_inputs, read_json)


def read_documents(input_files, wrong_files=None):
  """Yields documents as lists of (correct, wrong) strings, streaming."""
  if wrong_files and len(wrong_files) != len(input_files):
    raise InputError(",".join(wrong_files), 0, f"{len(wrong_files)} wrong file(s) for "
                     f"{len(input_files)} input file(s)")
  for k, path in enumerate(input_files):
    if wrong_files:
      documents = pairs.read_parallel(path, wrong_files[k])
    else:
      documents = pairs.read_correct_only(path)
    for document in documents:
      yield [(pair.correct, pair.wrong) for pair in document]


# --- what masking needs to know about the vocab ---------------------------------------------

def _readings(confusion_dir, keep=None):
  path = os.path.join(confusion_dir, formats.CHAR_META_EXTRA)
  out = {}
  for _, row in formats.read_char_meta_extra(path, ("char", "code", "readings")):
    if keep is None or row["char"] in keep:
      out[row["char"]] = set(row["readings"].split())
  return out


def build_vocabulary(vocab, confusion_dir=None, probabilities=None):
  """Vocabulary tables for masking from the vocab, char_meta outputs and mask probabilities."""
  ids = dict(vocab)
  special = set(SPECIAL_TOKENS) | {t for t in vocab if t.startswith("[unused")}
  same, similar, visual = {}, {}, {}
  if confusion_dir:
    readings = _readings(confusion_dir, ids)
    no_readings = set()
    # Replacements make training errors: the error direction, P(wrong | correct).
    phonetic = formats.read_confusion_sets(
        os.path.join(confusion_dir, formats.ERROR_TABLE_PHONETIC), ids)
    for char, candidates in phonetic.items():
      mine = readings.get(char, no_readings)
      in_vocab = [c for c in candidates if c in ids]
      same[ids[char]] = [ids[c] for c in in_vocab if readings.get(c, no_readings) & mine]
      similar[ids[char]] = [ids[c] for c in in_vocab if not readings.get(c, no_readings) & mine]
    visual_sets = formats.read_confusion_sets(
        os.path.join(confusion_dir, formats.ERROR_TABLE_VISUAL), ids)
    for char, candidates in visual_sets.items():
      visual[ids[char]] = [ids[c] for c in candidates if c in ids]
  if probabilities:
    default = sum(probabilities.values()) / len(probabilities)
    weights = [probabilities.get(t, default) for t in vocab]
  else:
    weights = [1.0] * len(vocab)
  return instances.Vocabulary(
      cls_id=ids["[CLS]"], sep_id=ids["[SEP]"], mask_id=ids["[MASK]"], size=len(vocab),
      random_ids=[i for t, i in ids.items() if t not in special], mask_weight=weights,
      same_pinyin={k: v for k, v in same.items() if v},
      similar_pinyin={k: v for k, v in similar.items() if v},
      visual={k: v for k, v in visual.items() if v})


# --- one group of documents (runs in a worker) -------------------------------------------

@dataclasses.dataclass(frozen=True)
class Job:
  """What every group is made with, from the flags; sent to each worker and each task."""
  vocab_file: str
  do_lower_case: bool
  config: instances.MaskingConfig
  random_seed: int
  dupe_factor: int
  keep_examples: int      # instances a group returns as examples, besides its records
  one_output: bool        # a single output file: a group's records come back as one blob
  batch_size: int = instances.BATCH_SIZE  # speed and memory only; records do not depend on it


@dataclasses.dataclass
class Tools:
  """What a process builds once for a job: tokenizer, jieba (whole-word masking), mask tables."""
  job: Job
  tokenizer: FullTokenizer
  jieba: object
  tables: instances.MaskTables


def make_tools(job, vocabulary):
  """A process's Tools for ``job``; ``vocabulary`` is build_vocabulary's, made once."""
  os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
  jieba = None
  if job.config.whole_word_mask:
    import jieba
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
  return Tools(job=job, tokenizer=FullTokenizer(job.vocab_file, job.do_lower_case), jieba=jieba,
               tables=instances.MaskTables(job.config, vocabulary))


def _word_index(text, token_starts, jieba):
  """The jieba word of each token, from the character each token starts at."""
  word_of_char = [0] * len(text)
  start = 0
  for index, word in enumerate(jieba.cut(text)):
    word_of_char[start:start + len(word)] = [index] * len(word)
    start += len(word)
  return [word_of_char[s] if s < len(text) else 0 for s in token_starts]


def _tokenize_group(documents, tools, stats):
  """Documents of (correct, wrong) strings -> documents of instances.Sentence."""
  tokenizer, jieba = tools.tokenizer, tools.jieba
  flat = [sentence for document in documents for sentence in document]
  correct_encoded = tokenizer.encode([correct for correct, _ in flat], offsets=bool(jieba))
  if jieba:
    token_starts = [starts for _, starts in correct_encoded]
    correct_encoded = [ids for ids, _ in correct_encoded]
  # Only sentences with errors need their wrong side tokenized.
  wrong_encoded = list(correct_encoded)
  differ = [k for k, (correct, wrong) in enumerate(flat) if correct != wrong]
  for k, ids in zip(differ, tokenizer.encode([flat[k][1] for k in differ])):
    wrong_encoded[k] = ids
  unk = tokenizer.vocab["[UNK]"]
  sentences, misaligned, unk_tokens, input_tokens = [], 0, 0, 0
  for k, ((text, _), correct, wrong) in enumerate(zip(flat, correct_encoded, wrong_encoded)):
    if len(correct) != len(wrong):
      misaligned += 1  # e.g. an error that changed a WordPiece split
      wrong = correct
    words = _word_index(text, token_starts[k], jieba) if jieba else []
    unk_tokens += correct.count(unk)
    input_tokens += len(correct)
    sentences.append(instances.Sentence(correct, list(wrong), words) if correct else None)
  stats.update(sentences=len(flat), unk_tokens=unk_tokens, input_tokens=input_tokens)
  if misaligned:
    stats["misaligned_sentences"] += misaligned
  out, k = [], 0
  for document in documents:  # regroup into documents, dropping sentences with no tokens
    out.append([s for s in sentences[k:k + len(document)] if s is not None])
    k += len(document)
  return out


def process_group(job, tools, index, documents):
  """One group's records, shuffled as Google shuffles instances, its stats and the
  first ``job.keep_examples`` instances."""
  stats = collections.Counter(documents=len(documents))
  tokenized = _tokenize_group(documents, tools, stats)
  rng = instances.seeded_rng(job.random_seed, "group", index)
  config = job.config
  # Each batch is encoded as soon as it is masked; the records are then
  # shuffled, the same permutation as shuffling the instances.
  records, examples = [], []
  for batch in instances.masked_batches(tokenized, config, tools.tables, rng, job.dupe_factor,
                                        stats, job.batch_size):
    records += tfrecord.encode_batch(batch, config.max_seq_length, config.max_predictions_per_seq)
    if job.keep_examples:
      examples += [batch.instance(k) for k in range(len(batch))]
  order = list(range(len(records)))
  rng.shuffle(order)
  records = [records[k] for k in order]
  if job.one_output:  # one blob pickles and writes faster than many records
    records = b"".join(records)
  return records, stats, [examples[k] for k in order[:job.keep_examples]]


# A pool worker's tools. multiprocessing hands a pool initializer's work to the
# tasks only through the process, so its tools wait here, with the job they were
# made for; the settings still come with each task.
_pool_worker_tools = None


def _start_pool_worker(job, vocabulary):
  global _pool_worker_tools
  _pool_worker_tools = make_tools(job, vocabulary)


def _pool_task(job_and_group):
  job, (index, documents) = job_and_group
  if _pool_worker_tools is None or _pool_worker_tools.job != job:
    raise RuntimeError("this pool worker was started for another job")
  return process_group(job, _pool_worker_tools, index, documents)


def _grouped(documents, size):
  it = iter(documents)
  for index in itertools.count():
    group = list(itertools.islice(it, size))
    if not group:
      return
    yield index, group


def _ordered_map(pool, fn, items, window):
  """pool.imap, but never more than ``window`` groups read ahead (imap reads all)."""
  pending = collections.deque()
  for item in items:
    pending.append(pool.apply_async(fn, (item,)))
    if len(pending) >= window:
      yield pending.popleft().get()
  while pending:
    yield pending.popleft().get()


def check_flags(config, dupe_factor=10, num_workers=None, chunk_documents=1000, num_shards=1,
                shard_index=0):
  """Refuses out-of-range or contradictory settings before any work starts."""
  # [CLS] A [SEP] B [SEP] needs 3 special tokens and a token on each side; one segment, 2 and 1.
  specials = 2 if config.single_segment else 3
  segments = 1 if config.single_segment else 2
  check_range("--max_seq_length", config.max_seq_length, low=specials + segments)
  check_range("--max_predictions_per_seq", config.max_predictions_per_seq, low=1)
  if config.max_predictions_per_seq > config.max_seq_length - specials:
    raise InputError("--max_predictions_per_seq", 0, f"{config.max_predictions_per_seq} is more "
                     f"than the {config.max_seq_length - specials} non-special positions of "
                     f"--max_seq_length {config.max_seq_length}")
  check_range("--masked_lm_prob", config.masked_lm_prob, low=0, high=1, low_open=True)
  check_range("--short_seq_prob", config.short_seq_prob, low=0, high=1)
  check_range("--dupe_factor", dupe_factor, low=1)
  check_range("--num_workers", num_workers, low=1)
  check_range("--chunk_documents", chunk_documents, low=1)
  check_range("--num_shards", num_shards, low=1)
  check_range("--shard_index", shard_index, low=0, high=num_shards - 1)


def shard_path(path, shard_index, num_shards):
  """``dir/name-0000i-of-0000N.ext`` for shard i of N (N > 1), else ``path`` itself.

  The index goes before the extension, so ``dir/name-*.ext`` matches the shards
  and not their ``.stats.json`` files.
  """
  if num_shards == 1:
    return path
  root, ext = os.path.splitext(path)
  return f"{root}-{shard_index:05d}-of-{num_shards:05d}{ext}"


@dataclasses.dataclass(frozen=True)
class BuildConfig:
  """The stage's flags (field names are the flag names, defaults theirs); run() takes it."""
  # Google's flags, Google's defaults.
  input_file: str = None
  output_file: str = None
  vocab_file: str = None
  do_lower_case: bool = True
  do_whole_word_mask: bool = False
  max_seq_length: int = 128
  max_predictions_per_seq: int = 20
  random_seed: int = 12345
  dupe_factor: int = 10
  masked_lm_prob: float = 0.15
  short_seq_prob: float = 0.1
  # CSC additions.
  wrong_input_file: str = None
  mask_probability_file: str = None
  confusion_dir: str = None
  replace_proportions: str = ",".join(f"{k}={v}" for k, v in instances.DEFAULT_PROPORTIONS.items())
  single_segment: bool = False
  num_workers: int = None
  chunk_documents: int = 1000
  num_shards: int = 1
  shard_index: int = 0
  overwrite: bool = False


def run(cfg):
  """Runs the stage with a BuildConfig; returns the stats dict."""
  try:
    proportions = instances.parse_proportions(cfg.replace_proportions)
  except ValueError as e:
    raise InputError("--replace_proportions", 0, str(e)) from None
  masking = instances.MaskingConfig(
      max_seq_length=cfg.max_seq_length, max_predictions_per_seq=cfg.max_predictions_per_seq,
      masked_lm_prob=cfg.masked_lm_prob, short_seq_prob=cfg.short_seq_prob,
      single_segment=cfg.single_segment, whole_word_mask=cfg.do_whole_word_mask,
      proportions=proportions)
  stats, _ = build(
      cfg.input_file, cfg.output_file, cfg.vocab_file, wrong_input_file=cfg.wrong_input_file,
      mask_probability_file=cfg.mask_probability_file, confusion_dir=cfg.confusion_dir,
      config=masking, dupe_factor=cfg.dupe_factor, random_seed=cfg.random_seed,
      do_lower_case=cfg.do_lower_case, num_workers=cfg.num_workers,
      chunk_documents=cfg.chunk_documents, overwrite=cfg.overwrite, num_shards=cfg.num_shards,
      shard_index=cfg.shard_index)
  return stats


def build(input_file, output_file, vocab_file, wrong_input_file=None, mask_probability_file=None,
          confusion_dir=None, config=None, dupe_factor=10, random_seed=12345, do_lower_case=True,
          num_workers=None, chunk_documents=1000, overwrite=False, progress_bar=True,
          keep_examples=0, num_shards=1, shard_index=0, batch_size=instances.BATCH_SIZE):
  """Runs the stage. Returns (stats dict, up to ``keep_examples`` first instances).

  With ``num_shards`` > 1, makes shard ``shard_index`` only (the groups of
  ``chunk_documents`` whose index is shard_index modulo num_shards), written to
  each output path with ``-0000i-of-0000N`` before its extension.
  """
  config = config or instances.MaskingConfig()
  check_flags(config, dupe_factor, num_workers, chunk_documents, num_shards, shard_index)
  outputs = [shard_path(p.strip(), shard_index, num_shards)
             for p in output_file.split(",") if p.strip()]
  stats_path = outputs[0] + ".stats.json"
  check_can_write(outputs + [stats_path], overwrite)
  inputs = expand_inputs(input_file)
  wrongs = expand_inputs(wrong_input_file) if wrong_input_file else None
  FullTokenizer(vocab_file, do_lower_case)  # fails fast on a bad vocab
  vocab = load_vocab(vocab_file)
  probabilities = mask_probability.load(mask_probability_file) if mask_probability_file else None
  vocabulary = build_vocabulary(vocab, confusion_dir, probabilities)
  if not confusion_dir:
    logging.warning("no --confusion_dir: pinyin and look-alike replacements fall back to random")
  job = Job(vocab_file=vocab_file, do_lower_case=do_lower_case, config=config,
            random_seed=random_seed, dupe_factor=dupe_factor, keep_examples=keep_examples,
            one_output=len(outputs) == 1, batch_size=batch_size)
  workers = num_workers or os.cpu_count() or 1

  stats = collections.Counter()
  examples = []
  groups = _grouped(read_documents(inputs, wrongs), chunk_documents)
  if num_shards > 1:
    groups = (group for group in groups if group[0] % num_shards == shard_index)
  with contextlib.ExitStack() as stack:
    bar = None
    if progress_bar:
      from tqdm import tqdm
      bar = stack.enter_context(tqdm(unit="doc", desc="create_tf_record", mininterval=1.0))
    writers = [stack.enter_context(atomic_write(p, "wb")) for p in outputs]
    if workers > 1:
      pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(
          workers, initializer=_start_pool_worker, initargs=(job, vocabulary)))
      tasks = ((job, group) for group in groups)
      results = _ordered_map(pool, _pool_task, tasks, window=workers + 1)
    else:
      tools = make_tools(job, vocabulary)
      results = (process_group(job, tools, index, documents) for index, documents in groups)
    written = 0
    for records, group_stats, kept in results:
      if job.one_output:  # the group's records in one piece
        writers[0].write(records)
        written += group_stats["instances"]
      else:
        for record in records:
          writers[written % len(writers)].write(record)
          written += 1
      stats.update(group_stats)
      examples.extend(kept[:keep_examples - len(examples)])
      if bar is not None:
        bar.update(group_stats["documents"])
        bar.set_postfix(instances=written)
    if num_shards > 1 and not stats["documents"]:  # group shard_index does not exist
      raise InputError("--shard_index", 0, f"shard {shard_index} of {num_shards} gets no "
                       f"documents: the input makes at most {shard_index} group(s) of "
                       f"--chunk_documents {chunk_documents}; use fewer shards or smaller groups")
    if written == 0:
      raise InputError(inputs[0], 0, "no instances: the input has no usable text")
    result = _summary(stats, vocab, config, outputs, random_seed)
    result.update(dupe_factor=dupe_factor, chunk_documents=chunk_documents,
                  shard_index=shard_index, num_shards=num_shards)
    f = stack.enter_context(atomic_write(stats_path))
    json.dump(result, f, ensure_ascii=False, indent=2, sort_keys=True)
  logging.info("wrote %d instances to %s", written, ", ".join(outputs))
  return result, examples


def _summary(stats, vocab, config, outputs, seed):
  masked = {k[len("masked_"):]: v for k, v in stats.items() if k.startswith("masked_")}
  total_masked = sum(masked.values())
  return {
      "instances": stats["instances"], "tokens": stats["tokens"],
      "documents": stats["documents"], "sentences": stats["sentences"],
      "masked_positions": total_masked,
      "masked_by_kind": {k: masked.get(k, 0) for k in ("error",) + instances.REPLACE_KINDS},
      "errors_cut": stats["errors_cut"],
      "misaligned_sentences": stats["misaligned_sentences"],
      "unk_rate": round(stats["unk_tokens"] / max(1, stats["input_tokens"]), 6),
      "unk_tokens": stats["unk_tokens"], "input_tokens": stats["input_tokens"],
      "vocab_size": len(vocab), "outputs": outputs, "random_seed": seed,
      "max_seq_length": config.max_seq_length,
      "max_predictions_per_seq": config.max_predictions_per_seq,
      "single_segment": config.single_segment, "whole_word_mask": config.whole_word_mask,
      "replace_proportions": config.proportions,
  }


# --- shards made on several machines -------------------------------------------------------

# Counts add up; settings must agree; the rest is worked out again from the sums.
_SUMMED = ("instances", "tokens", "documents", "sentences", "masked_positions", "errors_cut",
           "misaligned_sentences", "unk_tokens", "input_tokens")
_AGREED = ("vocab_size", "random_seed", "max_seq_length", "max_predictions_per_seq",
           "single_segment", "whole_word_mask", "replace_proportions", "dupe_factor",
           "chunk_documents", "num_shards")


def merge_stats(named_stats):
  """One stats dict for all shards from ``[(path, stats dict), ...]``, one per shard.

  Fails, naming the file, if a shard is missing or given twice, or if the shards
  were made with other settings (seed, lengths, masking, group size).
  """
  if not named_stats:
    raise InputError("merge_stats", 0, "no stats.json files given")
  first_path, first = named_stats[0]
  for path, stats in named_stats:
    missing = [k for k in _SUMMED + _AGREED + ("shard_index", "masked_by_kind", "outputs")
               if k not in stats]
    if missing:
      raise InputError(path, 0, f"not a create_tf_record stats.json of a shard: no "
                       f"{', '.join(missing)}")
    for key in _AGREED:
      if stats[key] != first[key]:
        raise InputError(path, 0, f"{key} is {stats[key]!r} but {first[key]!r} in {first_path}: "
                         "shards of one corpus are made with the same settings")
  count = first["num_shards"]
  by_index = {}
  for path, stats in named_stats:
    if stats["shard_index"] in by_index:
      raise InputError(path, 0, f"shard {stats['shard_index']} again (also "
                       f"{by_index[stats['shard_index']]})")
    by_index[stats["shard_index"]] = path
  absent = sorted(set(range(count)) - set(by_index))
  if absent:
    raise InputError(first_path, 0, f"{len(absent)} of {count} shards missing: index "
                     + ", ".join(map(str, absent[:20])))
  ordered = [stats for _, stats in sorted(named_stats, key=lambda item: item[1]["shard_index"])]
  merged = {key: first[key] for key in _AGREED}
  merged.update({key: sum(s[key] for s in ordered) for key in _SUMMED})
  kinds = first["masked_by_kind"]
  merged["masked_by_kind"] = {k: sum(s["masked_by_kind"].get(k, 0) for s in ordered) for k in kinds}
  merged["unk_rate"] = round(merged["unk_tokens"] / max(1, merged["input_tokens"]), 6)
  merged["outputs"] = [path for s in ordered for path in s["outputs"]]
  return merged


def merge_stats_files(paths, output, overwrite=False):
  """Reads the shards' stats.json files, writes their sum to ``output``, returns it."""
  check_can_write([output], overwrite)
  merged = merge_stats([(path, read_json(path)) for path in paths])
  with atomic_write(output) as f:
    json.dump(merged, f, ensure_ascii=False, indent=2, sort_keys=True)
  return merged


@dataclasses.dataclass(frozen=True)
class MergeConfig:
  """The flags of ``merge_stats``, and the shards' stats.json files (paths or globs) it sums."""
  output: str = None
  overwrite: bool = False
  stats_files: tuple = ()


def run_merge(cfg):
  """merge_stats with a MergeConfig; returns the summed stats dict."""
  if not cfg.stats_files:
    raise InputError("merge_stats", 0, "give the shards' stats.json files (paths or globs)")
  paths = expand_inputs(",".join(cfg.stats_files))
  return merge_stats_files(paths, cfg.output, cfg.overwrite)
