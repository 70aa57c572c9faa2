"""What a finished run leaves: its test scores (TrainResult, result.json) and the per-document files
the Studio reads later (test_predictions.npz; test_documents.json, which names the test texts kept
once in data/shared_texts; topics.npz, vocab.json).

studio/run_files.py reads what this module writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..config import RunConfig
from ..data.shared_texts import save_texts
from ..data.splits import PreparedData
from ..model.nvdm import NVDM, topic_mixture
from ..model.topicbert import TopicBERT
from .evaluation import evaluate, topic_model_outputs
from .metrics import confusion, f1_interval, macro_f1, micro_f1, per_class_report

TOP_WORDS = 10


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
    train_seconds: float          # wall time of training: loading, NVDM pretraining, steps, validation, best model
    step_seconds: float           # wall time inside optimiser steps only
    tokens_processed: int         # real (non-padding) word pieces fed to the encoder in training
    padded_fraction: float        # share of computed positions that were padding
    perplexity: Optional[float]
    n_topics: Optional[int]
    topics: Optional[list[list[tuple[str, float]]]] = field(default=None, repr=False)

    def summary(self) -> dict:
        return {
            "variant": self.config.variant, "name": self.config.name, "max_len": self.config.max_len,
            "mode": self.config.mode, "device": self.device,
            "val_macro_f1": self.best_val_macro_f1, "best_step": self.best_step, "steps": self.steps,
            "test_macro_f1": self.test_macro_f1, "test_macro_f1_ci": list(self.test_macro_f1_ci),
            "test_micro_f1": self.test_micro_f1,
            "train_seconds": self.train_seconds, "step_seconds": self.step_seconds,
            "tokens_processed": self.tokens_processed, "padded_fraction": self.padded_fraction,
            "n_topics": self.n_topics, "perplexity": self.perplexity, "run_dir": str(self.run_dir),
        }

    def details(self) -> dict:
        """The summary with per-class scores, the confusion matrix and the class names."""
        return {**self.summary(), "per_class": self.per_class, "confusion": self.confusion,
                "classes": self.classes}


def test_and_write(config: RunConfig, run_dir: Path, model: TopicBERT, data: PreparedData, device: torch.device,
                   pad_id: int, state: dict, wall_seconds: float) -> TrainResult:
    """Test scores of the best model, and the per-document results the app shows later."""
    output = evaluate(model, data.test, config, device, pad_id)
    topics = ppl = None
    arrays = {}
    if model.nvdm is not None:
        ppl = output.perplexity
        topics = top_words(model.nvdm, data.vocabulary.words)
        arrays["topic_vectors"] = output.topic_vectors.astype(np.float32)
        _save_topic_arrays(run_dir, model.nvdm, data, device)
    return write_result(config, run_dir, str(device), data.classes, data.test.texts, data.test.labels,
                        output.probabilities, state, wall_seconds, arrays, topics, ppl)


def write_result(config: RunConfig, run_dir: Path, device: str, classes: list[str], test_texts: list[str],
                 test_labels: np.ndarray, probabilities: np.ndarray, state: dict, wall_seconds: float,
                 extra_arrays: Optional[dict] = None, topics: Optional[list] = None,
                 perplexity: Optional[float] = None) -> TrainResult:
    """Any model's test results: scores, test_predictions.npz, test_documents.json and result.json.

    `state`: step, best_step, best_val_macro_f1, step_seconds, tokens, padded (as the loop keeps them).
    """
    predictions = probabilities.argmax(axis=1)
    np.savez_compressed(run_dir / "test_predictions.npz", labels=test_labels,
                        probabilities=probabilities.astype(np.float32), **(extra_arrays or {}))
    # the texts themselves once for every run tested on the same documents; the run names them
    (run_dir / "test_documents.json").write_text(json.dumps(
        {"classes": classes, "texts_digest": save_texts(test_texts)}))
    total = state["tokens"] + state["padded"]
    result = TrainResult(
        config=config, run_dir=run_dir, device=device, classes=classes,
        best_step=state["best_step"], steps=state["step"], best_val_macro_f1=state["best_val_macro_f1"],
        test_macro_f1=macro_f1(test_labels, predictions), test_macro_f1_ci=f1_interval(test_labels, predictions),
        test_micro_f1=micro_f1(test_labels, predictions),
        per_class=per_class_report(test_labels, predictions, classes),
        confusion=confusion(test_labels, predictions, len(classes)),
        train_seconds=wall_seconds, step_seconds=state["step_seconds"],
        tokens_processed=state["tokens"], padded_fraction=state["padded"] / total if total else 0.0,
        perplexity=perplexity, n_topics=config.n_topics if config.use_topics else None, topics=topics)
    (run_dir / "result.json").write_text(json.dumps(result.details(), indent=1))
    return result


def top_words(nvdm: NVDM, words: Sequence[str], k: int = TOP_WORDS) -> list[list[tuple[str, float]]]:
    weights = nvdm.topic_word_logits().float().cpu()
    values, indices = weights.topk(min(k, weights.shape[1]), dim=1)
    return [[(words[i], float(v)) for v, i in zip(row_v.tolist(), row_i.tolist())]
            for row_v, row_i in zip(values, indices)]


def _save_topic_arrays(run_dir: Path, nvdm: NVDM, data: PreparedData, device: torch.device) -> None:
    """What pyLDAvis needs: p(word|topic), training documents' topic mixtures and lengths."""
    mu, _ = topic_model_outputs(nvdm, data.train.bow, device)
    np.savez_compressed(
        run_dir / "topics.npz",
        topic_term=nvdm.topic_word_distribution().cpu().numpy().astype(np.float32),
        doc_topic=topic_mixture(torch.from_numpy(mu)).numpy().astype(np.float32),
        doc_lengths=np.asarray(data.train.bow.sum(axis=1)).ravel(),
        term_frequency=np.asarray(data.train.bow.sum(axis=0)).ravel())
    data.vocabulary.save(run_dir / "vocab.json")
