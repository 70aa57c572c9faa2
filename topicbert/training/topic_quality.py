"""What a topic model's topics are worth: each topic's words, their coherence (ours: NPMI over
documents, the training ones and held-out ones; the literature's: NPMI over 10-word windows of the
training texts, window_npmi.py), the topics' diversity, and the reference they are judged against
(scikit-learn's LDA, fitted on the same documents and vocabulary with the same number of topics).

A topic's words are the heaviest of its own word distribution (TopicModel.topic_word_distribution),
the one definition the table, the map, the labels and NPMI share.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..model.topic_model import TopicModel
from .metrics import npmi_coherence, topic_diversity
from .window_npmi import window_npmi

if TYPE_CHECKING:
    from sklearn.decomposition import LatentDirichletAllocation

TOP_WORDS = 10


@dataclass(frozen=True)
class TopicQuality:
    npmi: list[float]      # per topic, over the documents it was scored on (document co-occurrence)
    diversity: float       # share of distinct words among all topics' top words
    # per topic, where scored: the literature's NPMI over 10-word windows of the same documents' texts,
    # and ours over held-out documents
    npmi_window: list[float] | None = None
    npmi_held_out: list[float] | None = None

    @property
    def mean_npmi(self) -> float:
        return _mean(self.npmi)

    @property
    def mean_npmi_window(self) -> float | None:
        return _mean(self.npmi_window) if self.npmi_window is not None else None

    @property
    def mean_npmi_held_out(self) -> float | None:
        return _mean(self.npmi_held_out) if self.npmi_held_out is not None else None


def _mean(scores: Sequence[float]) -> float:
    return float(np.mean(scores)) if len(scores) else float("nan")


def top_word_ids(distribution: np.ndarray, k: int = TOP_WORDS) -> np.ndarray:
    """(K, k) word ids of each topic's k heaviest words, heaviest first (ties: the lower id)."""
    order = np.argsort(-np.asarray(distribution), axis=1, kind="stable")
    return order[:, :min(k, order.shape[1])]


def topic_words(topic_model: TopicModel, words: Sequence[str], k: int = TOP_WORDS) -> list[list[tuple[str, float]]]:
    """Each topic's k words with p(word | topic), heaviest first."""
    distribution = topic_model.topic_word_distribution().cpu().numpy()
    tops = top_word_ids(distribution, k)
    return [[(words[i], float(row[i])) for i in ids] for row, ids in zip(distribution, tops, strict=True)]


def score_topics(word_ids: np.ndarray, bow: sp.csr_matrix, sequences: Sequence[np.ndarray] | None = None,
                 held_out: sp.csr_matrix | None = None) -> TopicQuality:
    """NPMI of each topic's words over the documents of `bow`, and the topics' diversity; with the same
    documents' `sequences` (their word ids in order) the literature's windowed NPMI too, and with
    `held_out` documents NPMI over them."""
    ids = np.asarray(word_ids).tolist()
    return TopicQuality(npmi=npmi_coherence(ids, bow), diversity=topic_diversity(ids),
                        npmi_window=window_npmi(ids, sequences) if sequences is not None else None,
                        npmi_held_out=npmi_coherence(ids, held_out) if held_out is not None else None)


def unigram_perplexity(train_bow: sp.csr_matrix, bow: sp.csr_matrix) -> float:
    """The bar a topic model must clear: a unigram model's per-document perplexity on `bow` (p(word)
    from the training counts, add-one smoothed), computed as the topic models' own perplexity is."""
    counts = np.asarray(train_bow.sum(axis=0), dtype=np.float64).ravel() + 1.0
    log_p = np.log(counts / counts.sum())
    words = np.asarray(bow.sum(axis=1), dtype=np.float64).ravel()
    keep = words > 0
    nll = -np.asarray(bow @ log_p).ravel()
    return float(np.exp(np.mean(nll[keep] / words[keep])))


@dataclass(frozen=True)
class LDAReference:
    word_ids: np.ndarray   # (K, TOP_WORDS)
    quality: TopicQuality  # over the documents it was fitted on
    fit_seconds: float


def fit_lda(bow: sp.csr_matrix, n_topics: int, seed: int) -> LatentDirichletAllocation:
    """scikit-learn's online LDA on word counts: the reference every topic model is judged against."""
    from sklearn.decomposition import LatentDirichletAllocation

    return LatentDirichletAllocation(n_components=n_topics, learning_method="online", random_state=seed).fit(bow)


def lda_reference(train_bow: sp.csr_matrix, n_topics: int, seed: int,
                  train_sequences: Sequence[np.ndarray] | None = None,
                  held_out: sp.csr_matrix | None = None) -> LDAReference:
    """LDA fitted on the training documents, its topics scored as a run's are (score_topics)."""
    started = time.perf_counter()
    lda = fit_lda(train_bow, n_topics, seed)
    seconds = time.perf_counter() - started
    word_ids = top_word_ids(lda.components_)
    return LDAReference(word_ids, score_topics(word_ids, train_bow, train_sequences, held_out), seconds)
