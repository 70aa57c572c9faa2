"""Where the topic branch helps: for each topic of a TopicBERT run, the test documents whose dominant
topic it is, each model's macro-F1 on them, and the run's difference with its reference on them with a
paired bootstrap interval (training/metrics.paired_f1), sorted from the largest gain to the largest loss.

Only runs tested on the same documents stand beside each other (documents.same_documents).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from ..training.metrics import macro_f1, paired_f1
from .documents import same_documents
from .run_files import RunPredictions
from .uncertainty import difference_words, interval_text

GAIN_COLUMNS = ["topic", "label", "documents", "difference", "95% interval", "low", "high", "against the reference"]


def topic_gains(run: RunPredictions, reference: RunPredictions, labels: Sequence[str],
                names: tuple[str, str], others: Mapping[str, RunPredictions] | None = None) -> pd.DataFrame:
    """One row per topic that is some test document's dominant topic: its number (from 1) and label, how
    many documents, each model's macro-F1 on them (a column named after each: `names` gives the run's and
    the reference's; `others` more models on the same documents), the run's difference with the reference,
    its 95% paired interval (low, high) and whether it is within noise. Largest gain first."""
    if run.topic_mixtures is None:
        raise ValueError("the run has no topic mixtures: only a TopicBERT run has topics")
    if not same_documents(run, reference):
        raise ValueError("the reference was tested on other documents")
    models = {names[0]: run, names[1]: reference,
              **{name: other for name, other in (others or {}).items() if same_documents(run, other)}}
    dominant = run.topic_mixtures.argmax(axis=1)
    rows = []
    for topic in np.unique(dominant):
        docs = np.flatnonzero(dominant == topic)
        truth = run.labels[docs]
        paired = paired_f1(truth, run.predictions[docs], reference.predictions[docs])
        rows.append({"topic": int(topic) + 1, "label": labels[topic], "documents": len(docs),
                     **{name: macro_f1(truth, model.predictions[docs]) for name, model in models.items()},
                     "difference": paired.difference, "95% interval": interval_text(paired.difference_interval),
                     "low": paired.difference_interval[0],
                     "high": paired.difference_interval[1], "against the reference": difference_words(paired)})
    columns = GAIN_COLUMNS[:3] + list(models) + GAIN_COLUMNS[3:]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["difference", "documents"], ascending=[False, False], ignore_index=True)


def gains_against(topic_run: int, reference: Optional[int], predictions: Mapping[int, Optional[RunPredictions]],
                  names: Mapping[int, str], labels: Sequence[str]) -> tuple[Optional[pd.DataFrame], str]:
    """Compare's view: topic_gains of run `topic_run` against run `reference`, with every other run of
    `predictions` tested on the same documents beside them; (None, why) where it cannot be drawn."""
    ours, theirs = predictions.get(topic_run), predictions.get(reference) if reference is not None else None
    if ours is None or ours.topic_mixtures is None:
        return None, f"{names[topic_run]} has no test predictions with topic mixtures."
    if theirs is None:
        return None, "Choose a reference baseline with its test predictions."
    if not same_documents(ours, theirs):
        return None, f"{names[topic_run]} was tested on other documents than the reference."
    others = {names[i]: p for i, p in predictions.items() if i not in (topic_run, reference) and p is not None}
    return topic_gains(ours, theirs, labels, (names[topic_run], names[reference]), others), ""
