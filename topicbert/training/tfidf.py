"""The TF-IDF reference: word 1-2-gram TF-IDF and a linear SVM, on a run's own split.

It is what a careful user tries first (Joachims 1998): it trains in seconds on a CPU, so it is the
cheapest point on every F1-against-energy plot. An SVM gives margins, not probabilities: the class
shares it stores (a softmax of the margins) rank the classes but are not calibrated, so no
validation loss is reported for it. It reports through the same callbacks and writes the same result
files as the loop (results.write_result), so the worker, Compare and Documents treat it like any
run. Its model is kept as arrays and JSON, never pickle.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from ..config import RunConfig
from ..data.splits import LabelledSplits, PreparedData, labelled_splits, load_run_corpus
from .callbacks import Callback
from .evaluation import validation_scores_of
from .loop_state import LoopState
from .results import TrainResult, write_result

# the recipe, the same for every corpus: the regularisation is the one setting chosen, on validation
NGRAMS = (1, 2)
MIN_DF = 2
C_GRID = (0.1, 1.0, 10.0)
MODEL_FILES = ("tfidf.npz", "tfidf_vocabulary.json")


@dataclass
class TfidfModel:
    """Fitted TF-IDF features and a linear SVM (one against the rest), as plain arrays."""
    vocabulary: list[str]      # the n-grams, in column order
    idf: np.ndarray            # (V,)
    coef: np.ndarray           # (C, V), or (1, V) for two classes
    intercept: np.ndarray      # (C,), or (1,)

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Sublinear TF-IDF, rows of unit length: what TfidfVectorizer(sublinear_tf=True) gives."""
        counts = CountVectorizer(ngram_range=NGRAMS, vocabulary=self.vocabulary, dtype=np.float64).transform(texts)
        counts.data = 1.0 + np.log(counts.data)
        return normalize(counts @ sp.diags(self.idf), copy=False).tocsr()

    def margins(self, texts: Sequence[str]) -> np.ndarray:
        """(n_docs, C) the SVM's margin for each class (for two classes, 0 and the one margin)."""
        scores = np.asarray(self.features(texts) @ self.coef.T) + self.intercept
        if scores.shape[1] == 1:
            scores = np.hstack([np.zeros_like(scores), scores])
        return scores

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n_docs, C) class shares: a softmax of the margins. Their argmax is the SVM's prediction; as
        probabilities they are not calibrated."""
        scores = self.margins(texts)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / MODEL_FILES[0], idf=self.idf, coef=self.coef, intercept=self.intercept)
        (folder / MODEL_FILES[1]).write_text(json.dumps(self.vocabulary))

    @classmethod
    def load(cls, folder: Path) -> TfidfModel:
        with np.load(folder / MODEL_FILES[0]) as arrays:
            return cls(json.loads((folder / MODEL_FILES[1]).read_text()), arrays["idf"], arrays["coef"],
                       arrays["intercept"])


def fit_tfidf(train_texts: Sequence[str], train_labels: np.ndarray, C: float, seed: int) -> TfidfModel:
    vectorizer = TfidfVectorizer(ngram_range=NGRAMS, min_df=min(MIN_DF, len(train_texts)), sublinear_tf=True)
    features = vectorizer.fit_transform(train_texts)
    classifier = LinearSVC(C=C, random_state=seed).fit(features, train_labels)
    return TfidfModel(list(vectorizer.get_feature_names_out()), vectorizer.idf_, classifier.coef_,
                      classifier.intercept_)


def fit_on_validation(train_texts: Sequence[str], train_labels: np.ndarray, val_texts: Sequence[str],
                      val_labels: np.ndarray, seed: int) -> tuple[TfidfModel, dict[str, float]]:
    """One SVM per C in C_GRID, the best on validation macro-F1 kept, with its validation scores."""
    best, best_metrics = None, None
    for C in C_GRID:
        model = fit_tfidf(train_texts, train_labels, C, seed)
        metrics = validation_scores_of(val_labels, model.probabilities(val_texts), with_loss=False)
        if best_metrics is None or metrics["val_macro_f1"] > best_metrics["val_macro_f1"]:
            best, best_metrics = model, metrics
    assert best is not None and best_metrics is not None  # C_GRID is not empty: the first C is kept at least
    return best, best_metrics


def _splits(config: RunConfig, data: PreparedData | None) -> LabelledSplits:
    """The run's texts and labels: from data the caller prepared (the benchmark), else from its corpus."""
    if data is None:
        return labelled_splits(load_run_corpus(config))
    parts = {"train": data.train, "validation": data.validation, "test": data.test}
    return LabelledSplits(data.classes, {k: v.texts for k, v in parts.items()},
                          {k: v.labels for k, v in parts.items()})


def train_tfidf(config: RunConfig, run_dir: Path, callbacks: Sequence[Callback] = (),
                data: PreparedData | None = None) -> TrainResult:
    """Fit one SVM per C in C_GRID, keep the best on validation macro-F1, test it, write the result files.

    To the callbacks it is a run of one step and one evaluation (the chosen model's)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    splits = _splits(config, data)
    started = time.perf_counter()  # as for the encoder runs, once the corpus is read
    for cb in callbacks:
        cb.on_start({"device": "cpu", "n_train": len(splits.texts["train"]),
                     "n_val": len(splits.texts["validation"]), "n_test": len(splits.texts["test"]),
                     "total_steps": 1, "steps_per_epoch": 1, "start_step": 0, "start_epoch": 0.0,
                     "classes": splits.classes, "world_size": 1, "fixed_seconds": 0.0})
    best, best_metrics = fit_on_validation(splits.texts["train"], splits.labels["train"], splits.texts["validation"],
                                           splits.labels["validation"], config.seed)
    best.save(run_dir / "best")
    fit_seconds = time.perf_counter() - started
    for cb in callbacks:
        cb.on_step(1, 1)
        cb.on_evaluate(1, 1.0, fit_seconds, best_metrics)
        cb.on_trained(fit_seconds)
    state = LoopState(step=1, best_step=1, best_val_macro_f1=best_metrics["val_macro_f1"], step_seconds=fit_seconds)
    probabilities = best.probabilities(splits.texts["test"])
    for cb in callbacks:
        cb.on_tested(len(splits.texts["test"]))
    result = write_result(config, run_dir, "cpu", splits.classes, splits.texts["test"], splits.labels["test"],
                          probabilities, state, fit_seconds)
    for cb in callbacks:
        cb.on_end(result)
    return result
