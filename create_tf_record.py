"""python create_tf_record.py ... is python -m csc_pretrain.create_tf_record ... (flags: --helpfull)."""
import runpy

if __name__ == "__main__":
  runpy.run_module("csc_pretrain.create_tf_record", run_name="__main__", alter_sys=True)
