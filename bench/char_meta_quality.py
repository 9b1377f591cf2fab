"""How often the correct character is among a wrong character's candidates.

  python bench/char_meta_quality.py --confusion_dir char_meta \
      [--pairs bench/data/dev_confusions.tsv] [--pycorrector]

Prints recall@1/5/10/20/50 of ``confusion_sets.tsv`` on hand-written pairs
(wrong<TAB>correct<TAB>kind, our own dev set, see its header), by kind. With
--pycorrector it also downloads the pycorrector packages from PyPI into a temp
dir and reports which share of their same_pinyin / same_stroke pairs appear in
our top-50: a sanity check only (those lists are not real errors).
"""

import argparse
import collections
import glob
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from csc_pretrain.char_meta.formats import read_confusion_sets, read_external_confusions  # noqa: E402

KS = (1, 5, 10, 20, 50)


def recall(sets, pairs):
  hits = {k: 0 for k in KS}
  for wrong, correct in pairs:
    cands = sets.get(wrong, [])
    for k in KS:
      hits[k] += correct in cands[:k]
  return {k: hits[k] / max(1, len(pairs)) for k in KS}


def fetch_pycorrector(tmp):
  """same_pinyin.txt from pycorrector 1.1.4, same_stroke.txt from 0.4.2 (PyPI)."""
  for spec in ("pycorrector==1.1.4", "pycorrector==0.4.2"):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, spec],
                   check=True)
  out = {}
  for path in glob.glob(os.path.join(tmp, "pycorrector-*")):
    if path.endswith(".whl"):
      with zipfile.ZipFile(path) as z:
        z.extract("pycorrector/data/same_pinyin.txt", tmp)
        out["same_pinyin"] = os.path.join(tmp, "pycorrector/data/same_pinyin.txt")
    else:
      with tarfile.open(path) as t:
        member = next(m for m in t.getmembers() if m.name.endswith("data/same_stroke.txt"))
        t.extract(member, tmp, filter="data")
        out["same_stroke"] = os.path.join(tmp, member.name)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--confusion_dir", required=True)
  parser.add_argument("--pairs", default=os.path.join(os.path.dirname(__file__), "data",
                                                      "dev_confusions.tsv"))
  parser.add_argument("--pycorrector", action="store_true")
  args = parser.parse_args()

  sets = read_confusion_sets(os.path.join(args.confusion_dir, "confusion_sets.tsv"))
  by_kind = collections.defaultdict(list)
  for line in open(args.pairs, encoding="utf-8"):
    if line.startswith("#") or not line.strip():
      continue
    wrong, correct, kind = line.rstrip("\n").split("\t")[:3]
    by_kind["all"].append((wrong, correct))
    by_kind[kind].append((wrong, correct))
  print(f"dev pairs {args.pairs}")
  for kind, pairs in sorted(by_kind.items()):
    r = recall(sets, pairs)
    print(f"  {kind:4s} n={len(pairs):4d} " + " ".join(f"@{k}={r[k]:.3f}" for k in KS))
  missed = [f"{w}->{c}" for w, c in by_kind["all"] if c not in sets.get(w, [])[:50]]
  print(f"  missed in top-50 ({len(missed)}): {' '.join(missed)}")

  if args.pycorrector:
    with tempfile.TemporaryDirectory() as tmp:
      for name, path in sorted(fetch_pycorrector(tmp).items()):
        ext = read_external_confusions(path)
        pairs = [(w, c) for w, cs in ext.items() for c in cs if w in sets and c in sets]
        r = recall(sets, pairs)
        print(f"pycorrector {name}: {len(pairs)} pairs, share in our top-50 {r[50]:.3f}, "
              f"top-10 {r[10]:.3f}")


if __name__ == "__main__":
  main()
