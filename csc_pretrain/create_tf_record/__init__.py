"""Stage 3: aligned pairs -> confusion-weighted masked-LM TFRecords in Google BERT's schema.

tokenization.py  Google's FullTokenizer on HF tokenizers; build_vocab
instances.py     segments A/B (Google's algorithm, correct and wrong in lockstep) and masking
tfrecord.py      tf.train.Example encoding and TFRecord framing, no TensorFlow needed
build.py         the stage top to bottom; __main__.py its command line
inspect.py       prints records back as text and checks every record's schema
build_vocab.py   a BERT-Chinese-style vocab.txt from a corpus and char_meta
"""
