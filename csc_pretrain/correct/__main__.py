r"""Correct sentences with a pretrained checkpoint, or tune the thresholds.

  python -m csc_pretrain.correct --checkpoint out/pretrain_tiny/stripped --confusion_dir char_meta "患者需要定其复查"
  python -m csc_pretrain.correct --checkpoint ... --input_file in.txt [--output_file out.jsonl]
  python -m csc_pretrain.correct tune --checkpoint ... --dev_file dev.tsv --output thresholds.json
  python -m csc_pretrain.correct tune --checkpoint ... --dev_file dev.tsv --clean_file clean.txt \
      --max_fpr 0.05 [--decoder fitted] --output thresholds.json      # best recall within the budget

bert_config.json and vocab.txt come from the flags or from next to the checkpoint.
"""

import json
import logging
import os
import sys
import time

from absl import app, flags

from csc_pretrain.correct import cli
from csc_pretrain.io_utils import (InputError, atomic_write, check_range, quiet_tensorflow,
                                   read_lines, run_cli)

FLAGS = flags.FLAGS


def define_flags():
  cli.define_common_flags()
  flags.DEFINE_string("input_file", None, "Batch mode: one sentence a line.")
  flags.DEFINE_string("output_file", None, "Batch mode: JSON lines out (default stdout).")
  flags.DEFINE_string("dev_file", None, "tune: dev pairs, any layout "
                      "csc_pretrain.pair_formats reads (wrong<TAB>correct, JSON, ...).")
  flags.DEFINE_string("output", None, "tune: where to write the thresholds JSON.")
  flags.DEFINE_string("clean_file", None, "tune: correct in-domain sentences (comma-separated "
                      "files, any layout: the correct side is used) on which the false-positive "
                      "rate is measured. Default with a budget: the dev pairs' correct sides.")
  flags.DEFINE_float("max_fpr", None, "tune: false-positive budget, the share of clean sentences "
                     "changed; the best recall within it is chosen.")
  flags.DEFINE_float("max_changes_per_1000", None, "tune: budget of changed characters per 1,000 "
                     "clean characters (with or instead of --max_fpr).")
  flags.DEFINE_string("plot", None, "tune: the recall-vs-FPR PNG (default: next to --output, "
                      "when there are clean sentences).")
  flags.DEFINE_bool("per_char", True, "tune --decoder fitted: also learn per-character "
                    "adjustments (stricter for characters over-corrected on clean text).")


def json_line(result):
  """One JSON line; characters stay readable, but a lone surrogate (from input bytes
  that were not UTF-8) cannot be written as UTF-8, so such a line is escaped."""
  line = json.dumps(result, ensure_ascii=False)
  if any("\ud800" <= ch <= "\udfff" for ch in line):
    line = json.dumps(result)
  return line + "\n"


def run_tune():
  from csc_pretrain import evaluate, pair_formats
  from csc_pretrain.correct import tune
  from csc_pretrain.correct.corrector import Thresholds
  if not FLAGS.dev_file or not FLAGS.output:
    raise InputError("tune", 0, "needs --dev_file and --output")
  check_range("--max_fpr", FLAGS.max_fpr, 0, 1)
  check_range("--max_changes_per_1000", FLAGS.max_changes_per_1000, 0, 1000)
  budget = FLAGS.max_fpr is not None or FLAGS.max_changes_per_1000 is not None
  decoder_name = FLAGS.decoder or "threshold"
  constraints = cli.constraints_from_flags()  # bad lines fail before anything is read
  triples = pair_formats.read_triples(FLAGS.dev_file)
  if not (budget or FLAGS.clean_file or decoder_name == "fitted"):
    # The original objective: the best F1, three numbers out.
    cli.check_common_flags()
    best, m = tune.tune(cli.make_corrector(Thresholds(), constraints), triples)
    with atomic_write(FLAGS.output) as f:
      json.dump(best.to_json(), f, indent=2)
    print(f"best on {len(triples)} dev pairs: {best.to_json()} -> strict correction "
          f"P {m['precision']:.3f} R {m['recall']:.3f} F1 {m['f1']:.3f}; wrote {FLAGS.output}")
    return
  if FLAGS.clean_file:
    clean = [s for path in FLAGS.clean_file.split(",") if path
             for s in evaluate.load_clean(path)[0]]
    source = FLAGS.clean_file
  else:
    clean = [c for _, _, c in triples]
    source = f"the correct side of {FLAGS.dev_file}"
  cli.check_common_flags()
  corrector = cli.make_corrector(Thresholds(top_k=max(tune.TOP_KS)), constraints)
  dev = tune.DevData.read(corrector, triples, clean)
  result = tune.calibrate(corrector, dev, FLAGS.max_fpr, FLAGS.max_changes_per_1000,
                          decoder_name, FLAGS.per_char)
  result.thresholds.calibration["clean_source"] = source
  print(f"{len(triples)} dev pairs; false-positive rate on {len(clean)} clean sentences "
        f"({source})\n")
  print(tune.report(result))
  plot = FLAGS.plot or os.path.splitext(FLAGS.output)[0] + ".png"
  labels = {"threshold": "threshold rule", "fitted": "fitted decoder"}
  tune.plot_curves({labels[k]: v for k, v in result.curves.items()}, plot, FLAGS.max_fpr,
                   {labels[k]: v for k, v in result.chosen.items()})
  with atomic_write(FLAGS.output) as f:
    json.dump(result.thresholds.to_json(), f, indent=2, ensure_ascii=False)
  print(f"wrote {FLAGS.output} (decoder {decoder_name}) and {plot}")


def main(argv):
  def run():
    args = argv[1:]
    if args and args[0] == "tune":
      return run_tune()
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
