r"""Correct sentences with a pretrained checkpoint; tune the thresholds; evaluate; serve.

  python -m csc_pretrain.correct --checkpoint out/pretrain_tiny/stripped --confusion_dir char_meta "患者需要定其复查"
  python -m csc_pretrain.correct --checkpoint ... --input_file in.txt [--output_file out.jsonl]
  python -m csc_pretrain.correct tune --checkpoint ... --dev_file dev.tsv --output thresholds.json
  python -m csc_pretrain.correct tune --checkpoint ... --dev_file dev.tsv --clean_file clean.txt \
      --max_fpr 0.05 [--decoder fitted] --output thresholds.json      # best recall within the budget
  python -m csc_pretrain.correct evaluate --checkpoint ... --test_file heldout.tsv   # evaluate.py
  python -m csc_pretrain.correct serve --checkpoint ... [--port 5000]                # serve.py

``evaluate`` and ``serve`` have flags of their own and come first on the command
line; correcting and ``tune`` share one set of flags (``tune`` may follow them).
bert_config.json and vocab.txt come from the flags or from next to the checkpoint.

The flags of every command fill a frozen config (the field names are the flag
names): config.CorrectorConfig for the shared ones, then batch.CorrectConfig,
tune.TuneConfig, evaluate.EvaluateConfig or serve.ServeConfig, which the
command's ``run`` takes. This module holds only the flag tables (io_utils.define_flag_table
and flag_values turn them into flags and back); no library reads absl's FLAGS.
"""

import sys

from absl import app, flags

from csc_pretrain import pair_formats
from csc_pretrain.correct import batch, evaluate, serve, tune
from csc_pretrain.correct.config import CorrectorConfig
from csc_pretrain.io_utils import define_flag_table, flag_values, quiet_tensorflow, run_cli

# name, kind, help[, enum values]. Defaults come from the config dataclass the flags fill.
CORRECTOR_FLAGS = (
    ("checkpoint", "string", "Checkpoint prefix, model.ckpt-N or directory."),
    ("bert_config_file", "string", "Default: bert_config.json next to the checkpoint."),
    ("vocab_file", "string", "Default: vocab.txt next to the checkpoint."),
    ("confusion_dir", "string", "char_meta output: only its candidates may replace a "
     "character (recommended)."),
    ("thresholds", "string", "JSON from `tune` (min_prob, margin, top_k)."),
    ("min_prob", "float", "Override: a candidate's least probability."),
    ("margin", "float", "Override: how much it must beat the original's probability."),
    ("top_k", "integer", "Override: candidates read per position."),
    ("decoder", "enum", "Override the thresholds file's rule: threshold (min_prob/margin) or "
     "fitted (the confidence-similarity boundary `tune --decoder fitted` wrote). Default: the "
     "file's, else threshold.", ["threshold", "fitted"]),
    ("protect", "string", "Words, or regexes written re:PATTERN, one a line, never edited "
     "inside (drug names, legal terms, product codes)."),
    ("lexicon", "string", "Domain words, one a line: a correction that breaks one is refused, "
     "one that makes one is favoured. `jieba`: jieba's dictionary; `jieba,FILE`: both."),
    ("second_pass", "bool", "Read corrected sentences again; keep a new edit only next to a "
     "first-round edit (two-character errors)."),
    ("max_seq_length", "integer", "Longer texts are corrected in windows. Default: 128, or the "
     "model's max_position_embeddings when that is less."),
    ("batch_size", "integer", "Sentences per model call."),
)


CORRECT_FLAGS = (
    ("input_file", "string", "Batch mode: one sentence a line."),
    ("output_file", "string", "Batch mode: JSON lines out (default stdout)."),
)

TUNE_FLAGS = (
    ("dev_file", "string", "tune: dev pairs, any layout csc_pretrain.pair_formats reads "
     "(wrong<TAB>correct, JSON, ...)."),
    ("output", "string", "tune: where to write the thresholds JSON."),
    ("clean_file", "string", "tune: correct in-domain sentences (comma-separated files, any "
     "layout: the correct side is used) on which the false-positive rate is measured. Default "
     "with a budget: the dev pairs' correct sides."),
    ("max_fpr", "float", "tune: false-positive budget, the share of clean sentences changed; "
     "the best recall within it is chosen."),
    ("max_changes_per_1000", "float", "tune: budget of changed characters per 1,000 clean "
     "characters (with or instead of --max_fpr)."),
    ("plot", "string", "tune: the recall-vs-FPR PNG (default: next to --output, when there are "
     "clean sentences)."),
    ("per_char", "bool", "tune --decoder fitted: also learn per-character adjustments "
     "(stricter for characters over-corrected on clean text)."),
)

EVALUATE_FLAGS = (
    ("test_file", "string", "Test pairs, comma-separated for several (one report row each plus "
     "the total); any layout of --format. With --sighan_truth_file, SIGHAN input files "
     "((pid=ID)<TAB>sentence)."),
    ("sighan_truth_file", "string", "SIGHAN truth file(s) (ID, loc, char, ... / ID, 0), "
     "comma-separated, one per --test_file."),
    ("format", "enum", "Layout of --test_file and --clean_file (auto: detected per file).",
     list(pair_formats.FORMATS)),
    ("t2s", "bool", "Convert traditional to simplified Chinese, character by character "
     "(positions stay)."),
    ("strict_input", "bool", "Fail on the first bad pair (file:line) instead of skipping and "
     "counting it."),
    ("result_file", "string", "Write the predictions in the official SIGHAN result format (ID, "
     "loc, char, ... / ID, 0; 1-based); ids are generated for layouts without them."),
    ("clean_file", "string", "Correct sentences (comma-separated files, any layout: the correct "
     "side is used): measures over-correction."),
    ("baseline_checkpoint", "string", "Also evaluate this one (e.g. the checkpoint pretraining "
     "started from) and print the deltas."),
    ("baseline_bert_config_file", "string", "Default: --bert_config_file's rule."),
    ("baseline_vocab_file", "string", "Default: --vocab_file's rule."),
)

SERVE_FLAGS = (
    ("host", "string", "Address to listen on."),
    ("port", "integer", "Port to listen on."),
    ("max_chars", "integer", "Longest text accepted."),
    ("max_batch", "integer", "Most texts per POST."),
    ("quiet", "bool", "No access log."),
)


def _corrector_config():
  return CorrectorConfig(**flag_values(CORRECTOR_FLAGS))


def define_flags():
  """The flags of correcting and of ``tune``."""
  define_flag_table(CORRECTOR_FLAGS, CorrectorConfig)
  define_flag_table(CORRECT_FLAGS, batch.CorrectConfig)
  define_flag_table(TUNE_FLAGS, tune.TuneConfig)
  flags.mark_flag_as_required("checkpoint")


def define_evaluate_flags():
  define_flag_table(CORRECTOR_FLAGS, CorrectorConfig)
  define_flag_table(EVALUATE_FLAGS, evaluate.EvaluateConfig)
  flags.mark_flag_as_required("checkpoint")
  flags.mark_flag_as_required("test_file")


def define_serve_flags():
  define_flag_table(CORRECTOR_FLAGS, CorrectorConfig)
  define_flag_table(SERVE_FLAGS, serve.ServeConfig)
  flags.mark_flag_as_required("checkpoint")


# --- the commands ---------------------------------------------------------------------------------

def main(argv):
  """Correcting, or ``tune`` when that is the first argument left after the flags."""
  args = argv[1:]
  if args and args[0] == "tune":
    cfg = tune.TuneConfig(corrector=_corrector_config(), **flag_values(TUNE_FLAGS))
    run_cli(lambda: tune.run(cfg))
  else:
    cfg = batch.CorrectConfig(corrector=_corrector_config(), texts=tuple(args),
                              **flag_values(CORRECT_FLAGS))
    run_cli(lambda: batch.run(cfg))


def evaluate_main(argv):
  del argv
  cfg = evaluate.EvaluateConfig(corrector=_corrector_config(), **flag_values(EVALUATE_FLAGS))
  run_cli(lambda: evaluate.run(cfg))


def serve_main(argv):
  del argv
  cfg = serve.ServeConfig(corrector=_corrector_config(), **flag_values(SERVE_FLAGS))
  run_cli(lambda: serve.run(cfg))


COMMANDS = {"evaluate": (define_evaluate_flags, evaluate_main),
            "serve": (define_serve_flags, serve_main)}


def cli():
  """The console entry point (`csc-correct` once the package is installed)."""
  quiet_tensorflow()  # before define_flags, which may load TensorFlow
  if sys.argv[1:2] and sys.argv[1] in COMMANDS:
    define, command_main = COMMANDS[sys.argv[1]]
    define()
    app.run(command_main, argv=sys.argv[:1] + sys.argv[2:])
  else:
    define_flags()
    app.run(main)


if __name__ == "__main__":
  cli()
