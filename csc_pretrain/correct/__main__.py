r"""Correct sentences with a pretrained checkpoint, or tune the thresholds.

  python -m csc_pretrain.correct --checkpoint out/pretrain_tiny/stripped --confusion_dir char_meta "患者需要定其复查"
  python -m csc_pretrain.correct --checkpoint ... --input_file in.txt [--output_file out.jsonl]
  python -m csc_pretrain.correct tune --checkpoint ... --dev_file dev.tsv --output thresholds.json

bert_config.json and vocab.txt come from the flags or from next to the checkpoint.
"""

import dataclasses
import json
import sys

from absl import app, flags

from csc_pretrain.correct import cli
from csc_pretrain.io_utils import InputError, atomic_write, read_lines, run_cli

FLAGS = flags.FLAGS


def define_flags():
  cli.define_common_flags()
  flags.DEFINE_string("input_file", None, "Batch mode: one sentence a line.")
  flags.DEFINE_string("output_file", None, "Batch mode: JSON lines out (default stdout).")
  flags.DEFINE_string("dev_file", None, "tune: wrong<TAB>correct pairs.")
  flags.DEFINE_string("output", None, "tune: where to write the thresholds JSON.")


def main(argv):
  def run():
    args = argv[1:]
    if args and args[0] == "tune":
      from csc_pretrain.correct import data, tune
      if not FLAGS.dev_file or not FLAGS.output:
        raise InputError("tune", 0, "needs --dev_file and --output")
      triples = data.read_pairs(FLAGS.dev_file)
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
    results = cli.make_corrector().correct(texts)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    if FLAGS.output_file:
      with atomic_write(FLAGS.output_file) as f:
        f.write(lines)
    else:
      sys.stdout.write(lines)

  run_cli(run)


if __name__ == "__main__":
  define_flags()
  app.run(main)
