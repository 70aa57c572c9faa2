"""NVDM pretraining alone (Adam), with early stopping on validation perplexity."""
from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp
import torch

from ..config import RunConfig
from ..model.nvdm import NVDM
from .evaluation import topic_model_outputs, topic_perplexity


def validation_perplexity(nvdm: NVDM, bow: sp.csr_matrix, device: torch.device) -> float:
    _, losses = topic_model_outputs(nvdm, bow, device)
    return topic_perplexity(losses, bow)


def pretrain_nvdm(nvdm: NVDM, train_bow: sp.csr_matrix, val_bow: sp.csr_matrix, config: RunConfig,
                  device: torch.device, batch_size: int = 64) -> list[float]:
    """Train NVDM alone; keep the weights of the epoch with the lowest validation perplexity.

    Returns the validation perplexity after each epoch.
    """
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(nvdm.parameters(), lr=config.nvdm_lr)
    best, best_state, history, waited = float("inf"), None, [], 0
    nvdm.train()
    for _ in range(config.nvdm_pretrain_epochs):
        order = rng.permutation(train_bow.shape[0])
        for start in range(0, len(order), batch_size):
            batch = torch.from_numpy(train_bow[order[start:start + batch_size]].toarray())
            loss = nvdm(batch.to(device)).loss.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        ppl = validation_perplexity(nvdm, val_bow, device)
        history.append(ppl)
        if ppl < best:
            best, best_state, waited = ppl, copy.deepcopy(nvdm.state_dict()), 0
        else:
            waited += 1
            if waited >= config.nvdm_patience:
                break
    if best_state is not None:
        nvdm.load_state_dict(best_state)
    return history
