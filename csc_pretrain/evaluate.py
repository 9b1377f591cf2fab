r"""Evaluate spelling correction with a checkpoint; optionally before/after side by side.

  python -m csc_pretrain.evaluate --checkpoint out/pretrain_tiny/stripped \
      --test_file create_data/sample/heldout.tsv --confusion_dir char_meta
  python -m csc_pretrain.evaluate --checkpoint NEW --baseline_checkpoint START --test_file ...
  python -m csc_pretrain.evaluate --checkpoint ... --test_file input.txt --sighan_truth_file truth.txt

Prints sentence-level detection/correction P/R/F1 under the strict convention
and the official SIGHAN tool's, character-level P/R/F1, accuracy and
sentences/s. The last line printed is one JSON object with every figure.
"""

import json
import time

from absl import app, flags

from csc_pretrain.correct.cli import define_common_flags, thresholds_from_flags
from csc_pretrain.io_utils import run_cli

FLAGS = flags.FLAGS


def define_flags():
  define_common_flags()
  flags.DEFINE_string("test_file", None, "wrong<TAB>correct or id<TAB>wrong<TAB>correct; with "
                      "--sighan_truth_file, a SIGHAN input file ((pid=ID)<TAB>sentence).")
  flags.DEFINE_string("sighan_truth_file", None, "SIGHAN truth file (ID, loc, char, ... / ID, 0).")
  flags.DEFINE_string("baseline_checkpoint", None, "Also evaluate this one (e.g. the checkpoint "
                      "pretraining started from) and print the deltas.")
  flags.DEFINE_string("baseline_bert_config_file", None, "Default: --bert_config_file's rule.")
  flags.DEFINE_string("baseline_vocab_file", None, "Default: --vocab_file's rule.")
  flags.mark_flag_as_required("test_file")


def run_one(checkpoint, bert_config_file, vocab_file, triples):
  from csc_pretrain.correct import metrics
  from csc_pretrain.correct.corrector import Corrector
  corrector = Corrector(checkpoint, bert_config_file, vocab_file, FLAGS.confusion_dir,
                        thresholds_from_flags(), FLAGS.max_seq_length, FLAGS.batch_size)
  corrector.correct([triples[0][1]])  # trace the model once, outside the timing
  t = time.time()
  results = corrector.correct([w for _, w, _ in triples])
  seconds = time.time() - t
  m = metrics.evaluate([(w, c, r["corrected"]) for (_, w, c), r in zip(triples, results)])
  m["sentences_per_second"] = len(triples) / seconds if seconds else 0.0
  m["checkpoint"] = corrector.prefix
  return m


FIGURES = [("strict_detection", "sentence detection, strict"),
           ("strict_correction", "sentence correction, strict"),
           ("sighan_detection", "sentence detection, SIGHAN tool"),
           ("sighan_correction", "sentence correction, SIGHAN tool"),
           ("char_detection", "character detection"),
           ("char_correction", "character correction")]


def report(results, baseline=None):
  head = f"{'':36s}{'P':>8s}{'R':>8s}{'F1':>8s}"
  if baseline:
    head += f"   | baseline{'P':>5s}{'R':>8s}{'F1':>8s}   | delta F1"
  print(head)
  for key, label in FIGURES:
    row = f"{label:36s}" + "".join(f"{results[key][k]:8.3f}" for k in ("precision", "recall", "f1"))
    if baseline:
      row += "   |         " + "".join(f"{baseline[key][k]:8.3f}" for k in ("precision", "recall", "f1"))
      row += f"   | {results[key]['f1'] - baseline[key]['f1']:+.3f}"
    print(row)
  for key in ("sentence_accuracy", "sentences_per_second"):
    line = f"{key:36s}{results[key]:8.3f}"
    if baseline:
      line += f"   | baseline {baseline[key]:8.3f}   | delta {results[key] - baseline[key]:+.3f}"
    print(line)
  print(f"SIGHAN tool: accuracy {results['sighan_correction']['accuracy']:.3f}, false positive rate "
        f"{results['sighan_correction']['false_positive_rate']:.3f}; {results['sentences']} sentences, "
        f"{results['erroneous_sentences']} with errors")


def main(argv):
  del argv

  def run():
    from csc_pretrain.correct import data
    triples = (data.read_sighan(FLAGS.test_file, FLAGS.sighan_truth_file) if FLAGS.sighan_truth_file
               else data.read_pairs(FLAGS.test_file))
    results = run_one(FLAGS.checkpoint, FLAGS.bert_config_file, FLAGS.vocab_file, triples)
    baseline = None
    if FLAGS.baseline_checkpoint:
      baseline = run_one(FLAGS.baseline_checkpoint,
                         FLAGS.baseline_bert_config_file or FLAGS.bert_config_file,
                         FLAGS.baseline_vocab_file or FLAGS.vocab_file, triples)
    report(results, baseline)
    summary = dict(results)
    if baseline:
      summary = {"pretrained": results, "baseline": baseline,
                 "delta_f1": {k: results[k]["f1"] - baseline[k]["f1"] for k, _ in FIGURES}}
    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))

  run_cli(run)


if __name__ == "__main__":
  define_flags()
  app.run(main)
