"""Evaluation: class probabilities per document (partition chunks averaged; with the wide path, the TF-IDF
reference fused in), and the topic model's document proportions, losses and perplexity."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch

from ..config import RunConfig
from ..data.batching import TopicInputs, average_chunk_probabilities, iterate_batches, sorted_order
from ..data.splits import SplitData
from ..model.topic_model import TopicModel, perplexity
from ..model.topicbert import TopicBERT
from .device import autocast
from .metrics import macro_f1, micro_f1

if TYPE_CHECKING:  # late_fusion builds on this module (and on the TF-IDF reference, which does too)
    from .late_fusion import LateFusion


@dataclass
class EvalOutput:
    probabilities: np.ndarray        # (n_docs, C), chunk softmaxes averaged per document
    loss: float                      # mean cross-entropy of the document probabilities
    topic_mixtures: np.ndarray | None  # (n_docs, K) topic proportions, TopicBERT only
    perplexity: float | None

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def with_probabilities(self, probabilities: np.ndarray, labels: np.ndarray) -> EvalOutput:
        """The same documents' output with other class probabilities (the wide path's fused ones), and their loss."""
        return dataclasses.replace(self, probabilities=probabilities,
                                   loss=document_loss(torch.from_numpy(probabilities), labels))


@torch.inference_mode()
def evaluate(model: TopicBERT, split: SplitData, config: RunConfig, device: torch.device,
             pad_id: int, fusion: LateFusion | None = None) -> EvalOutput:
    """The model's output on every document of `split`; `fusion`: a run's wide path, fused into its probabilities."""
    model.eval()
    order = sorted_order(split.example_lengths, config.eval_batch_size)
    chunk_probs, chunk_docs = [], []
    for batch in iterate_batches(split.examples, order, split.labels, split.bow, pad_id, split.embeddings):
        batch = batch.to(device)
        with autocast(device, config):
            out = model(batch.input_ids, batch.attention_mask, batch.bow, embedding=batch.embedding)
        chunk_probs.append(torch.softmax(out.logits.float(), dim=-1).cpu())
        chunk_docs.append(batch.docs)
    probs = average_chunk_probabilities(torch.cat(chunk_probs), torch.cat(chunk_docs), len(split))
    loss = document_loss(probs, split.labels)
    mixtures = ppl = None
    if model.topic_model is not None:
        mixtures, losses = topic_model_outputs(model.topic_model, split.topic_inputs, device)
        ppl = topic_perplexity(losses, split.bow)
    model.train()
    output = EvalOutput(probs.numpy(), loss, mixtures, ppl)
    if fusion is None:
        return output
    return output.with_probabilities(fusion.fuse(output.probabilities, split.texts), split.labels)


@torch.inference_mode()
def topic_model_outputs(topic_model: TopicModel, inputs: TopicInputs, device: torch.device,
                        batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Topic proportions (n_docs, K) and losses (n_docs,) of every document in `inputs`, in evaluation
    mode: deterministic."""
    was_training = topic_model.training
    topic_model.eval()
    mixtures, losses = [], []
    for start in range(0, len(inputs), batch_size):
        out = topic_model(*inputs.rows(slice(start, start + batch_size), device))
        mixtures.append(out.theta.float().cpu())
        losses.append(out.loss.float().cpu())
    topic_model.train(was_training)
    return torch.cat(mixtures).numpy(), torch.cat(losses).numpy()


def topic_perplexity(losses: np.ndarray, bow: sp.csr_matrix) -> float:
    """The topic model's perplexity over the documents of `bow`, from their losses."""
    return perplexity(torch.from_numpy(losses), torch.from_numpy(np.asarray(bow.sum(axis=1)).ravel()))


def validation_scores(split: SplitData, output: EvalOutput) -> dict[str, float]:
    """What each evaluation reports: val macro-F1, micro-F1, loss and (TopicBERT) perplexity."""
    metrics = validation_scores_of(split.labels, output.probabilities)
    if output.perplexity is not None:
        metrics["val_perplexity"] = output.perplexity
    return metrics


def validation_scores_of(labels: np.ndarray, probabilities: np.ndarray, with_loss: bool = True) -> dict[str, float]:
    """Any classifier's validation scores from its class probabilities: macro-F1, micro-F1 and (where the
    probabilities are calibrated) the loss."""
    predictions = probabilities.argmax(axis=1)
    scores = {"val_macro_f1": macro_f1(labels, predictions), "val_micro_f1": micro_f1(labels, predictions)}
    if with_loss:
        scores["val_loss"] = document_loss(torch.from_numpy(np.asarray(probabilities)), labels)
    return scores


def document_loss(probabilities: torch.Tensor, labels: np.ndarray) -> float:
    """Mean cross-entropy of the documents' class probabilities."""
    return float(torch.nn.functional.nll_loss(torch.log(probabilities.clamp_min(1e-12)), torch.from_numpy(labels)))
