"""strip_adam on a BERT-base-shaped checkpoint with Adam slots (random values, ~1.3 GB).

  python bench/strip_adam_speed.py [--keep DIR]

Prints the size before and after, the ratio (target <= 0.34) and seconds, next
to the seconds a plain copy of the same files takes (the disk-bound anchor).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from csc_pretrain.bert import checkpoint
from csc_pretrain.bert import modeling  # noqa: E402
from csc_pretrain.strip_adam import strip  # noqa: E402


def make_checkpoint(directory):
  config = modeling.BertConfig.from_json_file(
      os.path.join(os.path.dirname(__file__), "..", "configs", "chinese_L-12_H-768_A-12.json"))
  shapes = {n: v.shape.as_list() for n, v in modeling.BertPretrainer(config, seed=0).variables_by_name.items()}
  rng = np.random.default_rng(0)
  tensors = {}
  for name, shape in shapes.items():
    for suffix in ("", "/adam_m", "/adam_v"):
      tensors[name + suffix] = rng.standard_normal(shape, dtype=np.float32)
  tensors["global_step"] = np.int64(100000)
  return checkpoint.save(directory, 100000, tensors)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--keep", help="write here instead of a temp dir (and keep it)")
  args = parser.parse_args()
  root = args.keep or tempfile.mkdtemp(prefix="strip_bench_")
  try:
    t = time.time()
    prefix = make_checkpoint(os.path.join(root, "run"))
    print(f"made the checkpoint in {time.time() - t:.1f}s")
    t = time.time()
    copy_dir = os.path.join(root, "copy")
    os.makedirs(copy_dir)
    for f in os.listdir(os.path.dirname(prefix)):
      shutil.copyfile(os.path.join(os.path.dirname(prefix), f), os.path.join(copy_dir, f))
    copy_seconds = time.time() - t
    t = time.time()
    result = strip.strip(prefix)
    seconds = time.time() - t
    mib = 2 ** 20
    print(f"before             {result['bytes_before'] / mib:8.1f} MiB")
    print(f"after              {result['bytes_after'] / mib:8.1f} MiB")
    print(f"ratio              {result['ratio']:8.3f}   (target <= 0.34)")
    print(f"strip_adam seconds {seconds:8.2f}")
    print(f"plain copy seconds {copy_seconds:8.2f}   (anchor: copying the whole input)")
  finally:
    if not args.keep:
      shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
  main()
