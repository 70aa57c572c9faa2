"""How sure Compare can be: each run's macro-F1 with its bootstrap over its test documents, runs that differ
only by seed taken together (stats/noise.py: their interval covers the seeds and the documents), a group
against a reference on the same documents seed by seed (paired), and the words for a difference.

Two runs are compared only when they were tested on the same documents (documents.same_documents);
describe_test_set names what decides those documents (RunConfig.test_set) for a person.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..stats.bootstrap import bootstrap_samples, f1_interval, macro_f1_samples
from ..stats.noise import (
    HIGHER,
    LOWER,
    WITHIN_NOISE,
    NoiseInterval,
    as_share,
    difference_over_seeds,
    mean_over_seeds,
)
from ..training.metrics import macro_f1
from .run_files import RunPredictions

OTHER_DOCUMENTS = "tested on other documents"


@dataclass(frozen=True)
class RunScores:
    """A run's test macro-F1 and its value on each bootstrap resample of its test documents (the resamples of a
    test set of one size are drawn alike: bootstrap_samples' default seed), and which documents those were."""
    f1: float
    samples: np.ndarray
    documents: tuple     # (classes, texts digest): equal for runs tested on the same documents


def run_scores(run: RunPredictions | None) -> RunScores | None:
    """None without test predictions."""
    if run is None:
        return None
    samples = macro_f1_samples(run.labels, run.predictions, bootstrap_samples(len(run.labels)))
    return RunScores(macro_f1(run.labels, run.predictions), samples, (tuple(run.classes), run.texts_digest))


def run_f1_interval(run: RunPredictions | None) -> tuple[float, float] | None:
    """A run's 95% interval of test macro-F1 over its test documents; None without its test predictions."""
    return f1_interval(run.labels, run.predictions) if run is not None else None


def f1_over_seeds(scores: Sequence[RunScores]) -> NoiseInterval:
    """The mean test macro-F1 of runs that differ only by seed (one run: its test documents alone)."""
    return mean_over_seeds([s.f1 for s in scores], [s.samples for s in scores])


@dataclass(frozen=True)
class Comparison:
    """Runs against their reference, seed by seed on the same documents: F1 difference and share retained."""
    difference: NoiseInterval
    retained: NoiseInterval


def compare_over_seeds(pairs: Sequence[tuple[RunScores, RunScores]]) -> Comparison | None:
    """(run, reference) of each seed both ran; None if there is none, or a pair was tested on other documents."""
    if not pairs or any(run.documents != reference.documents for run, reference in pairs):
        return None
    difference = difference_over_seeds([r.f1 for r, _ in pairs], [r.samples for r, _ in pairs],
                                       [ref.f1 for _, ref in pairs], [ref.samples for _, ref in pairs])
    return Comparison(difference, as_share(difference, float(np.mean([ref.f1 for _, ref in pairs]))))


def difference_words(difference: NoiseInterval | None) -> str:
    """Higher or lower beyond the noise, or within noise; '' without a comparison."""
    if difference is None:
        return ""
    return f"{difference.verdict} beyond the noise" if difference.verdict in (HIGHER, LOWER) else WITHIN_NOISE


def covers_words(difference: NoiseInterval | None) -> str:
    """What a verdict covers: one seed's test documents, or several seeds and their test documents."""
    if difference is None:
        return ""
    return ("one seed's test documents only" if difference.documents_only
            else f"{difference.seeds} seeds and their test documents")


def interval_text(interval: tuple[float, float] | None, scale: float = 1.0, digits: int = 3,
                  signed: bool = False) -> str:
    """'0.712–0.789' (or the scaled figures, e.g. percentages); `signed`, for a difference: '-0.0120 to +0.0050'
    (a dash between two signed figures reads as a minus); '' when there is none."""
    if interval is None:
        return ""
    low, high = interval
    if signed:
        return f"{low * scale:+.{digits}f} to {high * scale:+.{digits}f}"
    return f"{low * scale:.{digits}f}–{high * scale:.{digits}f}"


def describe_test_set(test_set: str, corpus_names: dict[str, str], seeds: Sequence[int] | None = None) -> str:
    """A RunConfig.test_set key in words: the corpus by its listed name, the seed (or `seeds`, for runs that
    differ only by seed) and the limits."""
    corpus, _, _, _, seed, limit_train, limit_eval = json.loads(test_set)
    name = corpus_names.get(corpus) or Path(corpus).name
    if limit_train is None and limit_eval is None:
        sizes = "every document"
    else:
        sizes = (f"{limit_train:,}" if limit_train else "all") + " training, " + \
                (f"{limit_eval:,}" if limit_eval else "all") + " evaluation documents"
    if seeds and len(seeds) > 1:
        return f"{name}, seeds {', '.join(map(str, seeds[:-1]))} and {seeds[-1]} (each its own), {sizes}"
    return f"{name}, seed {seed}, {sizes}"
