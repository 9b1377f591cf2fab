"""Grid search of the corrector's thresholds on a dev set (the model runs once)."""

import itertools

from csc_pretrain.correct import metrics
from csc_pretrain.correct.corrector import Thresholds

MIN_PROBS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MARGINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
TOP_KS = (1, 3, 5, 10)


def tune(corrector, triples, objective="strict_correction"):
  """Best Thresholds by ``objective`` F1 (ties: higher precision, then stricter)."""
  cands = corrector.candidates([w for _, w, _ in triples], top_k=max(TOP_KS))
  best = None
  for top_k, min_prob, margin in itertools.product(TOP_KS, MIN_PROBS, MARGINS):
    th = Thresholds(min_prob=min_prob, margin=margin, top_k=top_k)
    predicted = [corrector.decide(c, th)[0] for c in cands]
    m = metrics.evaluate([(w, c, p) for (_, w, c), p in zip(triples, predicted)])[objective]
    key = (m["f1"], m["precision"], min_prob, margin, -top_k)
    if best is None or key > best[0]:
      best = (key, th, m)
  return best[1], best[2]
