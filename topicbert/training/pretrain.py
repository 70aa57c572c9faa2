"""The topic model pretrained alone (Adam), early-stopped once its validation perplexity stops improving.

Two things make "stops improving" hold on ProdLDA's curve. Patience counts only once the model explains the
validation documents better than word frequencies alone (a unigram model): before that its perplexity dips
after an epoch, climbs and falls again (400 BBC News documents: lowest at epoch 1, highest at 4, below
epoch 1 again at 12, below the unigram model at 37), and stopping in the dip keeps a model without topics.
And an epoch counts as progress only if it lowers the best perplexity by MIN_GAIN: late epochs shave off a
fraction of a point of 760 and would hold pretraining for hundreds of steps more (400 BBC News documents: it
stops after 930-1,030 steps, where 1,500 were the former minimum, with topics as coherent; a drop of 0.5%
stopped at 700 and lost 0.03 of windowed NPMI: BENCHMARKS.md, benchmarks/pretrain_stop.py)."""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..config import RunConfig
from ..data.batching import TopicInputs
from ..model.topic_model import TopicModel
from .device import fused_optimizer
from .evaluation import topic_model_outputs, topic_perplexity
from .topic_quality import unigram_perplexity

PRETRAIN_BATCH = 64
# the least relative drop of the best validation perplexity that counts as an epoch of progress
MIN_GAIN = 0.001
# the most epochs pretraining takes, unless the model's steps bound needs more (a small corpus), up to a
# bound: 400 documents (7 batches an epoch) may take ProdLDA's 1,500 steps in 215 epochs; 70 documents (2
# batches) stop at 250 epochs, 500 steps, rather than validate 750 times
PRETRAIN_EPOCHS, MOST_PRETRAIN_EPOCHS = 50, 250


def pretrain_batches(n_train_docs: int, batch_size: int = PRETRAIN_BATCH) -> int:
    """Optimiser steps in one epoch of pretraining."""
    return max(1, math.ceil(n_train_docs / batch_size))


def pretrain_epochs(config: RunConfig, n_train_docs: int, most_steps: int, batch_size: int = PRETRAIN_BATCH) -> int:
    """The most epochs pretraining takes: the run's tm_pretrain_epochs if set; else PRETRAIN_EPOCHS, or, where
    that many epochs hold fewer than `most_steps` steps (400 documents: 7 batches an epoch), enough epochs
    for them and for the patience after them, up to MOST_PRETRAIN_EPOCHS."""
    if config.tm_pretrain_epochs is not None:
        return config.tm_pretrain_epochs
    for_steps = math.ceil(most_steps / pretrain_batches(n_train_docs, batch_size)) + config.tm_patience
    return max(PRETRAIN_EPOCHS, min(MOST_PRETRAIN_EPOCHS, for_steps))


@dataclass
class PerplexityStop:
    """When pretraining stops, from the validation perplexity after each epoch: after `patience` epochs in
    a row below `word_frequencies` (the unigram model's perplexity) without a drop of `min_gain`."""
    word_frequencies: float
    patience: int
    min_gain: float = MIN_GAIN
    best: float = math.inf
    progress: float = math.inf  # the best perplexity when an epoch last made progress
    waited: int = 0

    def update(self, perplexity: float) -> tuple[bool, bool]:
        """(whether this epoch is the best so far, whether pretraining stops after it)."""
        is_best = perplexity < self.best
        if is_best:
            self.best = perplexity
        if self.best <= self.progress * (1 - self.min_gain) or perplexity >= self.word_frequencies:
            self.progress, self.waited = self.best, 0  # the best never rises: it is the new mark
        else:
            self.waited += 1
        return is_best, self.waited >= self.patience


def validation_perplexity(topic_model: TopicModel, inputs: TopicInputs, device: torch.device) -> float:
    _, losses = topic_model_outputs(topic_model, inputs, device)
    return topic_perplexity(losses, inputs.bow)


def pretrain_topic_model(topic_model: TopicModel, train: TopicInputs, validation: TopicInputs,
                         config: RunConfig, device: torch.device, batch_size: int = PRETRAIN_BATCH,
                         on_epoch: Callable[[TopicModel, float], None] | None = None) -> list[float]:
    """Train the topic model alone; keep the weights of the epoch with the lowest validation perplexity.

    Stops as PerplexityStop says (config.tm_patience epochs) or after pretrain_epochs. Returns the validation
    perplexity after each epoch. `on_epoch` sees the model and its validation perplexity after each epoch,
    before the stopping rule (benchmarks/pretrain_stop.py scores the topics there).
    """
    rng = np.random.default_rng(config.seed)
    stop = PerplexityStop(unigram_perplexity(train.bow, validation.bow), config.tm_patience)
    optimizer = torch.optim.Adam([p for p in topic_model.parameters() if p.requires_grad],
                                 lr=config.tm_lr or topic_model.pretrain_lr, betas=topic_model.pretrain_betas,
                                 fused=fused_optimizer(device, config))
    best_state, history = None, []
    topic_model.train()
    for _ in range(pretrain_epochs(config, len(train), topic_model.pretrain_steps, batch_size)):
        order = rng.permutation(len(train))
        for start in range(0, len(order), batch_size):
            loss = topic_model(*train.rows(order[start:start + batch_size], device)).loss.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        ppl = validation_perplexity(topic_model, validation, device)
        if on_epoch is not None:
            on_epoch(topic_model, ppl)
        history.append(ppl)
        is_best, stops = stop.update(ppl)
        if is_best:
            best_state = copy.deepcopy(topic_model.state_dict())
        if stops:
            break
    if best_state is not None:
        topic_model.load_state_dict(best_state)
    # the last batch's gradients must not reach fine-tuning's first step, which adds to what .grad holds
    optimizer.zero_grad(set_to_none=True)
    return history
