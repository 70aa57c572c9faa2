"""A TopicBERT run's topics as the Topics and Documents pages show them: labels, the table, their
quality beside the LDA reference (ours: NPMI over the run's training documents and over its test
documents; the literature's: NPMI over 10-word windows of the training texts; diversity), all as the
worker stored them when the run ended, and each topic's top test documents."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..runs.store import Store
from .documents import preview
from .run_files import RunPredictions

Topics = Sequence[Sequence[tuple[str, float]]]  # each topic's top words with their weights, model order


def topic_labels(topics: Topics, n_words: int = 4) -> list[str]:
    """"3: oil price opec barrel": numbered from 1 as on the topic map."""
    return [f"{k + 1}: {' '.join(word for word, _ in words[:n_words])}" for k, words in enumerate(topics)]


# each per-topic score's column in the table: ours over the training documents, the literature's
NPMI_COLUMN, WINDOW_COLUMN = "NPMI, training documents", "NPMI, 10-word windows"


def topics_table(topics: Topics, npmi: Sequence[float | None] | None = None,
                 npmi_window: Sequence[float | None] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"topic": range(1, len(topics) + 1),
                          "top words": [" ".join(word for word, _ in words) for words in topics]})
    for column, scores in ((NPMI_COLUMN, npmi), (WINDOW_COLUMN, npmi_window)):
        if scores is not None and any(score is not None for score in scores):
            frame[column] = [np.nan if score is None else score for score in scores]
    return frame


@dataclass(frozen=True)
class Coherence:
    """One set of topics' mean scores (None where not stored): ours, NPMI over the training documents and
    over the test documents; the literature's, NPMI over 10-word windows of the training texts; diversity."""
    npmi: float | None
    npmi_test: float | None
    npmi_window: float | None
    diversity: float | None


@dataclass(frozen=True)
class TopicSummary:
    """A run's topics and the LDA reference's, side by side."""
    run: Coherence
    reference: Coherence | None


def topic_summary(store: Store, run: dict) -> TopicSummary:
    final = run["final_metrics"] or {}
    reference = store.get_topic_reference(run["topic_reference"]) if run.get("topic_reference") else None
    return TopicSummary(
        Coherence(final.get("npmi_train"), final.get("npmi_test"), final.get("npmi_window"),
                  final.get("topic_diversity")),
        Coherence(reference["npmi"], reference.get("npmi_test"), reference.get("npmi_window"),
                  reference["diversity"]) if reference else None)


def window_npmi_per_topic(run: dict) -> list[float] | None:
    """Each topic's NPMI over 10-word windows, as the run's results keep it (None for runs before it)."""
    return (run["final_metrics"] or {}).get("topic_npmi_window")


TOP_DOCUMENTS = 10


def top_documents(run: RunPredictions, topic: int, n: int = TOP_DOCUMENTS) -> pd.DataFrame:
    """The `n` test documents with the highest share of `topic` (numbered from 0) in their topic mixture:
    doc (its row among the test documents), share, true label, the run's prediction and a preview."""
    if run.topic_mixtures is None:
        raise ValueError("the run has no topic mixtures: only a TopicBERT run has topics")
    shares = run.topic_mixtures[:, topic]
    docs = np.argsort(-shares, kind="stable")[:n]
    classes = np.asarray(run.classes, dtype=object)
    return pd.DataFrame({"doc": docs, "share": shares[docs], "true label": classes[run.labels[docs]],
                         "predicted": classes[run.predictions[docs]],
                         "text": [preview(run.texts[i]) for i in docs]})
