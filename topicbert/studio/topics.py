"""A TopicBERT run's topics as the Topics and Documents pages show them: labels, the table, and
their quality (NPMI over the run's training documents, diversity) beside the LDA reference, all
as the worker stored them when the run ended."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..runs.store import Store

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
