"""TFRecord files of tf.train.Example in Google BERT's pretraining schema, without TensorFlow.

Writing does not need TensorFlow: an Example is a small protobuf, encoded here
by hand (int64 lists as packed varints, float lists as packed little-endian
float32), and a TFRecord is ``len, crc(len), data, crc(data)`` with masked
CRC32C. The tests parse what we write with TensorFlow's own parser.
"""

import os
import struct

import google_crc32c
import numpy as np

from csc_pretrain.io_utils import InputError, read_json

# Google's run_pretraining.py input schema: name -> (dtype, length key).
SCHEMA = (
    ("input_ids", "int64", "max_seq_length"),
    ("input_mask", "int64", "max_seq_length"),
    ("segment_ids", "int64", "max_seq_length"),
    ("masked_lm_positions", "int64", "max_predictions_per_seq"),
    ("masked_lm_ids", "int64", "max_predictions_per_seq"),
    ("masked_lm_weights", "float", "max_predictions_per_seq"),
    ("next_sentence_labels", "int64", None),  # length 1
)


def _varint(n):
  out = bytearray()
  while True:
    byte = n & 0x7F
    n >>= 7
    if n:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


# Varints of small non-negative ints, looked up instead of computed (vocab ids).
_VARINT_CACHE = ([bytes((i,)) for i in range(1 << 7)]
                 + [bytes((i & 0x7F | 0x80, i >> 7)) for i in range(1 << 7, 1 << 14)]
                 + [bytes((i & 0x7F | 0x80, i >> 7 & 0x7F | 0x80, i >> 14))
                    for i in range(1 << 14, 1 << 16)])


def _varint_fast(n):
  return _VARINT_CACHE[n] if n < 65536 else _varint(n)


def _length_delimited(field, payload):
  return bytes([(field << 3) | 2]) + _varint_fast(len(payload)) + payload


def _int64_feature(values):
  packed = b"".join(_varint_fast(v) if v >= 0 else _varint(v & (2**64 - 1)) for v in values)
  return _length_delimited(3, _length_delimited(1, packed))   # Feature.int64_list


def _float_feature(values):
  packed = np.asarray(values, dtype="<f4").tobytes()
  return _length_delimited(2, _length_delimited(1, packed))   # Feature.float_list


def encode_example(features):
  """Serialized tf.train.Example from ``{name: (dtype, values)}``, in the given order."""
  entries = b""
  for name, (dtype, values) in features.items():
    value = _int64_feature(values) if dtype == "int64" else _float_feature(values)
    entry = _length_delimited(1, name.encode()) + _length_delimited(2, value)
    entries += _length_delimited(1, entry)                      # Features.feature map entry
  return _length_delimited(1, entries)                          # Example.features


def instance_features(instance, max_seq_length, max_predictions_per_seq):
  """Google's feature dict for one instance, zero-padded."""
  n = len(instance.input_ids)
  if n > max_seq_length:
    raise ValueError(f"instance of {n} tokens > max_seq_length {max_seq_length}")
  pad = max_seq_length - n
  m = len(instance.masked_lm_positions)
  pad_m = max_predictions_per_seq - m
  return {
      "input_ids": ("int64", instance.input_ids + [0] * pad),
      "input_mask": ("int64", [1] * n + [0] * pad),
      "segment_ids": ("int64", instance.segment_ids + [0] * pad),
      "masked_lm_positions": ("int64", instance.masked_lm_positions + [0] * pad_m),
      "masked_lm_ids": ("int64", instance.masked_lm_ids + [0] * pad_m),
      "masked_lm_weights": ("float", [1.0] * m + [0.0] * pad_m),
      "next_sentence_labels": ("int64", [1 if instance.is_random_next else 0]),
  }


# The fixed parts of an encoded instance, for encode_batch.
_KEYS = {name: _length_delimited(1, name.encode()) for name, _, _ in SCHEMA}
_FLOAT_ONE, _FLOAT_ZERO = struct.pack("<f", 1.0), struct.pack("<f", 0.0)
_PREFIXES = {}


def _prefix(name, kind, size):
  """All of a Features.feature map entry (kind 2 float, 3 int64) before its packed
  list of ``size`` bytes: it depends only on that size."""
  prefix = _PREFIXES.get((name, size))
  if prefix is None:
    inner = b"\x0a" + _varint_fast(size)
    value = bytes([(kind << 3) | 2]) + _varint_fast(len(inner) + size) + inner
    entry = _KEYS[name] + b"\x12" + _varint_fast(len(value) + size) + value
    prefix = _PREFIXES[(name, size)] = b"\x0a" + _varint_fast(len(entry) + size) + entry
  return prefix


def _varint_rows(values):
  """Each row of a 2-D array of ints in 0..2**21 as packed varints: (all rows'
  bytes end to end, where each row ends)."""
  v = values.astype(np.int64, copy=False)
  rows, width = v.shape
  if v.max(initial=0) < 1 << 7:  # one byte each, the value itself
    return v.astype(np.uint8).tobytes(), range(width, rows * width + 1, width)
  size = 1 + (v >= 1 << 7) + (v >= 1 << 14)
  out = np.empty(v.shape + (3,), np.uint8)
  out[..., 0] = (v & 0x7F) | (size > 1) * 0x80  # continuation bit
  out[..., 1] = (v >> 7 & 0x7F) | (size > 2) * 0x80
  out[..., 2] = v >> 14
  blob = out[np.arange(3) < size[..., None]].tobytes()
  return blob, np.cumsum(size.sum(axis=1)).tolist()


def encode_batch(batch, max_seq_length, max_predictions_per_seq):
  """The TFRecords of a MaskedBatch's instances: ``frame(encode_example(
  instance_features(...)))`` of each, byte for byte, but the varints of all rows
  come from a few array operations and the rest is mostly cached bytes."""
  n, width, p = len(batch.lengths), max_seq_length, max_predictions_per_seq
  if not n:
    return []
  if batch.lengths.max() > width:
    raise ValueError(f"instance of {batch.lengths.max()} tokens > max_seq_length {width}")
  arrays = (batch.input_ids, batch.segment_ids, batch.positions, batch.label_ids)
  if min(a.min() for a in arrays) < 0 or max(a.max() for a in arrays) >= 1 << 21:
    return [frame(encode_example(instance_features(batch.instance(k), width, p)))
            for k in range(n)]
  (ids, ids_end), (seg, seg_end), (pos, pos_end), (lab, lab_end) = map(_varint_rows, arrays)
  masks = {}
  weights = [_prefix("masked_lm_weights", 2, 4 * p) + _FLOAT_ONE * m + _FLOAT_ZERO * (p - m)
             for m in range(p + 1)]
  nsp = [_prefix("next_sentence_labels", 3, 1) + bytes((x,)) for x in (0, 1)]
  out = []
  i0 = s0 = p0 = l0 = 0
  for length, m, random_next, i1, s1, p1, l1 in zip(
      batch.lengths.tolist(), batch.n_masked.tolist(), batch.is_random_next.tolist(),
      ids_end, seg_end, pos_end, lab_end):
    mask = masks.get(length)
    if mask is None:
      mask = masks[length] = (_prefix("input_mask", 3, width)
                              + b"\x01" * length + b"\x00" * (width - length))
    entries = b"".join((
        _prefix("input_ids", 3, i1 - i0), ids[i0:i1], mask,
        _prefix("segment_ids", 3, s1 - s0), seg[s0:s1],
        _prefix("masked_lm_positions", 3, p1 - p0), pos[p0:p1],
        _prefix("masked_lm_ids", 3, l1 - l0), lab[l0:l1], weights[m], nsp[random_next]))
    out.append(frame(b"\x0a" + _varint_fast(len(entries)) + entries))
    i0, s0, p0, l0 = i1, s1, p1, l1
  return out


def _masked_crc(data):
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_HEADERS = {}  # record length -> length and its masked CRC; records have few lengths


def frame(record):
  """One TFRecord: length, its masked CRC, the data, the data's masked CRC."""
  header = _HEADERS.get(len(record))
  if header is None:
    length = struct.pack("<Q", len(record))
    header = length + struct.pack("<I", _masked_crc(length))
    if len(_HEADERS) < 65536:
      _HEADERS[len(record)] = header
  return b"".join((header, record, struct.pack("<I", _masked_crc(record))))


def read_records(path):
  """Yields the records of a TFRecord file, checking both CRCs."""
  with open(path, "rb") as f:
    while True:
      header = f.read(12)
      if not header:
        return
      if len(header) < 12:
        raise ValueError(f"{path}: truncated record header")
      (length,) = struct.unpack("<Q", header[:8])
      if struct.unpack("<I", header[8:])[0] != _masked_crc(header[:8]):
        raise ValueError(f"{path}: corrupt length CRC")
      data = f.read(length)
      footer = f.read(4)
      if len(data) < length or len(footer) < 4:
        raise ValueError(f"{path}: truncated record")
      if struct.unpack("<I", footer)[0] != _masked_crc(data):
        raise ValueError(f"{path}: corrupt data CRC")
      yield data


# --- reading records back with TensorFlow (imported lazily: writing needs none) ---------------

def feature_spec(max_seq_length, max_predictions_per_seq):
  """TensorFlow's parsing spec of Google's schema for these lengths."""
  import tensorflow as tf
  lengths = {"max_seq_length": max_seq_length, "max_predictions_per_seq": max_predictions_per_seq,
             None: 1}
  return {name: tf.io.FixedLenFeature([lengths[key]], tf.int64 if dtype == "int64" else tf.float32)
          for name, dtype, key in SCHEMA}


def numbered_records(path):
  """Yields ``(record_number, raw_record, tf.train.Example)``; a truncated or corrupt record is an
  InputError naming ``path:record_number``, never a traceback or a silent stop."""
  import tensorflow as tf
  from google.protobuf.message import DecodeError
  n = 0
  records = read_records(path)
  while True:
    try:
      record = next(records)
    except StopIteration:
      return
    except ValueError as e:  # framing / CRC problems, worded as "path: what"
      raise InputError(path, n + 1, f"record {n + 1}: {str(e).split(': ', 1)[-1]}") from None
    except OSError as e:
      raise InputError(path, 0, f"cannot read: {e.strerror or e}") from None
    n += 1
    try:
      example = tf.train.Example.FromString(record)
    except DecodeError as e:
      raise InputError(path, n, f"record {n} is not a tf.train.Example: {e}") from None
    yield n, record, example


def check_records(paths, max_seq_length, max_predictions_per_seq, vocab_size=None, limit=None):
  """Yields ``(path, record_number, {feature: numpy array})`` for each record (the first
  ``limit`` of each file if given), after checking it against Google's schema for these
  lengths and, with ``vocab_size``, its token ids. The first record that does not fit
  is an InputError naming ``path:record_number``."""
  lengths = {"max_seq_length": max_seq_length, "max_predictions_per_seq": max_predictions_per_seq,
             None: 1}
  for path in paths:
    for n, _, example in numbered_records(path):
      if limit is not None and n > limit:
        break
      features = example.features.feature
      if set(features) != {name for name, _, _ in SCHEMA}:
        raise InputError(path, n, f"record {n} has features {sorted(features)}, not Google's "
                         f"schema {[name for name, _, _ in SCHEMA]}")
      parsed = {}
      for name, dtype, key in SCHEMA:
        values = (features[name].int64_list.value if dtype == "int64"
                  else features[name].float_list.value)
        if len(values) != lengths[key]:
          wanted = f"--{key} is {lengths[key]}" if key else "the schema says 1"
          raise InputError(path, n, f"record {n} has {name} of length {len(values)} but "
                           f"{wanted}: it does not fit the schema (make the records and train "
                           "with the same lengths)")
        parsed[name] = np.array(values, dtype=np.int64 if dtype == "int64" else np.float32)
      top = int(parsed["input_ids"].max())
      if vocab_size is not None and top >= vocab_size:
        raise InputError(path, n, f"record {n} has token id {top} >= vocab_size {vocab_size}: "
                         "records made with another vocab?")
      yield path, n, parsed


# --- the lengths a set of records was made with ----------------------------------------------

LENGTH_KEYS = ("max_seq_length", "max_predictions_per_seq")
# Google's defaults, for records without a stats.json (made by Google's own script).
DEFAULT_LENGTHS = {"max_seq_length": 128, "max_predictions_per_seq": 20}


def resolve_lengths(paths, given):
  """``{key: value}`` for LENGTH_KEYS: from the ``<record>.stats.json`` files that
  create_tf_record writes next to ``paths``, else DEFAULT_LENGTHS. A value in
  ``given`` (flags; None = not given) must agree with the stats: InputError
  naming the stats file otherwise, as it does for two stats files that disagree."""
  found = {}
  for path in paths:
    stats_path = path + ".stats.json"
    if not os.path.exists(stats_path):
      continue
    stats = read_json(stats_path)
    for key in LENGTH_KEYS:
      if key in stats:
        if key in found and found[key][0] != stats[key]:
          raise InputError(stats_path, 0, f"{key} {stats[key]}, but {found[key][0]} in "
                           f"{found[key][1]}: records of different lengths cannot train together")
        found.setdefault(key, (stats[key], stats_path))
  out = {}
  for key in LENGTH_KEYS:
    value = given.get(key)
    if key in found and value is not None and value != found[key][0]:
      raise InputError(found[key][1], 0, f"the records have {key} {found[key][0]} but "
                       f"--{key} is {value}: leave the flag out, or remake the records")
    out[key] = value if value is not None else found.get(key, (DEFAULT_LENGTHS[key],))[0]
  return out
