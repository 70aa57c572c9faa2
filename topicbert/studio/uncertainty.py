"""How sure Compare can be: each run's macro-F1 with its bootstrap interval over its test documents,
a run against a reference on the same documents (paired), and the words for a difference.

Two runs are compared only when they were tested on the same documents (documents.same_documents);
describe_test_set names what decides those documents (RunConfig.test_set) for a person.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..training.metrics import PairedF1, f1_interval, paired_f1
from .documents import same_documents
from .run_files import RunPredictions

WITHIN_NOISE = "within noise"
OTHER_DOCUMENTS = "tested on other documents"


def run_f1_interval(run: Optional[RunPredictions]) -> Optional[tuple[float, float]]:
    """A run's 95% interval of test macro-F1; None without its test predictions."""
    return f1_interval(run.labels, run.predictions) if run is not None else None


def against_reference(run: Optional[RunPredictions], reference: Optional[RunPredictions]) -> Optional[PairedF1]:
    """The run's F1 against the reference's on the same resampled documents; None if they were tested on
    other documents (or either has no test predictions)."""
    if run is None or reference is None or not same_documents(run, reference):
        return None
    return paired_f1(run.labels, run.predictions, reference.predictions)


def difference_words(paired: Optional[PairedF1]) -> str:
    """'within noise' when the difference's interval holds 0, else which way it goes."""
    if paired is None:
        return ""
    if paired.within_noise:
        return WITHIN_NOISE
    return ("higher" if paired.difference > 0 else "lower") + " beyond the noise"


def interval_text(interval: Optional[tuple[float, float]], scale: float = 1.0, digits: int = 3) -> str:
    """'0.712–0.789' (or the scaled figures, e.g. percentages); '' when there is none."""
    if interval is None:
        return ""
    low, high = interval
    return f"{low * scale:.{digits}f}–{high * scale:.{digits}f}"


def describe_test_set(test_set: str, corpus_names: dict[str, str]) -> str:
    """A RunConfig.test_set key in words: the corpus by its listed name, the seed and the limits."""
    corpus, _, _, _, seed, limit_train, limit_eval = json.loads(test_set)
    name = corpus_names.get(corpus) or Path(corpus).name
    if limit_train is None and limit_eval is None:
        sizes = "every document"
    else:
        sizes = (f"{limit_train:,}" if limit_train else "all") + " training, " + \
                (f"{limit_eval:,}" if limit_eval else "all") + " evaluation documents"
    return f"{name}, seed {seed}, {sizes}"
