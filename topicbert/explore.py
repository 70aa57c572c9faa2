"""Topics and test documents of a finished TopicBERT run, as tables the Topics and Documents pages show."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .bow import TopicVocabulary
from .metrics import npmi_coherence, topic_diversity
from .run_files import RunPredictions

Topics = Sequence[Sequence[tuple[str, float]]]  # each topic's top words with their weights, model order

ALL = "all documents"
TOPICBERT_ONLY = "TopicBERT right, baseline wrong"
BASELINE_ONLY = "baseline right, TopicBERT wrong"
AGREEMENTS = (ALL, TOPICBERT_ONLY, BASELINE_ONLY)
PREVIEW_CHARS = 160


def topic_labels(topics: Topics, n_words: int = 4) -> list[str]:
    """"3: oil price opec barrel": numbered from 1 as on the topic map."""
    return [f"{k + 1}: {' '.join(word for word, _ in words[:n_words])}" for k, words in enumerate(topics)]


def topic_quality(topics: Topics, vocab: Sequence[str], texts: Sequence[str]) -> tuple[list[float], float]:
    """NPMI of each topic's top words over `texts`' documents, and the topics' diversity."""
    index = {word: i for i, word in enumerate(vocab)}
    word_ids = [[index[word] for word, _ in words if word in index] for words in topics]
    bow = TopicVocabulary(tuple(vocab)).transform(texts)
    return npmi_coherence(word_ids, bow), topic_diversity([[word for word, _ in words] for words in topics])


def topics_table(topics: Topics, coherence: Optional[Sequence[float]] = None) -> pd.DataFrame:
    frame = pd.DataFrame({"topic": range(1, len(topics) + 1),
                          "top words": [" ".join(word for word, _ in words) for words in topics]})
    if coherence is not None:
        frame["NPMI"] = list(coherence)
    return frame


def same_documents(a: RunPredictions, b: RunPredictions) -> bool:
    """Both runs were tested on the same documents in the same order (same corpus, seed and limits)."""
    return a.classes == b.classes and a.texts == b.texts


def documents_frame(run: RunPredictions, baseline: Optional[RunPredictions] = None,
                    labels: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per test document: preview, true label, each model's prediction, dominant topic, who was right.

    `baseline` is left out unless it saw the same documents; `labels` name the topics.
    """
    classes = np.asarray(run.classes, dtype=object)
    frame = pd.DataFrame({
        "doc": np.arange(len(run.texts)),
        "text": [" ".join(text.split())[:PREVIEW_CHARS] for text in run.texts],
        "true label": classes[run.labels],
        "TopicBERT": classes[run.predictions],
    })
    frame["TopicBERT right"] = run.predictions == run.labels
    if baseline is not None and same_documents(run, baseline):
        frame["baseline"] = classes[baseline.predictions]
        frame["baseline right"] = baseline.predictions == baseline.labels
    mixtures = run.topic_mixtures
    if mixtures is not None:
        dominant = mixtures.argmax(axis=1)
        names = list(labels) if labels is not None and len(labels) == mixtures.shape[1] else \
            [str(k + 1) for k in range(mixtures.shape[1])]
        frame["dominant topic"] = [names[k] for k in dominant]
    return frame


def filter_documents(frame: pd.DataFrame, query: str = "", true_labels: Sequence[str] = (),
                     predicted: Sequence[str] = (), topics: Sequence[str] = (), agreement: str = ALL,
                     texts: Optional[Sequence[str]] = None) -> pd.DataFrame:
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
        keep &= (topicbert & ~baseline) if agreement == TOPICBERT_ONLY else (baseline & ~topicbert)
    return frame[keep]
