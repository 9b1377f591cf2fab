"""Exports of a checkpoint for use elsewhere.

hf.py          Hugging Face: config.json + model.safetensors + vocab.txt for BertForMaskedLM
savedmodel.py  TF SavedModel with a serving_default signature (TF Serving's REST :predict)
__main__.py    python -m csc_pretrain.export --checkpoint ... --format hf|savedmodel --output DIR
"""
