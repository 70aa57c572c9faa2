"""Classification scores and topic quality (NPMI coherence, diversity). Their bootstrap intervals are
stats/bootstrap.py's."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from ..stats.bootstrap import Labels


def macro_f1(y_true: Labels, y_pred: Labels) -> float:
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def micro_f1(y_true: Labels, y_pred: Labels) -> float:
    return float(f1_score(y_true, y_pred, average="micro", zero_division=0))


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
