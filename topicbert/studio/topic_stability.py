"""Topic stability: which topics of one TopicBERT run recur in another on the same corpus (another seed,
topic model or length). Each run's topics are word distributions (topics.npz); the vocabularies are
aligned by word (a word one run lacks weighs 0 there), the topics compared by cosine similarity, and
matched one to one by the Hungarian method (scipy's linear_sum_assignment) for the largest total
similarity.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..config import RunConfig
from ..runs.store import Store
from .run_files import TopicArrays
from .run_identity import finished_runs

TOP_WORDS = 10
MATCH_COLUMNS = ["topic", "label", "matched topic", "matched label", "similarity", "shared top words"]


def stability_partners(store: Store, run: dict) -> list[dict]:
    """The other finished TopicBERT runs on the same corpus, newest first."""
    corpus = RunConfig.from_dict(run["config"]).corpus
    return [other for other in finished_runs(store) if other["variant"] == "topicbert" and other["id"] != run["id"]
            and RunConfig.from_dict(other["config"]).corpus == corpus]


def aligned_topics(a: TopicArrays, b: TopicArrays) -> tuple[np.ndarray, np.ndarray]:
    """Both runs' topic-word matrices over the union of their vocabularies (a's words first)."""
    words = list(dict.fromkeys([*a.vocab, *b.vocab]))
    column = {word: i for i, word in enumerate(words)}

    def spread(arrays: TopicArrays) -> np.ndarray:
        matrix = np.zeros((arrays.topic_term.shape[0], len(words)))
        matrix[:, [column[word] for word in arrays.vocab]] = arrays.topic_term
        return matrix
    return spread(a), spread(b)


def topic_similarity(a: TopicArrays, b: TopicArrays) -> np.ndarray:
    """(K_a, K_b) cosine similarity of every topic of a with every topic of b."""
    left, right = aligned_topics(a, b)
    left = left / np.maximum(np.linalg.norm(left, axis=1, keepdims=True), 1e-12)
    right = right / np.maximum(np.linalg.norm(right, axis=1, keepdims=True), 1e-12)
    return left @ right.T


def _top_words(arrays: TopicArrays, topic: int) -> list[str]:
    return [arrays.vocab[i] for i in np.argsort(-arrays.topic_term[topic], kind="stable")[:TOP_WORDS]]


def match_topics(a: TopicArrays, b: TopicArrays, labels_a: Sequence[str], labels_b: Sequence[str]) -> pd.DataFrame:
    """One row per matched pair (min(K_a, K_b) of them): a's topic (from 1) and label, b's, their cosine
    similarity and the top words they share; most similar first."""
    similarity = topic_similarity(a, b)
    rows_a, rows_b = linear_sum_assignment(similarity, maximize=True)
    rows = []
    for i, j in zip(rows_a, rows_b, strict=True):
        words_b = set(_top_words(b, j))
        rows.append({"topic": int(i) + 1, "label": labels_a[i], "matched topic": int(j) + 1,
                     "matched label": labels_b[j], "similarity": float(similarity[i, j]),
                     "shared top words": " ".join(w for w in _top_words(a, i) if w in words_b)})
    return pd.DataFrame(rows, columns=MATCH_COLUMNS).sort_values("similarity", ascending=False, ignore_index=True)


def unmatched_similarity(a: TopicArrays, b: TopicArrays) -> float:
    """The mean cosine similarity of the pairs of topics the matching leaves apart: how alike two topics of
    these runs are anyway (shared frequent words), the level a recurring topic must stand above."""
    similarity = topic_similarity(a, b)
    apart = np.ones_like(similarity, dtype=bool)
    apart[linear_sum_assignment(similarity, maximize=True)] = False
    return float(similarity[apart].mean()) if apart.any() else float("nan")


def vocabulary_overlap(a: TopicArrays, b: TopicArrays) -> float:
    """Share of the two vocabularies' words that both hold (1: the same vocabulary)."""
    both, either = set(a.vocab) & set(b.vocab), set(a.vocab) | set(b.vocab)
    return len(both) / len(either) if either else 1.0
