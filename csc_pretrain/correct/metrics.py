"""CSC evaluation metrics, sentence level under two conventions and character level.

For each sentence, gold edits G = {(i, c) : wrong[i] != correct[i]} and predicted
edits P = {(i, c) : prediction[i] != wrong[i]}.

strict (the common convention in CSC papers since 2020): every sentence the
  system changes is a predicted positive, so a change on a correct sentence and
  a wrong change on an erroneous sentence both cost precision.
    detection TP: G non-empty and positions(P) == positions(G)
    correction TP: G non-empty and P == G
    precision = TP / #changed sentences, recall = TP / #erroneous sentences.

sighan (the official SIGHAN 2013-15 tool): a sentence-level confusion matrix
  where only changes on *correct* sentences are false positives; a wrong change
  on an erroneous sentence is a false negative, not a false positive:
    TP as above, FP = correct sentences changed, FN = erroneous sentences not
    TP, TN = correct sentences left alone;
    precision = TP / (TP + FP), recall = TP / (TP + FN), accuracy, false positive rate.

character level: micro precision/recall/F1 of positions (detection) and of
  (position, character) pairs (correction) over all sentences.
"""


def _f1(p, r):
  return 2 * p * r / (p + r) if p + r else 0.0


def _prf(tp, predicted, gold):
  p = tp / predicted if predicted else 0.0
  r = tp / gold if gold else 0.0
  return {"precision": p, "recall": r, "f1": _f1(p, r)}


def edits(source, target):
  if len(source) != len(target):
    raise ValueError(f"lengths differ: {len(source)} vs {len(target)}")
  return {(i, t) for i, (s, t) in enumerate(zip(source, target)) if s != t}


def evaluate(triples):
  """Metrics for [(wrong, correct, predicted)], all three the same length each."""
  n = len(triples)
  changed = erroneous = 0
  det_tp = cor_tp = 0
  fp = tn = 0
  char = {"det_tp": 0, "cor_tp": 0, "pred": 0, "gold": 0}
  exact = 0
  for wrong, correct, predicted in triples:
    gold, pred = edits(wrong, correct), edits(wrong, predicted)
    exact += predicted == correct
    gold_pos, pred_pos = {i for i, _ in gold}, {i for i, _ in pred}
    changed += bool(pred)
    erroneous += bool(gold)
    if gold:
      det_tp += pred_pos == gold_pos
      cor_tp += pred == gold
    else:
      fp += bool(pred)
      tn += not pred
    char["pred"] += len(pred)
    char["gold"] += len(gold)
    char["det_tp"] += len(pred_pos & gold_pos)
    char["cor_tp"] += len(pred & gold)
  out = {"sentences": n, "erroneous_sentences": erroneous, "changed_sentences": changed,
         "sentence_accuracy": exact / n if n else 0.0}
  for level, tp in (("detection", det_tp), ("correction", cor_tp)):
    out[f"strict_{level}"] = _prf(tp, changed, erroneous)
    sighan = _prf(tp, tp + fp, erroneous)
    sighan["accuracy"] = (tp + tn) / n if n else 0.0
    sighan["false_positive_rate"] = fp / (fp + tn) if fp + tn else 0.0
    out[f"sighan_{level}"] = sighan
  out["char_detection"] = _prf(char["det_tp"], char["pred"], char["gold"])
  out["char_correction"] = _prf(char["cor_tp"], char["pred"], char["gold"])
  return out
