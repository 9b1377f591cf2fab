"""tf.data input from Google-schema TFRecords (bert.tfrecord checks them before training)."""

import tensorflow as tf

SHUFFLE_SEED = 12345


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

  def parse(records):  # a batch at once: one parse op per batch, not one per record
    examples = tf.io.parse_example(records, spec)
    return {k: tf.cast(v, tf.int32) if v.dtype == tf.int64 else v for k, v in examples.items()}

  ds = ds.batch(batch_size, drop_remainder=training)
  ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(accumulation_steps, drop_remainder=training)
  return ds.prefetch(tf.data.AUTOTUNE)
