"""python strip_adam.py model.ckpt ... is python -m csc_pretrain.strip_adam ... (flags: --helpfull)."""
import runpy

if __name__ == "__main__":
  runpy.run_module("csc_pretrain.strip_adam", run_name="__main__", alter_sys=True)
