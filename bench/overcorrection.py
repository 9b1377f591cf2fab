"""Over-correction under control, measured at tiny scale on the SIGHAN training data.

  python bench/overcorrection.py [--sighan_dir ../shared/data/sighan] [--steps 2500]
      [--max_seq_length 64] [--work_dir /tmp/csc_bench_overcorrection] [--max_fpr 0.2]
      [--recipe half_kept|every_position]

The whole pipeline, small: char_meta on the characters at hand (with the 14+15
error pairs as observed confusions and ranking prior), records from the SIGHAN
2014+2015 training pairs, a tiny BERT (configs/bert_config_tiny.json) trained from
scratch on CPU. Outputs are kept under --work_dir and reused by a rerun with the
same settings. Then, on that model, SIGHAN 2013 in two halves (even / odd lines),
each in turn the dev half and the other the test half:

  fit        the decoder is fitted on the dev half's pairs, their correct sides as
             clean negatives (and, for comparison, on a sample of the 14+15 pairs the
             model trained on: it memorised those, so a decoder fitted there trusts
             the model too much);
  calibrate  every rule is calibrated on the dev half (FPR budget --max_fpr on its
             correct sides);
  test       on the test half: strict correction F1 on the pairs, FPR (share of
             sentences changed) and changed characters per 1,000 on their correct
             sides; the two test halves are pooled.

Rows: the old rule (the default thresholds), the thresholds calibrated to the
budget, the fitted decoder, the decoder with per-character adjustments, the
decoder fitted on the training pairs, and the calibrated thresholds and the
fitted decoder again with ``--lexicon jieba`` (constraints.py: no edit inside a
word of jieba's dictionary, word-making candidates favoured).
The SIGHAN data is read in place from ../shared/data, never copied into the
repository; without it the script says so and exits 0.
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from csc_pretrain.io_utils import quiet_tensorflow  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SIGHAN = os.path.join(HERE, "..", "..", "shared", "data", "sighan")
SENTENCES_PER_DOCUMENT = 8
FREQUENT_CHARS = 3500  # most frequent characters added to the charset and the vocab
FIT_PAIRS = 1500       # 14+15 pairs the decoder is fitted on
# How the records are masked (--recipe). "half_kept": up to 10 predicted positions a
# window (the stage's masked_lm_prob 0.15) and half of the extra ones keep their
# character. With the stage's default (keep 0.15), a tiny BERT trained from scratch on
# these 5,800 pairs learns that a masked-looking character is usually a slip and
# changes every confusable one (old rule: FPR 1.0 on SIGHAN 13, F1 0).
# "every_position": every position is predicted and nine in ten keep their character,
# so the model learns from every character how rarely one is wrong (the old rule's
# FPR falls from 0.99 to 0.62 at 2,500 steps), at about twice the training time.
RECIPES = {
    "half_kept": dict(masked_lm_prob=0.15, max_predictions=10, proportions={
        "same_pinyin": 0.2, "similar_pinyin": 0.15, "visual": 0.1, "random": 0.05,
        "keep": 0.5, "mask": 0.0}),
    "every_position": dict(masked_lm_prob=1.0, max_predictions=None, proportions={
        "same_pinyin": 0.04, "similar_pinyin": 0.03, "visual": 0.02, "random": 0.01,
        "keep": 0.9, "mask": 0.0}),
}


def read_pairs(sighan_dir, name):
  from csc_pretrain.io_utils import read_lines
  wrong = [t for _, t in read_lines(os.path.join(sighan_dir, f"train{name}_error.txt"))]
  correct = [t for _, t in read_lines(os.path.join(sighan_dir, f"train{name}_correct.txt"))]
  return [(w, c) for w, c in zip(wrong, correct) if len(w) == len(c) and w.strip()]


def write_documents(path, sentences):
  """create_tf_record's layout: a sentence a line, a blank line between documents."""
  with open(path, "w", encoding="utf-8") as f:
    for i in range(0, len(sentences), SENTENCES_PER_DOCUMENT):
      f.write("\n".join(sentences[i:i + SENTENCES_PER_DOCUMENT]) + "\n\n")


def step(message, start):
  print(f"[{time.time() - start:6.0f} s] {message}", flush=True)


def build_model(args, train_pairs, work, start):
  """char_meta, vocab, records and a trained tiny BERT under ``work``; returns
  (model directory, char_meta directory). A finished step is not redone."""
  import subprocess
  from csc_pretrain.char_meta import formats
  from csc_pretrain.create_tf_record import build as record_build
  from csc_pretrain.create_tf_record import instances
  from csc_pretrain.bert.tokenization import build_vocab
  from csc_pretrain.run_pretraining import train

  frequency = formats.load_frequency_list(formats.default_frequency_file())
  frequent = sorted(frequency, key=lambda c: -frequency[c])[:FREQUENT_CHARS]
  text_chars = {ch for w, c in train_pairs for ch in w + c}
  cm = os.path.join(work, "char_meta")
  if not os.path.exists(os.path.join(cm, "confusion_sets.tsv")):
    with open(os.path.join(work, "charset.txt"), "w", encoding="utf-8") as f:
      f.write("".join(sorted(text_chars | set(frequent))) + "\n")
    observed = {}
    for w, c in train_pairs:
      for a, b in zip(w, c):
        if a != b:
          observed[(a, b)] = observed.get((a, b), 0) + 1
    with open(os.path.join(work, "observed.tsv"), "w", encoding="utf-8") as f:
      f.write(formats.observed_confusions_text(observed, "SIGHAN 2014+2015 training pairs"))
    step("char_meta on the charset, 14+15 pairs as observed confusions and prior", start)
    subprocess.run([sys.executable, "-m", "csc_pretrain.char_meta", "--output_dir", cm,
                    "--charset", os.path.join(work, "charset.txt"), "--observed",
                    os.path.join(work, "observed.tsv"), "--top_k", "30", "--overwrite",
                    # The shipped prior counts include SIGHAN 2013, the test set here.
                    "--prior_file", os.path.join(work, "observed.tsv")],
                   check=True, cwd=os.path.join(HERE, ".."))
  # Records per window length, a model per number of steps: a rerun reuses what fits.
  recipe = RECIPES[args.recipe]
  # [CLS] and [SEP] are never predicted.
  predictions = recipe["max_predictions"] or args.max_seq_length - 2
  run = os.path.join(work, f"seq{args.max_seq_length}_dupe{args.dupe_factor}_{args.recipe}")
  os.makedirs(run, exist_ok=True)
  model = os.path.join(run, f"model_{args.steps}_steps")
  records = os.path.join(run, "train.tfrecord")
  vocab_path = os.path.join(run, "vocab.txt")
  config_path = os.path.join(run, "bert_config.json")
  if not os.path.exists(records):
    write_documents(os.path.join(run, "correct.txt"), [c for _, c in train_pairs])
    write_documents(os.path.join(run, "wrong.txt"), [w for w, _ in train_pairs])
    vocab = build_vocab([c for _, c in train_pairs], {ch: 1 for ch in frequent})
    with open(vocab_path, "w", encoding="utf-8") as f:
      f.write("\n".join(vocab) + "\n")
    with open(os.path.join(HERE, "..", "configs", "bert_config_tiny.json"), encoding="utf-8") as f:
      config = json.load(f)
    config.update(vocab_size=len(vocab), max_position_embeddings=args.max_seq_length)
    with open(config_path, "w", encoding="utf-8") as f:
      json.dump(config, f, indent=2)
    step(f"records from {len(train_pairs)} pairs, vocab {len(vocab)}", start)
    record_build.build(os.path.join(run, "correct.txt"), records, vocab_path,
                       wrong_input_file=os.path.join(run, "wrong.txt"), confusion_dir=cm,
                       dupe_factor=args.dupe_factor, num_workers=1, overwrite=True,
                       progress_bar=False,
                       config=instances.MaskingConfig(max_seq_length=args.max_seq_length,
                                                      max_predictions_per_seq=predictions,
                                                      masked_lm_prob=recipe["masked_lm_prob"],
                                                      single_segment=True,
                                                      proportions=dict(recipe["proportions"])))
  if not os.path.exists(os.path.join(model, f"model.ckpt-{args.steps}.index")):
    step(f"training a tiny BERT for {args.steps} steps", start)
    train.run(train.RunConfig(bert_config_file=config_path, input_file=records, output_dir=model,
                              max_seq_length=args.max_seq_length,
                              max_predictions_per_seq=predictions,
                              train_batch_size=32, learning_rate=1e-3,
                              num_train_steps=args.steps, num_warmup_steps=args.steps // 10,
                              save_checkpoints_steps=args.steps, use_nsp=False,
                              log_every_steps=250, progress_bar=False))
    for src in (config_path, vocab_path):
      with open(src, encoding="utf-8") as f, \
          open(os.path.join(model, os.path.basename(src)), "w", encoding="utf-8") as g:
        g.write(f.read())
  return model, cm


def rules_for(corrector, dev, fit_dev, max_fpr, suffix=""):
  """{row name: (Thresholds, within budget)}, every rule calibrated on ``dev``: the old
  rule, the thresholds calibrated to the budget, the decoder fitted on ``dev`` (with
  and without per-character adjustments), and the decoder fitted on ``fit_dev``.
  With a ``suffix`` to the row names (the corrector has a lexicon, and the suffix
  says which), the calibrated thresholds and the decoder fitted on ``dev`` only."""
  from csc_pretrain.correct import tune
  from csc_pretrain.correct.corrector import Thresholds
  rules = {} if suffix else {"old rule (min_prob 0.3, margin 0.1)": (Thresholds(), True)}
  best, ok = tune.pick(tune.threshold_points(corrector, dev), max_fpr)
  rules["calibrated thresholds" + suffix] = (tune.rule(best), ok)
  fits = [("fitted decoder", dev, False)]
  if not suffix:
    fits += [("fitted decoder + per-char", dev, True),
             ("fitted decoder, fitted on the training pairs", fit_dev, False)]
  for name, data, per_char in fits:
    fitted = tune.fit_decoder(corrector, data, per_char=per_char)
    chosen, ok = tune.pick(tune.fitted_points(corrector, dev, fitted), max_fpr)
    rules[name + suffix] = (tune.rule(chosen, fitted), ok)
  return rules


def predictions(corrector, th, test):
  """(wrong, correct, predicted) of the test pairs and (clean, cleaned) of its clean side."""
  predicted = [corrector.decide(c, th)[0] for c in test.dev_cands]
  cleaned = [corrector.decide(c, th)[0] for c in test.clean_cands]
  return ([(w, c, p) for (_, w, c), p in zip(test.triples, predicted)],
          list(zip(test.clean, cleaned)))


def figures(pairs, clean):
  from csc_pretrain.correct import metrics
  m = metrics.evaluate(pairs)
  o = metrics.overcorrection([s for s, _ in clean], [c for _, c in clean])
  return {"P": m["strict_correction"]["precision"], "R": m["strict_correction"]["recall"],
          "F1": m["strict_correction"]["f1"], "sighan_F1": m["sighan_correction"]["f1"],
          "FPR": o["changed_sentence_share"], "per_1000": o["changed_per_1000_characters"]}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sighan_dir", default=DEFAULT_SIGHAN)
  # Outside the repository: the work files hold the SIGHAN sentences.
  parser.add_argument("--work_dir", default=os.path.join(tempfile.gettempdir(),
                                                         "csc_bench_overcorrection"))
  parser.add_argument("--steps", type=int, default=2500)
  parser.add_argument("--dupe_factor", type=int, default=2)
  parser.add_argument("--max_seq_length", type=int, default=64,
                      help="training windows; longer sentences are corrected in windows too")
  parser.add_argument("--max_fpr", type=float, default=0.2)
  parser.add_argument("--recipe", choices=sorted(RECIPES), default="half_kept",
                      help="how the training records are masked (see RECIPES)")
  args = parser.parse_args()
  needed = [os.path.join(args.sighan_dir, f"train{n}_{side}.txt")
            for n in ("13", "14", "15") for side in ("error", "correct")]
  missing = [p for p in needed if not os.path.exists(p)]
  if missing:
    print(f"skipped: the SIGHAN training data is not at {args.sighan_dir} "
          f"(missing {os.path.basename(missing[0])}); see ../shared/data/README.md")
    return 0
  quiet_tensorflow()
  from absl import logging
  logging.set_verbosity(logging.INFO)  # training prints its loss every 100 steps
  from csc_pretrain.correct import tune
  from csc_pretrain.correct.constraints import JIEBA, Constraints
  from csc_pretrain.correct.corrector import Corrector

  start = time.time()
  os.makedirs(args.work_dir, exist_ok=True)
  train_pairs = read_pairs(args.sighan_dir, "14") + read_pairs(args.sighan_dir, "15")
  sighan13 = read_pairs(args.sighan_dir, "13")
  model, cm = build_model(args, train_pairs, args.work_dir, start)

  plain = Corrector(model, confusion_dir=cm, max_seq_length=args.max_seq_length, batch_size=64)
  general = Corrector(model, confusion_dir=cm, max_seq_length=args.max_seq_length, batch_size=64,
                      constraints=Constraints.from_files(None, JIEBA))
  rng = random.Random(0)
  fit_pairs = rng.sample(train_pairs, min(FIT_PAIRS, len(train_pairs)))
  triples = lambda pairs: [(str(i), w, c) for i, (w, c) in enumerate(pairs)]  # noqa: E731
  halves = [triples(sighan13[0::2]), triples(sighan13[1::2])]
  step(f"model outputs: SIGHAN 2013 in two halves of {len(halves[0])} and {len(halves[1])} "
       f"pairs, {len(fit_pairs)} training pairs (14+15)", start)
  fit_dev = tune.DevData.read(plain, triples(fit_pairs), [c for _, c in fit_pairs])
  setups = []  # (corrector, the two halves read by it, row name suffix)
  for corrector, suffix in ((plain, ""), (general, ", --lexicon jieba")):
    setups.append((corrector, [tune.DevData.read(corrector, h, [c for _, _, c in h])
                               for h in halves], suffix))

  # Two folds: each half is the dev set (fit, calibrate) of the rules tested on the other.
  pooled, outside = {}, {}
  for fold in (0, 1):
    step(f"fold {fold + 1}: fitting and calibrating on half {fold + 1}", start)
    for corrector, devs, suffix in setups:
      rules = rules_for(corrector, devs[fold], fit_dev, args.max_fpr, suffix)
      for name, (th, ok) in rules.items():
        pairs, clean = predictions(corrector, th, devs[1 - fold])
        got = pooled.setdefault(name, ([], []))
        got[0].extend(pairs)
        got[1].extend(clean)
        if not ok:
          outside.setdefault(name, []).append(fold + 1)
      print()
      print(rules["fitted decoder" + suffix][0].fitted.describe())
  n = sum(len(h) for h in halves)
  print(f"\nSIGHAN 2013, both halves ({n} pairs; FPR and changes on their {n} correct "
        f"sides), each tested with the rules fitted and calibrated to FPR <= {args.max_fpr} "
        f"on the other half; tiny BERT, {args.steps} steps of 32 x {args.max_seq_length} "
        f"tokens on 14+15 ({args.recipe} masking); {time.time() - start:.0f} s in all\n")
  print("| rule | P | R | F1 | SIGHAN-tool F1 | FPR | changes / 1,000 chars |")
  print("|---|---|---|---|---|---|---|")
  for name, (pairs, clean) in pooled.items():
    r = figures(pairs, clean)
    print(f"| {name} | {r['P']:.3f} | {r['R']:.3f} | {r['F1']:.3f} | {r['sighan_F1']:.3f} | "
          f"{r['FPR']:.3f} | {r['per_1000']:.2f} |")
  for name, folds in outside.items():
    print(f"{name}: no setting was within FPR {args.max_fpr} on the dev half of fold(s) "
          f"{folds}; the lowest-FPR one is used")
  return 0


if __name__ == "__main__":
  sys.exit(main())
