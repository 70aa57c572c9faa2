"""Bootstrap intervals of macro-F1 over the test documents: resamples of the documents (shared by two models to
compare them paired), each resample's macro-F1 computed from its confusion cells at once, and the percentile
interval of what they give; from a confusion matrix alone where the documents are too many to keep."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# class ids of documents: a list, or the integer array a model's predictions come as
Labels = Sequence[int] | np.ndarray

BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95


def bootstrap_samples(n_docs: int, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    """(n_resamples, n_docs) document indices drawn with replacement: one row per resample.

    Give two models' predictions the same rows to compare them paired (on the same resampled documents).
    """
    return np.random.default_rng(seed).integers(0, n_docs, size=(n_resamples, n_docs))


def macro_f1_samples(y_true: Labels, y_pred: Labels, samples: np.ndarray) -> np.ndarray:
    """Macro-F1 of each resample (row of `samples`), as training.metrics.macro_f1 (sklearn's) computes it:
    averaged over the classes that occur among that resample's true or predicted labels, 0 for a class never
    predicted right."""
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
    """(R, true, predicted) confusion matrices -> (R,) macro-F1, as training.metrics.macro_f1 computes it."""
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
