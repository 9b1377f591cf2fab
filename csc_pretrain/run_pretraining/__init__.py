"""Stage 4: continue pretraining BERT on TensorFlow 2 with Google-compatible checkpoints.

The model and checkpoint I/O live in csc_pretrain.bert, shared with correct/ and export/.

optimization.py  Google's AdamWeightDecay and learning-rate schedule, adam_m/adam_v slots
data.py          tf.data input from the records, shapes checked before training
train.py         the run top to bottom: strategy, step, loop, eval, early stopping, best
__main__.py      flags (Google's names) + a YAML config with the same keys
"""
