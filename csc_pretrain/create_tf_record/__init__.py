"""Stage 3: aligned pairs -> confusion-weighted masked-LM TFRecords in Google BERT's schema.

The tokenizer and the record schema live in csc_pretrain.bert, shared with stage 4.

instances.py     segments A/B (Google's algorithm, correct and wrong in lockstep) and masking,
                 many instances at once; tests/reference_masking.py states the same rules
                 one instance at a time
build.py         the stage top to bottom, settings in one frozen Job; __main__.py its command line
inspect.py       prints records back as text and checks every record's schema
build_vocab.py   a BERT-Chinese-style vocab.txt from a corpus and char_meta
"""
