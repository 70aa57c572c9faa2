"""What a finished run leaves: its test scores (TrainResult, result.json) and the per-document files
the Studio reads later (test_predictions.npz; test_documents.json, which names the test texts kept
once in data/shared_texts; topics.npz, vocab.json).

studio/run_files.py reads what this module writes.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..config import RunConfig
from ..data.shared_texts import save_texts
from ..data.splits import PreparedData
from ..model.topic_model import TopicModel
from ..model.topicbert import TopicBERT
from ..stats.bootstrap import f1_interval
from .callbacks import Callback
from .device import uses_bf16
from .document_embeddings import add_document_embeddings
from .evaluation import evaluate, topic_model_outputs
from .loop_state import LoopState
from .metrics import confusion, macro_f1, micro_f1, per_class_report
from .topic_quality import TopicQuality, score_topics, top_word_ids, topic_words

if TYPE_CHECKING:  # late_fusion builds on the TF-IDF reference, which writes its results with this module
    from .late_fusion import LateFusion


@dataclass
class TrainResult:
    config: RunConfig
    run_dir: Path
    device: str
    classes: list[str]
    best_step: int
    steps: int                    # optimiser steps taken (fewer than planned when stopped early)
    best_val_macro_f1: float
    test_macro_f1: float
    test_macro_f1_ci: tuple[float, float]   # 95% bootstrap interval over the test documents
    test_micro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    train_seconds: float          # wall time of training: loading, topic-model pretraining, steps, validation,
                                  # best model
    step_seconds: float           # wall time inside optimiser steps only
    tokens_processed: int         # real (non-padding) word pieces fed to the encoder in training
    padded_fraction: float        # share of computed positions that were padding
    perplexity: float | None
    n_topics: int | None
    # seconds computing the documents' embeddings took (CombinedTM; None: none computed, or read from the cache)
    embedding_seconds: float | None = None
    # the folder of the earlier run whose pretrained topic model this run loaded (None: it pretrained its own)
    topic_model_fitted_by: str | None = None
    topics: list[list[tuple[str, float]]] | None = field(default=None, repr=False)
    topic_quality: TopicQuality | None = field(default=None, repr=False)   # over the training documents

    def summary(self) -> dict:
        return {
            "variant": self.config.variant, "name": self.config.name, "max_len": self.config.max_len,
            "mode": self.config.mode, "device": self.device,
            # what the run computed in, as this machine decided (the config only says what it asked for)
            "bf16": uses_bf16(torch.device(self.device), self.config) if self.config.uses_encoder else None,
            "val_macro_f1": self.best_val_macro_f1, "best_step": self.best_step, "steps": self.steps,
            "test_macro_f1": self.test_macro_f1, "test_macro_f1_ci": list(self.test_macro_f1_ci),
            "test_micro_f1": self.test_micro_f1,
            "train_seconds": self.train_seconds, "step_seconds": self.step_seconds,
            "tokens_processed": self.tokens_processed, "padded_fraction": self.padded_fraction,
            "embedding_seconds": self.embedding_seconds, "n_topics": self.n_topics, "perplexity": self.perplexity,
            "topic_model_fitted_by": self.topic_model_fitted_by,
            "run_dir": str(self.run_dir),
            "topic_model": self.config.topic_model if self.n_topics else None,
            "npmi_train": self.topic_quality.mean_npmi if self.topic_quality else None,
            "npmi_test": self.topic_quality.mean_npmi_held_out if self.topic_quality else None,
            "npmi_window": self.topic_quality.mean_npmi_window if self.topic_quality else None,
            "topic_diversity": self.topic_quality.diversity if self.topic_quality else None,
        }

    def details(self) -> dict:
        """The summary with per-class scores, the confusion matrix, the class names and each topic's NPMI."""
        return {**self.summary(), "per_class": self.per_class, "confusion": self.confusion,
                "classes": self.classes, "topic_npmi": self.topic_quality.npmi if self.topic_quality else None,
                "topic_npmi_window": self.topic_quality.npmi_window if self.topic_quality else None}


def test_and_write(config: RunConfig, run_dir: Path, model: TopicBERT, data: PreparedData, device: torch.device,
                   pad_id: int, state: LoopState, wall_seconds: float,
                   callbacks: Sequence[Callback] = (), fusion: LateFusion | None = None) -> TrainResult:
    """Test scores of the best model (with its wide path, `fusion`, where it has one), and the per-document
    results the app shows later. The callbacks hear on_tested once the test documents are classified (the
    TF-IDF fused in: part of classifying them), before anything is written."""
    if model.topic_model is not None and model.topic_model.reads_embeddings and data.test.embeddings is None:
        add_document_embeddings(config, device, data.test)  # part of classifying them: a new document needs one
    output = evaluate(model, data.test, config, device, pad_id, fusion)
    for cb in callbacks:
        cb.on_tested(len(data.test))
    topics = quality = None
    arrays = {}
    if model.topic_model is not None:
        # a run with a topic model had its vocabulary prepared, and its evaluation gives topic mixtures
        assert data.vocabulary is not None and output.topic_mixtures is not None
        topics = topic_words(model.topic_model, data.vocabulary.words)
        quality = _write_topics(run_dir, model.topic_model, data, device)
        arrays["topic_mixtures"] = output.topic_mixtures.astype(np.float32)
    return write_result(config, run_dir, str(device), data.classes, data.test.texts, data.test.labels,
                        output.probabilities, state, wall_seconds, arrays, topics, output.perplexity, quality)


def write_result(config: RunConfig, run_dir: Path, device: str, classes: list[str], test_texts: list[str],
                 test_labels: np.ndarray, probabilities: np.ndarray, state: LoopState, wall_seconds: float,
                 extra_arrays: dict | None = None, topics: list | None = None,
                 perplexity: float | None = None, topic_quality: TopicQuality | None = None) -> TrainResult:
    """Any model's test results: scores, test_predictions.npz, test_documents.json and result.json.

    `state`: where training ended (its steps, best step and F1, step time, word pieces).
    """
    predictions = probabilities.argmax(axis=1)
    np.savez_compressed(run_dir / "test_predictions.npz", labels=test_labels,
                        probabilities=probabilities.astype(np.float32), **(extra_arrays or {}))
    # the texts themselves once for every run tested on the same documents; the run names them
    (run_dir / "test_documents.json").write_text(json.dumps(
        {"classes": classes, "texts_digest": save_texts(test_texts)}))
    total = state.tokens + state.padded
    result = TrainResult(
        config=config, run_dir=run_dir, device=device, classes=classes,
        best_step=state.best_step, steps=state.step, best_val_macro_f1=state.best_val_macro_f1,
        test_macro_f1=macro_f1(test_labels, predictions), test_macro_f1_ci=f1_interval(test_labels, predictions),
        test_micro_f1=micro_f1(test_labels, predictions),
        per_class=per_class_report(test_labels, predictions, classes),
        confusion=confusion(test_labels, predictions, len(classes)),
        train_seconds=wall_seconds, step_seconds=state.step_seconds,
        tokens_processed=state.tokens, padded_fraction=state.padded / total if total else 0.0,
        embedding_seconds=state.embedding_seconds, topic_model_fitted_by=state.topic_model_fitted_by,
        perplexity=perplexity, n_topics=config.n_topics if config.use_topics else None, topics=topics,
        topic_quality=topic_quality)
    (run_dir / "result.json").write_text(json.dumps(result.details(), indent=1))
    return result


def _write_topics(run_dir: Path, topic_model: TopicModel, data: PreparedData, device: torch.device) -> TopicQuality:
    """What the topic map needs (p(word | topic), the training documents' topic mixtures and
    lengths, the vocabulary), and the topics' quality: each topic's NPMI over the training documents
    and over 10-word windows of their texts, and NPMI over the test documents, once the model is
    final (it never saw them)."""
    # a run with a topic model had its vocabulary and bags of words prepared
    assert data.vocabulary is not None and data.train.bow is not None
    distribution = topic_model.topic_word_distribution().cpu().numpy()
    mixtures, _ = topic_model_outputs(topic_model, data.train.topic_inputs, device)
    np.savez_compressed(
        run_dir / "topics.npz",
        topic_term=distribution.astype(np.float32),
        doc_topic=mixtures.astype(np.float32),
        doc_lengths=np.asarray(data.train.bow.sum(axis=1)).ravel(),
        term_frequency=np.asarray(data.train.bow.sum(axis=0)).ravel())
    data.vocabulary.save(run_dir / "vocab.json")
    return score_topics(top_word_ids(distribution), data.train.bow, data.vocabulary.word_sequences(data.train.texts),
                        held_out=data.test.bow)
