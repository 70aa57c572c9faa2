"""The wide path beside the encoder: the TF-IDF reference fused into an encoder's class probabilities.

The encoder reads at most max_len word pieces of a document and the topic model 50 numbers of it; the TF-IDF
reference reads every word. The two are fused as a weighted product of experts,
p(c) ∝ p_encoder(c) · softmax(m)(c)^w, with m the SVM's margins (its uncalibrated class shares are softmax(m)):
a product rather than a mixture because w then sets the SVM's temperature as well as its say. w is chosen on the
validation documents at every evaluation, from 0 (the encoder alone) to where the margins outweigh any encoder;
the validation macro-F1 an evaluation reports is the chosen weight's on the documents that chose it, so a little
optimistic (as the best epoch's is, chosen on them too), while the test F1 is not.
Classifying a document adds its TF-IDF row times the SVM's weights to the encoder's pass: a sparse product.

What a loader needs (LateFusion.load reads it, evaluation.evaluate(..., fusion) applies it): the run's best/
holds, beside the encoder and head, the TF-IDF model as the reference keeps it (tfidf.npz, tfidf_vocabulary.json)
and the weight (late_fusion.json), all written in the same swap as the encoder (checkpoints.save_best).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..data.splits import PreparedData
from .evaluation import validation_scores_of
from .tfidf import MODEL_FILES, TfidfModel, fit_on_validation

# w: 0, then doubling from a quarter (the margins a nudge) to 256. The SVM's margins are close together (on 20
# Newsgroups, 500 posts: a median gap of 0.06 between a document's first two classes, where the encoder's log
# probabilities are 1.0 apart), so it takes w near 16 to give the two views an equal say, and the top of the grid
# lets the margins decide (that run's validation F1 peaked at w = 32; a grid stopping at 16 chose its edge)
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
WEIGHT_FILE = "late_fusion.json"
FILES = (*MODEL_FILES, WEIGHT_FILE)
# the floor of a probability before its log, as evaluation.document_loss takes it
TINY = 1e-12


def fuse(encoder_probabilities: np.ndarray, margins: np.ndarray, weight: float) -> np.ndarray:
    """(n_docs, C) p_encoder · softmax(margins)^weight, normalised per document (float32, as evaluations keep)."""
    scores = np.log(np.clip(encoder_probabilities.astype(np.float64), TINY, None)) + weight * margins
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class LateFusion:
    """The TF-IDF reference of a run with the wide path and the weight its best evaluation chose."""
    tfidf: TfidfModel
    weight: float

    def fuse(self, encoder_probabilities: np.ndarray, texts: list[str]) -> np.ndarray:
        """The fused class probabilities of `texts`, given the encoder's."""
        return fuse(encoder_probabilities, self.tfidf.margins(texts), self.weight)

    def save(self, folder: Path) -> None:
        self.tfidf.save(folder)
        (folder / WEIGHT_FILE).write_text(json.dumps({"tfidf_weight": self.weight}))

    @classmethod
    def load(cls, folder: Path) -> LateFusion:
        weight = json.loads((folder / WEIGHT_FILE).read_text())["tfidf_weight"]
        return cls(TfidfModel.load(folder), float(weight))


def load_fusion(folder: Path, config: RunConfig) -> LateFusion | None:
    """What a run's best/ (or a folder exported from it) keeps of the wide path; None for a run without one."""
    return LateFusion.load(Path(folder)) if config.tfidf_fusion else None


@dataclass
class ValidationFusion:
    """The TF-IDF reference fitted for a run (its C chosen on validation, as the reference's is), with its
    margins on the validation documents, computed once for every evaluation."""
    tfidf: TfidfModel
    margins: np.ndarray
    labels: np.ndarray

    @classmethod
    def fit(cls, data: PreparedData, seed: int) -> ValidationFusion:
        tfidf, _ = fit_on_validation(data.train.texts, data.train.labels, data.validation.texts,
                                     data.validation.labels, seed)
        return cls(tfidf, tfidf.margins(data.validation.texts), data.validation.labels)

    def weigh(self, encoder_probabilities: np.ndarray) -> tuple[LateFusion, np.ndarray]:
        """The weight whose fusion with the encoder as it stands scores the best validation macro-F1 (on a tie,
        the lower validation loss, then the smaller weight), with the validation documents' fused probabilities."""
        best: tuple[tuple[float, float], float, np.ndarray] | None = None
        for weight in WEIGHTS:
            fused = fuse(encoder_probabilities, self.margins, weight)
            scores = validation_scores_of(self.labels, fused)
            rank = (scores["val_macro_f1"], -scores["val_loss"])
            if best is None or rank > best[0]:
                best = (rank, weight, fused)
        assert best is not None  # WEIGHTS is not empty
        return LateFusion(self.tfidf, best[1]), best[2]
