"""tf.data input from Google-schema TFRecords, with the shapes checked before training."""

import tensorflow as tf

from csc_pretrain.create_tf_record import tfrecord
from csc_pretrain.io_utils import InputError

SHUFFLE_SEED = 12345


def check_records(paths, max_seq_length, max_predictions_per_seq, vocab_size, sample=100):
  """Fails with file and record number if the first records do not fit the flags."""
  want = {"max_seq_length": max_seq_length, "max_predictions_per_seq": max_predictions_per_seq,
          None: 1}
  for path in paths:
    for n, _, example in tfrecord.numbered_records(path):
      if n > sample:
        break
      features = example.features.feature
      for name, dtype, key in tfrecord.SCHEMA:
        if name not in features:
          raise InputError(path, n, f"record {n} has no feature {name!r}: not Google's schema")
        values = (features[name].int64_list.value if dtype == "int64"
                  else features[name].float_list.value)
        if len(values) != want[key]:
          flag = f"--{key}" if key else "the schema"
          raise InputError(path, n, f"record {n} has {name} of length {len(values)} but "
                           f"{flag} is {want[key]}: make the records and train with the same "
                           "lengths")
      top = max(features["input_ids"].int64_list.value)
      if top >= vocab_size:
        raise InputError(path, n, f"record {n} has token id {top} >= vocab_size {vocab_size} "
                         "in the BERT config: records made with another vocab?")


def make_dataset(paths, spec, batch_size, accumulation_steps=1, training=True, skip_records=0,
                 input_context=None):
  """Batches of ``[accumulation_steps, batch_size, ...]`` features (int64 cast to int32).

  Training repeats forever in a fixed shuffled order (seeded), so a resumed run
  skips the records it already consumed and sees the same data next.

  With several input pipelines (one per worker), each reads the same record
  stream and keeps every N-th record, as TF's AutoShardPolicy.DATA does. Step s
  then trains on records [s * B, (s + 1) * B) of that one order (B the global
  batch) however many workers and replicas share it, so the loss curve and a
  resume do not depend on the cluster. Sharding by file would give a worker no
  data when there are fewer files than workers, and an empty pipeline has
  another cardinality, which makes the workers issue different collectives.
  """
  ds = tf.data.Dataset.from_tensor_slices(paths)
  if training:
    ds = ds.repeat().shuffle(len(paths), seed=SHUFFLE_SEED)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(paths)),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.shuffle(1000, seed=SHUFFLE_SEED)
  else:
    ds = tf.data.TFRecordDataset(ds)
  if skip_records:
    ds = ds.skip(skip_records)  # serialized records: what is skipped is never parsed
  if input_context and input_context.num_input_pipelines > 1:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)

  def parse(record):
    example = tf.io.parse_single_example(record, spec)
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in example.items()}

  ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(batch_size, drop_remainder=training).batch(accumulation_steps, drop_remainder=training)
  return ds.prefetch(tf.data.AUTOTUNE)
