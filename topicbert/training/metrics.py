"""Classification scores, their uncertainty (bootstrap intervals over the test documents), topic
quality (NPMI coherence, diversity), and which runs give the most F1 for their cost (the Pareto front)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

# class ids of documents: a list, or the integer array a model's predictions come as
Labels = Sequence[int] | np.ndarray


def macro_f1(y_true: Labels, y_pred: Labels) -> float:
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def micro_f1(y_true: Labels, y_pred: Labels) -> float:
    return float(f1_score(y_true, y_pred, average="micro", zero_division=0))


# ---------------------------------------------------------------- uncertainty

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95


def bootstrap_samples(n_docs: int, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    """(n_resamples, n_docs) document indices drawn with replacement: one row per resample.

    Give two models' predictions the same rows to compare them paired (on the same resampled documents).
    """
    return np.random.default_rng(seed).integers(0, n_docs, size=(n_resamples, n_docs))


def macro_f1_samples(y_true: Labels, y_pred: Labels, samples: np.ndarray) -> np.ndarray:
    """Macro-F1 of each resample (row of `samples`), as macro_f1 computes it: averaged over the classes
    that occur among that resample's true or predicted labels, 0 for a class never predicted right."""
    true, pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    n_classes = int(max(true.max(initial=0), pred.max(initial=0))) + 1
    cell = true * n_classes + pred                            # the confusion cell of each document
    # a few hundred resamples at a time: the index arrays stay small on large test sets
    chunk = max(1, 2_000_000 // max(samples.shape[1], 1))
    return np.concatenate([_macro_f1_of_cells(cell[samples[start:start + chunk]], n_classes)
                           for start in range(0, samples.shape[0], chunk)])


def _macro_f1_of_cells(cells: np.ndarray, n_classes: int) -> np.ndarray:
    """(R, n) confusion cells -> (R,) macro-F1."""
    offsets = np.arange(cells.shape[0])[:, None] * n_classes ** 2
    counts = np.bincount((offsets + cells).ravel(), minlength=cells.shape[0] * n_classes ** 2)
    return macro_f1_of_confusions(counts.reshape(cells.shape[0], n_classes, n_classes))


def macro_f1_of_confusions(matrix: np.ndarray) -> np.ndarray:
    """(R, true, predicted) confusion matrices -> (R,) macro-F1, as macro_f1 computes it."""
    tp = np.diagonal(matrix, axis1=1, axis2=2)
    denominator = matrix.sum(axis=2) + matrix.sum(axis=1)           # 2 tp + fp + fn per class
    present = denominator > 0
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=present)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def percentile_interval(values: np.ndarray, level: float = CONFIDENCE) -> tuple[float, float]:
    """The central `level` share of `values` (a bootstrap distribution): (low, high)."""
    tail = (1 - level) / 2
    low, high = np.quantile(np.asarray(values, dtype=float), [tail, 1 - tail])
    return float(low), float(high)


def f1_interval(y_true: Labels, y_pred: Labels, samples: np.ndarray | None = None,
                level: float = CONFIDENCE) -> tuple[float, float]:
    """A bootstrap interval of macro-F1 over the test documents."""
    samples = bootstrap_samples(len(y_true)) if samples is None else samples
    return percentile_interval(macro_f1_samples(y_true, y_pred, samples), level)


def confusion_f1_interval(matrix: np.ndarray, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                          level: float = CONFIDENCE) -> tuple[float, float]:
    """f1_interval's bootstrap from the confusion matrix alone. Drawing n documents with replacement draws the
    confusion cells' counts from a multinomial, so this is the same bootstrap in memory of resamples times cells,
    not resamples times documents: what a labelled file of any length can afford."""
    counts = np.asarray(matrix, dtype=np.int64)
    n_classes = counts.shape[0]
    draws = np.random.default_rng(seed).multinomial(int(counts.sum()), counts.ravel() / counts.sum(),
                                                    size=n_resamples)
    return percentile_interval(macro_f1_of_confusions(draws.reshape(n_resamples, n_classes, n_classes)), level)


def per_class_report(y_true: Labels, y_pred: Labels, classes: Sequence[str]) -> dict:
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    return {name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(classes)}


def confusion(y_true: Labels, y_pred: Labels, n_classes: int) -> list[list[int]]:
    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes))).tolist()


def npmi_coherence(topics_word_ids: Sequence[Sequence[int]], bow: sp.csr_matrix) -> list[float]:
    """NPMI of each topic's top words, from document co-occurrence in `bow` (docs x words).

    Pairs that never co-occur score -1, as in Lau et al. (2014); a topic's score is the mean
    over its word pairs.
    """
    present = (bow > 0).astype(np.float64).tocsc()
    n_docs = present.shape[0]
    scores = []
    for word_ids in topics_word_ids:
        ids = list(word_ids)
        columns = present[:, ids]
        joint = (columns.T @ columns).toarray() / n_docs      # (k, k) p(w_i, w_j)
        marginal = np.diag(joint).copy()                      # p(w_i)
        pair_scores = []
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                p_ij = joint[i, j]
                if p_ij <= 0 or marginal[i] <= 0 or marginal[j] <= 0:
                    pair_scores.append(-1.0)
                elif p_ij >= 1.0:
                    pair_scores.append(1.0)
                else:
                    pmi = np.log(p_ij / (marginal[i] * marginal[j]))
                    pair_scores.append(float(pmi / -np.log(p_ij)))
        scores.append(float(np.mean(pair_scores)) if pair_scores else 0.0)
    return scores


def topic_diversity(topics_words: Sequence[Sequence[str]]) -> float:
    """Share of unique words among all topics' top words (Dieng et al. 2020): 1 is no overlap."""
    all_words = [w for words in topics_words for w in words]
    return len(set(all_words)) / len(all_words) if all_words else 0.0


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (F1, cost) points no other point beats: higher F1 and lower cost are better.

    A point is off the front when another has F1 at least as high and cost at least as low,
    better in one. Equal points are both on it. NaN points are never on it. Sorted by cost.
    """
    valid = [i for i, (f1, cost) in enumerate(points) if not (np.isnan(f1) or np.isnan(cost))]
    front = []
    for i in valid:
        f1_i, cost_i = points[i]
        dominated = any(points[j][0] >= f1_i and points[j][1] <= cost_i
                        and (points[j][0] > f1_i or points[j][1] < cost_i) for j in valid)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][1], -points[i][0]))
