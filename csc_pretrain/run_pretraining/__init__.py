"""Stage 4: continue pretraining BERT on TensorFlow 2 with Google-compatible checkpoints.

modeling.py      BERT and its pretraining heads as tf.Variables with Google's names
optimization.py  Google's AdamWeightDecay and learning-rate schedule, adam_m/adam_v slots
checkpoint.py    name-based checkpoints (SaveV2), atomic, keep_checkpoint_max, restore by name
data.py          tf.data input from the records, shapes checked before training
train.py         the run top to bottom: strategy, step, loop, eval, early stopping, best
__main__.py      flags (Google's names) + a YAML config with the same keys
"""
