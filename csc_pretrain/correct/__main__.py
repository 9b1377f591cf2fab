r"""Correct sentences with a pretrained checkpoint, or tune the thresholds.

  python -m csc_pretrain.correct --checkpoint out/pretrain_tiny/stripped --confusion_dir char_meta "患者需要定其复查"
  python -m csc_pretrain.correct --checkpoint ... --input_file in.txt [--output_file out.jsonl]
  python -m csc_pretrain.correct tune --checkpoint ... --dev_file dev.tsv --output thresholds.json

bert_config.json and vocab.txt come from the flags or from next to the checkpoint.
"""

import dataclasses
import json
import logging
import sys
import time

from absl import app, flags

from csc_pretrain.correct import cli
from csc_pretrain.io_utils import InputError, atomic_write, quiet_tensorflow, read_lines, run_cli

FLAGS = flags.FLAGS


def define_flags():
  cli.define_common_flags()
  flags.DEFINE_string("input_file", None, "Batch mode: one sentence a line.")
  flags.DEFINE_string("output_file", None, "Batch mode: JSON lines out (default stdout).")
  flags.DEFINE_string("dev_file", None, "tune: dev pairs, any layout "
                      "csc_pretrain.pair_formats reads (wrong<TAB>correct, JSON, ...).")
  flags.DEFINE_string("output", None, "tune: where to write the thresholds JSON.")


def json_line(result):
  """One JSON line; characters stay readable, but a lone surrogate (from input bytes
  that were not UTF-8) cannot be written as UTF-8, so such a line is escaped."""
  line = json.dumps(result, ensure_ascii=False)
  if any("\ud800" <= ch <= "\udfff" for ch in line):
    line = json.dumps(result)
  return line + "\n"


def main(argv):
  def run():
    args = argv[1:]
    if args and args[0] == "tune":
      from csc_pretrain import pair_formats
      from csc_pretrain.correct import tune
      if not FLAGS.dev_file or not FLAGS.output:
        raise InputError("tune", 0, "needs --dev_file and --output")
      triples = pair_formats.read_triples(FLAGS.dev_file)
      best, m = tune.tune(cli.make_corrector(), triples)
      with atomic_write(FLAGS.output) as f:
        json.dump(dataclasses.asdict(best), f, indent=2)
      print(f"best on {len(triples)} dev pairs: {dataclasses.asdict(best)} -> strict correction "
            f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}; wrote {FLAGS.output}")
      return
    if FLAGS.input_file:
      texts = [line for _, line in read_lines(FLAGS.input_file)]
    elif args:
      texts = args
    else:
      raise InputError("correct", 0, "give sentences as arguments or --input_file")
    corrector = cli.make_corrector()
    start = time.time()
    results = corrector.correct(texts)
    seconds = time.time() - start
    lines = "".join(json_line(r) for r in results)
    if FLAGS.input_file:
      logging.info("corrected %d sentences in %.1f s (%.1f sentences/s), %d edits", len(texts),
                   seconds, len(texts) / max(seconds, 1e-9), sum(len(r["edits"]) for r in results))
    if FLAGS.output_file:
      with atomic_write(FLAGS.output_file) as f:
        f.write(lines)
    else:
      sys.stdout.write(lines)

  run_cli(run)


if __name__ == "__main__":
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  define_flags()
  app.run(main)
