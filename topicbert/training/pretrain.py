"""The topic model pretrained alone (Adam), early-stopped on validation perplexity."""
from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp
import torch

from ..config import RunConfig
from ..model.topic_model import TopicModel
from .evaluation import topic_model_outputs, topic_perplexity


def validation_perplexity(topic_model: TopicModel, bow: sp.csr_matrix, device: torch.device) -> float:
    _, losses = topic_model_outputs(topic_model, bow, device)
    return topic_perplexity(losses, bow)


def pretrain_topic_model(topic_model: TopicModel, train_bow: sp.csr_matrix, val_bow: sp.csr_matrix,
                         config: RunConfig, device: torch.device, batch_size: int = 64) -> list[float]:
    """Train the topic model alone; keep the weights of the epoch with the lowest validation perplexity.

    Stops after config.tm_patience epochs without a better one, once the model's pretrain_min_steps
    optimiser steps are done. Returns the validation perplexity after each epoch.
    """
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam([p for p in topic_model.parameters() if p.requires_grad],
                                 lr=config.tm_lr or topic_model.pretrain_lr, betas=topic_model.pretrain_betas)
    best, best_state, history, waited, steps = float("inf"), None, [], 0, 0
    topic_model.train()
    for _ in range(config.tm_pretrain_epochs):
        order = rng.permutation(train_bow.shape[0])
        for start in range(0, len(order), batch_size):
            batch = torch.from_numpy(train_bow[order[start:start + batch_size]].toarray())
            loss = topic_model(batch.to(device)).loss.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        ppl = validation_perplexity(topic_model, val_bow, device)
        history.append(ppl)
        if ppl < best:
            best, best_state, waited = ppl, copy.deepcopy(topic_model.state_dict()), 0
        else:
            waited += 1
            if waited >= config.tm_patience and steps >= topic_model.pretrain_min_steps:
                break
    if best_state is not None:
        topic_model.load_state_dict(best_state)
    return history
