"""Reading what a finished run left in its folder (written by training/results.py).

test_predictions.npz: labels, probabilities (D x C) and, for TopicBERT, topic_mixtures (D x K; runs of
earlier versions kept NVDM's mu as topic_vectors instead);
test_documents.json: classes and the digest of the test texts (kept once, data/shared_texts; runs of
earlier versions hold the texts themselves); topics.npz and vocab.json: what pyLDAvis needs.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.shared_texts import load_texts, texts_digest  # load_texts: the Documents page reads texts with it too


@dataclass
class RunPredictions:
    classes: list[str]
    texts: list[str]
    labels: np.ndarray                 # (D,) true class ids
    probabilities: np.ndarray          # (D, C)
    topic_mixtures: np.ndarray | None  # (D, K) topic proportions, TopicBERT only
    texts_digest: str | None = None  # names the texts: equal digests, the same documents

    def __post_init__(self) -> None:
        if self.texts_digest is None:
            self.texts_digest = texts_digest(self.texts)

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


@dataclass
class TopicArrays:
    topic_term: np.ndarray       # (K, V) p(word | topic)
    doc_topic: np.ndarray        # (D, K) training documents' topic mixtures
    doc_lengths: np.ndarray      # (D,) words in each training document's bag
    term_frequency: np.ndarray   # (V,) corpus count of each word
    vocab: list[str]


def predictions_mtime(run_dir: str | None) -> float:
    """When the run's test predictions were written (0 if not yet): a cache key that changes with them."""
    path = Path(run_dir or "") / "test_predictions.npz"
    return path.stat().st_mtime if run_dir and path.exists() else 0.0


def no_texts(digest: str) -> list[str]:
    """A `read_texts` for readers that need no text (Compare): runs are told apart by the texts' digest."""
    return []


def load_predictions(run_dir: str | None,
                     read_texts: Callable[[str], list[str] | None] = load_texts) -> RunPredictions | None:
    """None until the run has finished its test evaluation (or if its test texts are gone).
    `read_texts(digest)`: how the shared texts are read (a page passes a cached reader)."""
    folder = Path(run_dir) if run_dir else None
    if folder is None or not all((folder / name).exists() for name in ("test_predictions.npz", "test_documents.json")):
        return None
    documents = json.loads((folder / "test_documents.json").read_text(encoding="utf-8"))
    digest = documents.get("texts_digest")  # runs of earlier versions hold the texts themselves
    texts = documents["texts"] if digest is None else read_texts(digest)
    if texts is None:
        return None
    with np.load(folder / "test_predictions.npz") as arrays:
        return RunPredictions(classes=list(documents["classes"]), texts=texts, texts_digest=digest,
                           labels=arrays["labels"], probabilities=arrays["probabilities"],
                           topic_mixtures=_topic_mixtures(arrays))


def _topic_mixtures(arrays: Mapping[str, np.ndarray]) -> np.ndarray | None:
    if "topic_mixtures" in arrays:
        return arrays["topic_mixtures"]
    if "topic_vectors" in arrays:  # an earlier version's NVDM mu
        # imported here, not above: Home imports this module, and importing it should not load torch
        import torch

        from ..model.nvdm import nvdm_proportions
        return nvdm_proportions(torch.from_numpy(arrays["topic_vectors"])).numpy()
    return None


def load_topic_arrays(run_dir: str | None) -> TopicArrays | None:
    """None for a baseline run, or a TopicBERT run that has not finished."""
    folder = Path(run_dir) if run_dir else None
    if folder is None or not (folder / "topics.npz").exists() or not (folder / "vocab.json").exists():
        return None
    with np.load(folder / "topics.npz") as arrays:
        return TopicArrays(topic_term=arrays["topic_term"], doc_topic=arrays["doc_topic"],
                           doc_lengths=arrays["doc_lengths"], term_frequency=arrays["term_frequency"],
                           vocab=json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
