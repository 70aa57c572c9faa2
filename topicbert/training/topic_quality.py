"""What a topic model's topics are worth: each topic's words, their NPMI coherence over given
documents, the topics' diversity, and the reference they are judged against (scikit-learn's
LDA, fitted on the same documents and vocabulary with the same number of topics).

A topic's words are the heaviest of its own word distribution (TopicModel.topic_word_distribution),
the one definition the table, the map, the labels and NPMI share.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..model.topic_model import TopicModel
from .metrics import npmi_coherence, topic_diversity

TOP_WORDS = 10


@dataclass(frozen=True)
class TopicQuality:
    npmi: list[float]      # per topic, over the documents it was scored on
    diversity: float       # share of distinct words among all topics' top words

    @property
    def mean_npmi(self) -> float:
        return float(np.mean(self.npmi)) if self.npmi else float("nan")

    def to_dict(self) -> dict:
        return {"npmi": self.npmi, "npmi_mean": self.mean_npmi, "diversity": self.diversity}


def top_word_ids(distribution: np.ndarray, k: int = TOP_WORDS) -> np.ndarray:
    """(K, k) word ids of each topic's k heaviest words, heaviest first (ties: the lower id)."""
    order = np.argsort(-np.asarray(distribution), axis=1, kind="stable")
    return order[:, :min(k, order.shape[1])]


def topic_words(topic_model: TopicModel, words: Sequence[str], k: int = TOP_WORDS) -> list[list[tuple[str, float]]]:
    """Each topic's k words with p(word | topic), heaviest first."""
    distribution = topic_model.topic_word_distribution().cpu().numpy()
    return [[(words[i], float(row[i])) for i in ids] for row, ids in zip(distribution, top_word_ids(distribution, k))]


def score_topics(word_ids: np.ndarray, bow: sp.csr_matrix) -> TopicQuality:
    """NPMI of each topic's words over the documents of `bow`, and the topics' diversity."""
    ids = np.asarray(word_ids)
    return TopicQuality(npmi=npmi_coherence(ids.tolist(), bow), diversity=topic_diversity(ids.tolist()))


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


def fit_lda(bow: sp.csr_matrix, n_topics: int, seed: int):
    """scikit-learn's online LDA on word counts: the reference every topic model is judged against."""
    from sklearn.decomposition import LatentDirichletAllocation

    return LatentDirichletAllocation(n_components=n_topics, learning_method="online", random_state=seed).fit(bow)


def lda_reference(train_bow: sp.csr_matrix, n_topics: int, seed: int) -> LDAReference:
    """LDA fitted on the training documents, its topics scored on the same documents."""
    started = time.perf_counter()
    lda = fit_lda(train_bow, n_topics, seed)
    seconds = time.perf_counter() - started
    word_ids = top_word_ids(lda.components_)
    return LDAReference(word_ids, score_topics(word_ids, train_bow), seconds)
