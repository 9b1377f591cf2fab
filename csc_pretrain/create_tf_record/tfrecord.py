"""TFRecord files of tf.train.Example in Google BERT's pretraining schema, without TensorFlow.

Writing does not need TensorFlow: an Example is a small protobuf, encoded here
by hand (int64 lists as packed varints, float lists as packed little-endian
float32), and a TFRecord is ``len, crc(len), data, crc(data)`` with masked
CRC32C. The tests parse what we write with TensorFlow's own parser.
"""

import operator
import struct

import google_crc32c
import numpy as np

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
_VARINT_CACHE = [_varint(i) for i in range(1 << 16)]


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


# Fixed parts of an encoded instance, for encode_instance: each feature's map key.
_KEYS = {name: _length_delimited(1, name.encode()) for name, _, _ in SCHEMA}
_FLOAT_ONE, _FLOAT_ZERO = np.asarray([1.0, 0.0], dtype="<f4").tobytes()[:4], bytes(4)


_VARINTS = dict(enumerate(_VARINT_CACHE))  # a dict: a negative id is a KeyError, not [-1]


def _packed_varints(values):
  if len(values) > 1:
    try:
      return b"".join(operator.itemgetter(*values)(_VARINTS))
    except (KeyError, TypeError):  # not an int in 0..65535
      pass
  return b"".join(_varint_fast(v) if v >= 0 else _varint(v & (2**64 - 1)) for v in values)


def _packed_small(values):
  """_packed_varints for values mostly in 0..127, which are their own varint."""
  try:
    packed = bytes(values)
    if packed.isascii():
      return packed
  except (ValueError, TypeError):
    pass
  return _packed_varints(values)


_PREFIXES = {}


def _entry(name, kind, packed):
  """One Features.feature map entry around an already packed list (kind 2 float, 3 int64)."""
  prefix = _PREFIXES.get((name, len(packed)))
  if prefix is None:  # all but the packed bytes depend only on their length
    inner = b"\x0a" + _varint_fast(len(packed))
    value = bytes([(kind << 3) | 2]) + _varint_fast(len(inner) + len(packed)) + inner
    entry = _KEYS[name] + b"\x12" + _varint_fast(len(value) + len(packed)) + value
    prefix = _PREFIXES[(name, len(packed))] = (
        b"\x0a" + _varint_fast(len(entry) + len(packed)) + entry)
  return prefix + packed


def encode_instance(instance, max_seq_length, max_predictions_per_seq):
  """``encode_example(instance_features(...))``, byte for byte, several times faster:
  padding and the 0/1 features are repeated bytes, ids are looked up varints."""
  n = len(instance.input_ids)
  if n > max_seq_length:
    raise ValueError(f"instance of {n} tokens > max_seq_length {max_seq_length}")
  pad = b"\x00" * (max_seq_length - n)  # varint 0
  m = len(instance.masked_lm_positions)
  pad_m = max_predictions_per_seq - m
  entries = b"".join((
      _entry("input_ids", 3, _packed_varints(instance.input_ids) + pad),
      _entry("input_mask", 3, b"\x01" * n + pad),
      _entry("segment_ids", 3, _packed_small(instance.segment_ids) + pad),
      _entry("masked_lm_positions", 3, _packed_small(instance.masked_lm_positions)
             + b"\x00" * pad_m),
      _entry("masked_lm_ids", 3, _packed_varints(instance.masked_lm_ids) + b"\x00" * pad_m),
      _entry("masked_lm_weights", 2, _FLOAT_ONE * m + _FLOAT_ZERO * pad_m),
      _entry("next_sentence_labels", 3, b"\x01" if instance.is_random_next else b"\x00")))
  return b"\x0a" + _varint_fast(len(entries)) + entries


def _masked_crc(data):
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record):
  """One TFRecord: length, its masked CRC, the data, the data's masked CRC."""
  length = struct.pack("<Q", len(record))
  return (length + struct.pack("<I", _masked_crc(length)) + record +
          struct.pack("<I", _masked_crc(record)))


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
