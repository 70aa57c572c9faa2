"""A TopicBERT run's topics as the Topics and Documents pages show them: labels, the table, their
quality (NPMI over the run's training documents, diversity) beside the LDA reference, all as the
worker stored them when the run ended, and each topic's top test documents."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..runs.store import Store
from .documents import preview
from .run_files import RunPredictions

Topics = Sequence[Sequence[tuple[str, float]]]  # each topic's top words with their weights, model order


def topic_labels(topics: Topics, n_words: int = 4) -> list[str]:
    """"3: oil price opec barrel": numbered from 1 as on the topic map."""
    return [f"{k + 1}: {' '.join(word for word, _ in words[:n_words])}" for k, words in enumerate(topics)]


def topics_table(topics: Topics, npmi: Optional[Sequence[Optional[float]]] = None) -> pd.DataFrame:
    frame = pd.DataFrame({"topic": range(1, len(topics) + 1),
                          "top words": [" ".join(word for word, _ in words) for words in topics]})
    if npmi is not None and any(score is not None for score in npmi):
        frame["NPMI"] = [np.nan if score is None else score for score in npmi]
    return frame


@dataclass(frozen=True)
class TopicSummary:
    """Mean NPMI and diversity of a run's topics and of the LDA reference (None where not stored)."""
    npmi: Optional[float]
    diversity: Optional[float]
    reference_npmi: Optional[float]
    reference_diversity: Optional[float]


def topic_summary(store: Store, run: dict) -> TopicSummary:
    final = run["final_metrics"] or {}
    reference = store.get_topic_reference(run["topic_reference"]) if run.get("topic_reference") else None
    return TopicSummary(final.get("npmi_train"), final.get("topic_diversity"),
                        reference["npmi"] if reference else None, reference["diversity"] if reference else None)


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
