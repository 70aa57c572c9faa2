"""The topic model pretrained alone (Adam), early-stopped on validation perplexity, on a schedule sized
to the corpus: every corpus gets the model's minimum steps, however few batches an epoch holds."""
from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..config import RunConfig
from ..data.batching import TopicInputs
from ..model.topic_model import TopicModel
from .evaluation import topic_model_outputs, topic_perplexity

PRETRAIN_BATCH = 64
# the epochs pretraining may take, unless the model's minimum steps need more (a small corpus), up to a
# bound: 400 documents (7 batches an epoch) get ProdLDA's 1,500 steps in 215 epochs; 70 documents (2
# batches) stop at 250 epochs, 500 steps, rather than validate 750 times
PRETRAIN_EPOCHS, MOST_PRETRAIN_EPOCHS = 50, 250


def pretrain_batches(n_train_docs: int, batch_size: int = PRETRAIN_BATCH) -> int:
    """Optimiser steps in one epoch of pretraining."""
    return max(1, math.ceil(n_train_docs / batch_size))


def pretrain_epochs(config: RunConfig, n_train_docs: int, min_steps: int, batch_size: int = PRETRAIN_BATCH) -> int:
    """The most epochs pretraining takes: the run's tm_pretrain_epochs if set; else PRETRAIN_EPOCHS, or, where
    that many epochs hold fewer than `min_steps` steps (400 documents: 7 batches an epoch), enough epochs
    for them and for the patience after them, up to MOST_PRETRAIN_EPOCHS."""
    if config.tm_pretrain_epochs is not None:
        return config.tm_pretrain_epochs
    for_steps = math.ceil(min_steps / pretrain_batches(n_train_docs, batch_size)) + config.tm_patience
    return max(PRETRAIN_EPOCHS, min(MOST_PRETRAIN_EPOCHS, for_steps))


def validation_perplexity(topic_model: TopicModel, inputs: TopicInputs, device: torch.device) -> float:
    _, losses = topic_model_outputs(topic_model, inputs, device)
    return topic_perplexity(losses, inputs.bow)


def pretrain_topic_model(topic_model: TopicModel, train: TopicInputs, validation: TopicInputs,
                         config: RunConfig, device: torch.device, batch_size: int = PRETRAIN_BATCH) -> list[float]:
    """Train the topic model alone; keep the weights of the epoch with the lowest validation perplexity.

    Stops after config.tm_patience epochs without a better one, once the model's pretrain_min_steps
    optimiser steps are done, or after pretrain_epochs. Returns the validation perplexity after each epoch.
    """
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam([p for p in topic_model.parameters() if p.requires_grad],
                                 lr=config.tm_lr or topic_model.pretrain_lr, betas=topic_model.pretrain_betas)
    best, best_state, history, waited, steps = float("inf"), None, [], 0, 0
    topic_model.train()
    for _ in range(pretrain_epochs(config, len(train), topic_model.pretrain_min_steps, batch_size)):
        order = rng.permutation(len(train))
        for start in range(0, len(order), batch_size):
            loss = topic_model(*train.rows(order[start:start + batch_size], device)).loss.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        ppl = validation_perplexity(topic_model, validation, device)
        history.append(ppl)
        if ppl < best:
            best, best_state, waited = ppl, copy.deepcopy(topic_model.state_dict()), 0
        else:
            waited += 1
            if waited >= config.tm_patience and steps >= topic_model.pretrain_min_steps:
                break
    if best_state is not None:
        topic_model.load_state_dict(best_state)
    # the last batch's gradients must not reach fine-tuning's first step, which adds to what .grad holds
    optimizer.zero_grad(set_to_none=True)
    return history
