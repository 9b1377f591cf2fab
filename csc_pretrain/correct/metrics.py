"""CSC evaluation metrics, sentence level under two conventions and character level.

For each sentence, gold edits G = {(i, c) : wrong[i] != correct[i]} and predicted
edits P = {(i, c) : prediction[i] != wrong[i]}.

strict (the common convention in CSC papers since 2020): every sentence the
  system changes is a predicted positive, so a change on a correct sentence and
  a wrong change on an erroneous sentence both cost precision.
    detection TP: G non-empty and positions(P) == positions(G)
    correction TP: G non-empty and P == G
    precision = TP / #changed sentences, recall = TP / #erroneous sentences.

sighan (the official SIGHAN 2013-15 tool, sighan15csc.jar; checked against it to
  4 decimals in tests/test_evaluate.py): a sentence-level confusion matrix where
  only changes on *correct* sentences are false positives; a wrong change on an
  erroneous sentence is a false negative, not a false positive:
    TP as above, except the jar's correction test: the locations must be the
    gold ones and every predicted character must be *one of* the gold
    corrections (Collection.containsAll on the two maps' values, so with two or
    more errors, swapped or repeated corrections still count: gold {8: 的,
    31: 懂}, predicted {8: 的, 31: 的} is a correction TP for the jar);
    FP = correct sentences changed, FN = erroneous sentences not TP,
    TN = correct sentences left alone;
    precision = TP / (TP + FP), recall = TP / (TP + FN),
    accuracy = (TP + TN) / all, false positive rate = FP / (FP + TN).
  The jar prints NaN for 0/0; we report 0.0.

character level: micro precision/recall/F1 of positions (detection) and of
  (position, character) pairs (correction) over all sentences.

Pairs whose two sides differ in length (a few in some public benchmarks) count in
every sentence-level figure: they are erroneous sentences, and a hit (detection
or correction) only when the prediction equals the target, which a
substitution-only corrector cannot produce, so they are misses. They are left
out of the character-level figures, which need position-by-position edits;
``coverage`` says how many sentences each level covers.
"""

import collections


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


def evaluate(triples, kind_of=None):
  """Metrics for [(wrong, correct, predicted)].

  ``wrong`` and ``predicted`` should have the same length; a ``correct`` of
  another length follows the rule in the module docstring, as does a
  ``predicted`` of another length than ``wrong``. ``kind_of(wrong_char,
  correct_char)``, when given, adds ``per_kind``: per kind of gold error, how
  many there are and the share the system detected and corrected.
  """
  n = len(triples)
  changed = erroneous = 0
  det_tp = cor_tp = sighan_cor_tp = 0
  fp = tn = 0
  char = {"det_tp": 0, "cor_tp": 0, "pred": 0, "gold": 0}
  char_sentences = 0
  exact = 0
  kinds = collections.defaultdict(collections.Counter)
  for wrong, correct, predicted in triples:
    exact += predicted == correct
    if len(wrong) != len(correct) or len(wrong) != len(predicted):
      # Not position-comparable: sentence level only, a hit only when exact.
      hit = predicted == correct
      changed += predicted != wrong
      if correct != wrong:
        erroneous += 1
        det_tp += hit
        cor_tp += hit
        sighan_cor_tp += hit
      else:
        fp += predicted != wrong
        tn += predicted == wrong
      continue
    char_sentences += 1
    gold, pred = edits(wrong, correct), edits(wrong, predicted)
    gold_pos, pred_pos = {i for i, _ in gold}, {i for i, _ in pred}
    changed += bool(pred)
    erroneous += bool(gold)
    if gold:
      det_tp += pred_pos == gold_pos
      cor_tp += pred == gold
      sighan_cor_tp += pred_pos == gold_pos and {c for _, c in pred} <= {c for _, c in gold}
    else:
      fp += bool(pred)
      tn += not pred
    char["pred"] += len(pred)
    char["gold"] += len(gold)
    char["det_tp"] += len(pred_pos & gold_pos)
    char["cor_tp"] += len(pred & gold)
    if kind_of:
      for i, c in gold:
        counts = kinds[kind_of(wrong[i], c)]
        counts["errors"] += 1
        counts["detected"] += i in pred_pos
        counts["corrected"] += (i, c) in pred
  out = {"sentences": n, "erroneous_sentences": erroneous, "changed_sentences": changed,
         "sentence_accuracy": exact / n if n else 0.0,
         "coverage": {"sentence_level": n, "character_level": char_sentences}}
  for level, tp, jar_tp in (("detection", det_tp, det_tp),
                            ("correction", cor_tp, sighan_cor_tp)):
    out[f"strict_{level}"] = _prf(tp, changed, erroneous)
    tp = jar_tp
    sighan = _prf(tp, tp + fp, erroneous)
    sighan["accuracy"] = (tp + tn) / n if n else 0.0
    sighan["false_positive_rate"] = fp / (fp + tn) if fp + tn else 0.0
    sighan.update(tp=tp, fp=fp, fn=erroneous - tp, tn=tn)
    out[f"sighan_{level}"] = sighan
  out["char_detection"] = _prf(char["det_tp"], char["pred"], char["gold"])
  out["char_correction"] = _prf(char["cor_tp"], char["pred"], char["gold"])
  if kind_of:
    out["per_kind"] = {kind: {"errors": k["errors"],
                              "detection_recall": k["detected"] / k["errors"],
                              "correction_recall": k["corrected"] / k["errors"]}
                       for kind, k in sorted(kinds.items())}
  return out


def overcorrection(sentences, predicted):
  """How much a system changes text that needs no change (correct sentences in,
  predictions out): share of sentences changed, changed characters per 1,000."""
  if len(sentences) != len(predicted):
    raise ValueError(f"{len(sentences)} sentences but {len(predicted)} predictions")
  changed_sentences = changed_chars = chars = 0
  for text, out in zip(sentences, predicted):
    chars += len(text)
    changed_sentences += out != text
    if len(out) == len(text):
      changed_chars += sum(a != b for a, b in zip(text, out))
    else:  # a corrector that changes length: count the edit distance's worth
      changed_chars += max(len(out), len(text))
  n = len(sentences)
  return {"sentences": n, "characters": chars, "changed_sentences": changed_sentences,
          "changed_sentence_share": changed_sentences / n if n else 0.0,
          "changed_characters": changed_chars,
          "changed_per_1000_characters": 1000 * changed_chars / chars if chars else 0.0}


# --- kinds of errors --------------------------------------------------------------------------

KINDS = ("same_pinyin_same_tone", "same_pinyin_other_tone", "similar_pinyin", "look_alike",
         "other")


class ErrorKinds:
  """Classifies a gold error (wrong character -> correct one), first match wins:
  same pinyin and tone, same pinyin in another tone, similar pinyin (one fuzzy
  initial/final pair such as zh/z, an/ang, as char_meta scores them), look-alike
  (either character in the other's visual confusion set from char_meta), other.
  Without visual sets look-alike errors fall into "other"."""

  def __init__(self, visual_sets=None):
    self.visual_sets = visual_sets
    self._cache = {}

  def __call__(self, wrong, correct):
    key = (wrong, correct)
    if key not in self._cache:
      self._cache[key] = self._kind(wrong, correct)
    return self._cache[key]

  def _kind(self, wrong, correct):
    from csc_pretrain.char_meta import phonetic
    ours, theirs = phonetic.readings(wrong), phonetic.readings(correct)
    if set(ours) & set(theirs):
      return "same_pinyin_same_tone"
    if {r[:-1] for r in ours} & {r[:-1] for r in theirs}:
      return "same_pinyin_other_tone"
    for a in ours:
      for b in theirs:
        if phonetic.reading_similarity(a, b, tone_sensitive=False) >= phonetic.FUZZY_PAIR:
          return "similar_pinyin"
    if self.visual_sets is not None and (correct in self.visual_sets.get(wrong, ()) or
                                         wrong in self.visual_sets.get(correct, ())):
      return "look_alike"
    return "other"
