"""python run_pretraining.py ... is python -m csc_pretrain.run_pretraining ... (flags: --helpfull)."""
import runpy

if __name__ == "__main__":
  runpy.run_module("csc_pretrain.run_pretraining", run_name="__main__", alter_sys=True)
