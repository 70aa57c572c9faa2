"""The test documents of a finished TopicBERT run, beside its baseline's predictions: the table the
Documents page filters, which baseline may stand beside the run, and the links other pages open it
with (a run, and a topic's documents or one document, as query parameters)."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..runs.store import Store
from .run_files import RunPredictions

ALL = "all documents"
DISAGREE = "TopicBERT and baseline disagree"
TOPICBERT_ONLY = "TopicBERT right, baseline wrong"
BASELINE_ONLY = "baseline right, TopicBERT wrong"
# the page opens on the first: where the two models part is what a person looks at first
AGREEMENTS = (DISAGREE, ALL, TOPICBERT_ONLY, BASELINE_ONLY)
TFIDF = "TF-IDF"
PREVIEW_CHARS = 160


def preview(text: str) -> str:
    """A document's first characters on one line."""
    return " ".join(text.split())[:PREVIEW_CHARS]


@dataclass(frozen=True)
class DocumentsLink:
    """What the Documents page opens on: a run, and a topic's documents (numbered from 1, as the topic
    labels are) or one document (its row among the run's test documents)."""
    run_id: int
    topic: int | None = None
    doc: int | None = None

    def query_params(self) -> dict[str, str]:
        values = {"run": self.run_id, "topic": self.topic, "doc": self.doc}
        return {key: str(value) for key, value in values.items() if value is not None}

    @classmethod
    def from_query(cls, query: Mapping[str, object]) -> DocumentsLink | None:
        """The link in a page's query parameters; None without a run, or with anything not a number."""
        def number(key: str) -> int | None:
            value = query.get(key)
            value = value[-1] if isinstance(value, list) and value else value
            return int(value) if isinstance(value, str) and value.isdigit() else None
        run_id = number("run")
        if run_id is None or any(key in query and number(key) is None for key in ("topic", "doc")):
            return None
        return cls(run_id, number("topic"), number("doc"))


def same_documents(a: RunPredictions, b: RunPredictions) -> bool:
    """Both runs were tested on the same documents in the same order (same corpus, seed and limits)."""
    return a.classes == b.classes and a.texts_digest == b.texts_digest


def paired_baseline_run(store: Store, run: dict) -> dict | None:
    """The baseline queued with this run, once it has finished; None before, or if there is none."""
    baseline = store.get_run(run["paired_run_id"]) if run["paired_run_id"] else None
    return baseline if baseline is not None and baseline["status"] == "done" else None


def reference_run(store: Store, baseline: dict | None) -> dict | None:
    """The finished TF-IDF reference queued with this baseline (services.submit_run links it to the baseline)."""
    if baseline is None:
        return None
    return next((run for run in store.list_runs("done")
                 if run["variant"] == "tfidf" and run["paired_run_id"] == baseline["id"]), None)


def read_cut(text: str, count_pieces: Callable[[str], int], budget: int) -> int | None:
    """Where in `text` the first `budget` word pieces end: the character after the last whole word that fits
    (`count_pieces` counts a word's pieces); None if the whole text fits."""
    used = 0
    for match in re.finditer(r"\S+", text):
        used += count_pieces(match.group())
        if used > budget:
            return match.start()
    return None


def comparable_baseline(results: RunPredictions, baseline: RunPredictions | None) -> tuple[
        RunPredictions | None, str]:
    """The baseline's predictions where they can stand beside the run's, and a note for the page."""
    if baseline is None:
        return None, "No finished baseline paired with this run: only TopicBERT's predictions are shown."
    if not same_documents(results, baseline):
        return None, "The baseline was tested on other documents, so it is left out here."
    return baseline, ""


def documents_frame(run: RunPredictions, baseline: RunPredictions | None = None,
                    labels: Sequence[str] | None = None, tfidf: RunPredictions | None = None) -> pd.DataFrame:
    """One row per test document: preview, true label, each model's prediction (the TF-IDF reference's too, as
    `tfidf`), dominant topic, who was right.

    `baseline` and `tfidf` are left out unless they saw the same documents; `labels` name the topics.
    """
    classes = np.asarray(run.classes, dtype=object)
    frame = pd.DataFrame({
        "doc": np.arange(len(run.texts)),
        "text": [preview(text) for text in run.texts],
        "true label": classes[run.labels],
        "TopicBERT": classes[run.predictions],
    })
    frame["TopicBERT right"] = run.predictions == run.labels
    if baseline is not None and same_documents(run, baseline):
        frame["baseline"] = classes[baseline.predictions]
        frame["baseline right"] = baseline.predictions == baseline.labels
    if tfidf is not None and same_documents(run, tfidf):
        frame[TFIDF] = classes[tfidf.predictions]
    mixtures = run.topic_mixtures
    if mixtures is not None:
        dominant = mixtures.argmax(axis=1)
        names = list(labels) if labels is not None and len(labels) == mixtures.shape[1] else \
            [str(k + 1) for k in range(mixtures.shape[1])]
        frame["dominant topic"] = [names[k] for k in dominant]
    return frame


def filter_documents(frame: pd.DataFrame, query: str = "", true_labels: Sequence[str] = (),
                     predicted: Sequence[str] = (), topics: Sequence[str] = (), agreement: str = ALL,
                     texts: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows matching every filter given; `query` is searched in `texts` (whole documents) if given,
    else in the previews, ignoring case. An empty filter keeps everything."""
    keep = pd.Series(True, index=frame.index)
    if query.strip():
        needle = query.strip().casefold()
        haystack = texts if texts is not None else frame["text"].tolist()
        keep &= pd.Series([needle in haystack[i].casefold() for i in frame["doc"]], index=frame.index)
    if true_labels:
        keep &= frame["true label"].isin(list(true_labels))
    if predicted:
        keep &= frame["TopicBERT"].isin(list(predicted))
    if topics and "dominant topic" in frame:
        keep &= frame["dominant topic"].isin(list(topics))
    if agreement != ALL:
        if "baseline right" not in frame:
            return frame.iloc[0:0]
        topicbert, baseline = frame["TopicBERT right"], frame["baseline right"]
        keep &= ((frame["TopicBERT"] != frame["baseline"]) if agreement == DISAGREE
                 else (topicbert & ~baseline) if agreement == TOPICBERT_ONLY else (baseline & ~topicbert))
    return frame[keep]
