"""Stage 3 side by side with Google's create_pretraining_data.py: instances/s and peak RSS.

  .venv/bin/python bench/create_tf_record_speed.py [--sentences 100000] [--dupe_factor 5]
      [--skip_google] [--skip_quarter] [--baseline_root DIR [--pairs 3]] [--whole_word_mask]

Generates a seeded synthetic medical corpus in a temp dir (documents of 5-15
sentences, recombined from create_data/sample clauses, plus a line-aligned
wrong file with substitution errors from char_meta's confusion sets), then runs,
with the same flags (max_seq_length 128, max_predictions_per_seq 20,
masked_lm_prob 0.15, short_seq_prob 0.1, random_seed 12345, dupe_factor):

  google   .venv-tf1/bin/python .../bert/create_pretraining_data.py  (the correct text)
  ours     .venv/bin/python create_tf_record.py, plus the wrong file, mask
           probabilities and confusion sets, all cores
  ours/4   the same on the first quarter of the corpus, to show peak RSS does not
           grow with the corpus

Each run is a fresh child process; its records are counted (CRCs checked)
without TensorFlow. Peak RSS is reported two ways: "tree" is the highest sum of
VmRSS over the process and all its descendants (ours: main + spawn workers),
sampled every 50 ms; "largest" is the highest VmHWM of any one process of the
tree (exact, from the kernel). Wall seconds include interpreter and library
start-up for both. The default dupe_factor 5 keeps Google's run near 3 minutes
on 2 cores. Target (issue): ours >= 10x Google's instances/s on 2 cores, peak
RSS flat as the corpus grows. Needs .venv-tf1 (bash scripts/setup_tf1_env.sh)
unless --skip_google.

With --baseline_root DIR (another copy of this repository, e.g. from
`git archive HEAD | tar -x -C DIR`), only ours runs, against DIR's
create_tf_record.py on the same corpus and flags: baseline, ours, baseline,
ours, ... --pairs times, so both see the same load on a shared machine; prints
each run and the ratios of the median wall and CPU times. --whole_word_mask adds
--do_whole_word_mask to our runs (jieba words; Google's flag does nothing for Chinese).
"""

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from csc_pretrain.bert.tfrecord import read_records  # noqa: E402

OURS_PY = os.path.join(ROOT, ".venv", "bin", "python")
TF1_PY = os.path.join(ROOT, ".venv-tf1", "bin", "python")
COMMON_FLAGS = ("--do_lower_case=True", "--max_seq_length=128", "--max_predictions_per_seq=20",
                "--masked_lm_prob=0.15", "--short_seq_prob=0.1", "--random_seed=12345")


# --- corpus ---------------------------------------------------------------------------------

def _sample_pairs(correct_path, wrong_path):
  with open(correct_path, encoding="utf-8") as f:
    correct = [line.rstrip("\n") for line in f]
  with open(wrong_path, encoding="utf-8") as f:
    wrong = [line.rstrip("\n") for line in f]
  return [(c, w) for c, w in zip(correct, wrong) if c.strip() and len(c) == len(w)]


def _clauses(pairs):
  """(correct, wrong) clauses cut at the commas both lines share, end punctuation dropped."""
  out = []
  for c, w in pairs:
    start = 0
    for i, ch in enumerate(c + "，"):
      if ch in "，。；" and (i == len(c) or w[i] == ch):
        if i - start >= 4:
          out.append((c[start:i], w[start:i]))
        start = i + 1
  return out


def _confusions(confusion_dir, vocab):
  """char -> its 10 closest confusion candidates in the vocab (the wrong file's extra errors)."""
  path = os.path.join(confusion_dir, "confusion_sets.tsv")
  out = {}
  if not os.path.exists(path):
    return out
  with open(path, encoding="utf-8") as f:
    for line in f:
      char, _, cands = line.rstrip("\n").partition("\t")
      if char in vocab:
        kept = [x for x in cands.split() if x in vocab][:10]
        if kept:
          out[char] = kept
  return out


def make_corpus(out_dir, sentences, seed, sample_dir, confusion_dir, vocab_file):
  """Writes correct.txt and wrong.txt (same lines, same lengths); returns their paths and sizes."""
  with open(vocab_file, encoding="utf-8") as f:
    vocab = {line.strip() for line in f}
  pairs = _sample_pairs(os.path.join(sample_dir, "correct.txt"),
                        os.path.join(sample_dir, "wrong.txt"))
  clauses = _clauses(pairs)
  confusions = _confusions(confusion_dir, vocab)
  rng = random.Random(seed)
  correct_path = os.path.join(out_dir, "correct.txt")
  wrong_path = os.path.join(out_dir, "wrong.txt")
  written, chars, docs = 0, 0, 0
  with open(correct_path, "w", encoding="utf-8") as fc, \
       open(wrong_path, "w", encoding="utf-8") as fw:
    while written < sentences:
      n = min(rng.randint(5, 15), sentences - written)
      for _ in range(n):
        if rng.random() < 0.3:  # a sample sentence as written, with its own errors
          c, w = rng.choice(pairs)
        else:  # 1-4 clauses from anywhere, joined into a new sentence
          parts = [rng.choice(clauses) for _ in range(rng.randint(1, 4))]
          c = "，".join(p[0] for p in parts) + "。"
          w = "，".join(p[1] for p in parts) + "。"
        w = list(w)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):  # a few more substitution errors
          i = rng.randrange(len(c))
          if c[i] in confusions:
            w[i] = rng.choice(confusions[c[i]][:5])
        fc.write(c + "\n")
        fw.write("".join(w) + "\n")
        chars += len(c)
      written += n
      docs += 1
      fc.write("\n")
      fw.write("\n")
  return correct_path, wrong_path, docs, chars


def head_documents(src, dst, sentences):
  """The first whole documents of ``src`` holding >= ``sentences`` sentences."""
  n = 0
  with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
    for line in f:
      out.write(line)
      if line.strip():
        n += 1
      elif n >= sentences:
        break
  return dst


# --- measuring a run ------------------------------------------------------------------------

def _children_map():
  kids = {}
  for name in os.listdir("/proc"):
    if name.isdigit():
      try:
        with open(f"/proc/{name}/stat", encoding="utf-8") as f:
          ppid = int(f.read().rpartition(")")[2].split()[1])
      except (OSError, ValueError, IndexError):
        continue  # gone meanwhile
      kids.setdefault(ppid, []).append(int(name))
  return kids


def _status_kib(pid, *keys):
  out = dict.fromkeys(keys, 0)
  try:
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key in out:
          out[key] = int(value.split()[0])
  except (OSError, ValueError):
    pass
  return out


class TreeMemory(threading.Thread):
  """Samples a process tree: peak of the summed VmRSS and each process's VmHWM."""

  def __init__(self, pid, interval=0.05):
    super().__init__(daemon=True)
    self.pid, self.interval = pid, interval
    self.peak_tree_kib = 0
    self.hwm = {}  # pid -> (name, VmHWM kib), last seen
    self.done = threading.Event()

  def run(self):
    while not self.done.is_set():
      kids = _children_map()
      tree, stack = [], [self.pid]
      while stack:
        p = stack.pop()
        tree.append(p)
        stack.extend(kids.get(p, ()))
      total = 0
      for p in tree:
        s = _status_kib(p, "VmRSS", "VmHWM")
        total += s["VmRSS"]
        if s["VmHWM"]:
          self.hwm[p] = ("main" if p == self.pid else "worker", s["VmHWM"])
      self.peak_tree_kib = max(self.peak_tree_kib, total)
      self.done.wait(self.interval)


def _busy_cpu_seconds():
  """CPU seconds all processes of the machine have used since boot (/proc/stat)."""
  with open("/proc/stat", encoding="ascii") as f:
    fields = [int(x) for x in f.readline().split()[1:]]
  idle = fields[3] + fields[4]  # idle, iowait
  return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal, not guest


def measure(name, cmd, outputs, log_path, cwd=ROOT):
  """Runs ``cmd`` in ``cwd``; returns a dict of wall seconds, instances and memory."""
  busy = _busy_cpu_seconds()
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  with open(log_path, "w") as log:
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    mem = TreeMemory(proc.pid)
    mem.start()
    rc = proc.wait()
    seconds = time.time() - t0
    mem.done.set()
    mem.join()
  after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child and its reaped workers
  cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  others = max(0.0, _busy_cpu_seconds() - busy - cpu)  # other processes meanwhile
  if rc != 0:
    with open(log_path, encoding="utf-8", errors="replace") as f:
      tail = f.read()[-3000:]
    sys.exit(f"{name} failed (exit {rc}):\n{' '.join(cmd)}\n...\n{tail}")
  instances = sum(1 for path in outputs for _ in read_records(path))
  workers = [kib for kind, kib in mem.hwm.values() if kind == "worker"]
  return {"name": name, "seconds": seconds, "instances": instances, "cpu": cpu, "others": others,
          "rate": instances / seconds, "tree_mib": mem.peak_tree_kib / 1024,
          "largest_mib": max(kib for _, kib in mem.hwm.values()) / 1024,
          "main_mib": next(kib for kind, kib in mem.hwm.values() if kind == "main") / 1024,
          "worker_mib": max(workers, default=0) / 1024, "workers": len(workers)}


def google_script():
  out = subprocess.run([TF1_PY, "-c", "import os, bert; print(os.path.dirname(bert.__file__))"],
                       capture_output=True, text=True, check=True)
  return os.path.join(out.stdout.strip(), "create_pretraining_data.py")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sentences", type=int, default=100_000)
  parser.add_argument("--dupe_factor", type=int, default=5,
                      help="the same for both; 5 keeps Google's run near 3 minutes")
  parser.add_argument("--seed", type=int, default=0, help="corpus generator seed")
  parser.add_argument("--vocab_file", default=os.path.join(ROOT, "create_data", "vocab.txt"))
  parser.add_argument("--sample_dir", default=os.path.join(ROOT, "create_data", "sample"))
  parser.add_argument("--confusion_dir", default=os.path.join(ROOT, "char_meta"))
  parser.add_argument("--mask_probability_file",
                      default=os.path.join(ROOT, "create_data", "mask_probability.sav"))
  parser.add_argument("--num_workers", type=int, default=os.cpu_count() or 1)
  parser.add_argument("--skip_google", action="store_true")
  parser.add_argument("--skip_quarter", action="store_true", help="no RSS run at 1/4 size")
  parser.add_argument("--baseline_root", help="a copy of this repository to run alternately "
                      "with ours (no Google, no quarter run)")
  parser.add_argument("--pairs", type=int, default=3, help="baseline/ours pairs to alternate")
  parser.add_argument("--whole_word_mask", action="store_true",
                      help="ours (and the baseline) with --do_whole_word_mask")
  args = parser.parse_args()
  if args.baseline_root:
    args.skip_google = args.skip_quarter = True
  if not args.skip_google and not os.path.exists(TF1_PY):
    sys.exit("no .venv-tf1: run `bash scripts/setup_tf1_env.sh` (or pass --skip_google)")

  with tempfile.TemporaryDirectory(prefix="tfrec_bench.") as tmp:
    t0 = time.time()
    correct, wrong, docs, chars = make_corpus(tmp, args.sentences, args.seed, args.sample_dir,
                                              args.confusion_dir, args.vocab_file)
    print(f"corpus: {args.sentences} sentences in {docs} documents, {chars} characters "
          f"({os.path.getsize(correct) / 2**20:.1f} MiB), generated in {time.time() - t0:.1f} s")
    print(f"flags:  {' '.join(COMMON_FLAGS)} --dupe_factor={args.dupe_factor}; "
          f"cores {os.cpu_count()}, ours --num_workers {args.num_workers}", flush=True)

    def ours(name, c, w, root=ROOT):
      out = os.path.join(tmp, name.replace("/", "_") + ".tfrecord")
      cmd = [OURS_PY, os.path.join(root, "create_tf_record.py"), f"--input_file={c}",
             f"--wrong_input_file={w}", f"--output_file={out}", f"--vocab_file={args.vocab_file}",
             *COMMON_FLAGS, f"--dupe_factor={args.dupe_factor}",
             f"--mask_probability_file={args.mask_probability_file}",
             f"--confusion_dir={args.confusion_dir}", f"--num_workers={args.num_workers}",
             f"--do_whole_word_mask={args.whole_word_mask}", "--overwrite"]
      return measure(name, cmd, [out], out + ".log", cwd=root)

    runs = []
    if args.baseline_root:
      for pair in range(args.pairs):  # alternate, so both see the same load
        for name, root in (("baseline", os.path.abspath(args.baseline_root)), ("ours", ROOT)):
          runs.append(ours(name, correct, wrong, root))
          print(f"  {name} {pair + 1}/{args.pairs} done in {runs[-1]['seconds']:.1f} s", flush=True)
    if not args.skip_google:
      out = os.path.join(tmp, "google.tfrecord")
      cmd = [TF1_PY, google_script(), f"--input_file={correct}", f"--output_file={out}",
             f"--vocab_file={args.vocab_file}", *COMMON_FLAGS, f"--dupe_factor={args.dupe_factor}"]
      runs.append(measure("google", cmd, [out], os.path.join(tmp, "google.log")))
      print(f"  google done in {runs[-1]['seconds']:.1f} s", flush=True)
    if not args.baseline_root:
      runs.append(ours("ours", correct, wrong))
      print(f"  ours done in {runs[-1]['seconds']:.1f} s", flush=True)
    if not args.skip_quarter:
      quarter = args.sentences // 4
      c4 = head_documents(correct, os.path.join(tmp, "correct4.txt"), quarter)
      w4 = head_documents(wrong, os.path.join(tmp, "wrong4.txt"), quarter)
      runs.append(ours("ours/4", c4, w4))
      print(f"  ours/4 done in {runs[-1]['seconds']:.1f} s", flush=True)

  print()
  print(f"{'run':8} {'wall s':>7} {'cpu s':>7} {'instances':>10} {'inst/s':>8} "
        f"{'inst/cpu-s':>10} {'tree MiB':>9} {'largest':>8} {'main':>6} {'worker':>7} "
        f"{'other s':>7}")
  for r in runs:
    worker = f"{r['worker_mib']:7.0f}" if r["workers"] else f"{'-':>7}"
    print(f"{r['name']:8} {r['seconds']:7.1f} {r['cpu']:7.1f} {r['instances']:10d} "
          f"{r['rate']:8.0f} {r['instances'] / r['cpu']:10.0f} {r['tree_mib']:9.0f} "
          f"{r['largest_mib']:8.0f} {r['main_mib']:6.0f} {worker} {r['others']:7.1f}")
  print("inst/s = instances / wall seconds (start-up included); cpu s = user + sys of the\n"
        "process and its workers; tree MiB = peak of the summed VmRSS of the process tree\n"
        "(sampled every 50 ms); largest, main, worker = VmHWM of the biggest process, the main\n"
        "process, the biggest worker; other s = CPU seconds other processes took meanwhile\n"
        "(not ~0: the machine was shared, and times are slower).")
  if args.baseline_root:
    for key, what in (("seconds", "wall s"), ("cpu", "cpu s")):
      median = {name: statistics.median(r[key] for r in runs if r["name"] == name)
                for name in ("baseline", "ours")}
      print(f"median {what} over {args.pairs} alternating pairs: baseline "
            f"{median['baseline']:.1f}, ours {median['ours']:.1f}; baseline/ours "
            f"{median['baseline'] / median['ours']:.2f}x (> 1: ours is faster)")
  by_name = {r["name"]: r for r in runs}
  if "google" in by_name:
    ratio = by_name["ours"]["rate"] / by_name["google"]["rate"]
    print(f"speed ours/google: {ratio:.1f}x instances/s   (target >= 10x)")
  if "ours/4" in by_name:
    quarter, full = by_name["ours/4"], by_name["ours"]
    print(f"ours peak RSS, {args.sentences // 4} -> {args.sentences} sentences: tree "
          f"{quarter['tree_mib']:.0f} -> {full['tree_mib']:.0f} MiB, largest process "
          f"{quarter['largest_mib']:.0f} -> {full['largest_mib']:.0f} MiB (bounded by "
          f"--chunk_documents, not the corpus)")


if __name__ == "__main__":
  main()
