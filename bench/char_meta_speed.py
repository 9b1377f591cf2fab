"""Time and peak memory of the full char_meta stage (all of U+4E00..U+9FFF).

  python bench/char_meta_speed.py [--top_k 50]

Runs ``python -m csc_pretrain.char_meta`` in a child process on a temp dir and
prints wall seconds, the stage's own similarity seconds and the child's peak
RSS. Target (issue 2): all tables for >= 20.9k characters in <= 300 s on 2 cores.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--top_k", type=int, default=50)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory() as out:
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "csc_pretrain.char_meta", "--output_dir", out,
                    "--top_k", str(args.top_k), "--overwrite"], check=True,
                   stderr=subprocess.DEVNULL)
    seconds = time.time() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with open(os.path.join(out, "char_meta_stats.json"), encoding="utf-8") as f:
      stats = json.load(f)
  print(f"characters         {stats['characters']}")
  print(f"cores              {os.cpu_count()}")
  print(f"wall seconds       {seconds:.1f}   (target <= 300)")
  print(f"similarity seconds {stats['seconds_similarity']}")
  print(f"peak RSS MiB       {peak_mib:.0f}")


if __name__ == "__main__":
  main()
