"""The shared core: what every stage that touches BERT needs, owned in one place.

tokenization.py  Google's FullTokenizer on HF tokenizers; load_vocab, build_vocab
tfrecord.py      the record schema (feature_spec), tf.train.Example writer and reader, stats.json
modeling.py      BERT and its pretraining heads as tf.Variables with Google's names
checkpoint.py    name-based checkpoints (SaveV2): atomic writes, restore by name, side files

Stages import from here and never from each other's internals.
"""
