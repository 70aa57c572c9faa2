"""NVDM, the neural variational document model (Miao et al. 2016), as TopicBERT uses it.

bag of words x (V) -> 256 hidden -> mu, log sigma (K topics) -> h = mu + sigma * eps
-> log_softmax(R h + b) over the vocabulary. Loss: reconstruction + KL to N(0, I).
At evaluation h = mu, so predictions are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class NVDMOutput:
    h: torch.Tensor          # (B, K) the topic vector fed to TopicBERT
    mu: torch.Tensor         # (B, K)
    loss: torch.Tensor       # (B,) reconstruction + KL per document
    reconstruction: torch.Tensor  # (B,)
    kl: torch.Tensor         # (B,)


class NVDM(nn.Module):
    def __init__(self, vocab_size: int, n_topics: int = 100, hidden: int = 256) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.n_topics = n_topics
        self.encoder = nn.Linear(vocab_size, hidden)
        self.mu = nn.Linear(hidden, n_topics)
        self.log_sigma = nn.Linear(hidden, n_topics)
        # as in the paper's code: start with unit variance so early samples are not wild
        nn.init.zeros_(self.log_sigma.weight)
        nn.init.zeros_(self.log_sigma.bias)
        self.decoder = nn.Linear(n_topics, vocab_size)  # R: (V, K), b: (V,)

    def forward(self, bow: torch.Tensor) -> NVDMOutput:
        bow = bow.float()                                    # (B, V) word counts
        hidden = F.relu(self.encoder(bow))                   # (B, 256)
        mu = self.mu(hidden)                                 # (B, K)
        log_sigma = self.log_sigma(hidden)                   # (B, K)
        if self.training:
            h = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        else:
            h = mu
        log_prob = F.log_softmax(self.decoder(h), dim=-1)    # (B, V)
        reconstruction = -(bow * log_prob).sum(dim=-1)
        kl = -0.5 * (1 + 2 * log_sigma - mu.pow(2) - torch.exp(2 * log_sigma)).sum(dim=-1)
        return NVDMOutput(h=h, mu=mu, loss=reconstruction + kl, reconstruction=reconstruction, kl=kl)

    def topic_word_logits(self) -> torch.Tensor:
        """(K, V): each topic's weight on each word; a topic's top words are its largest."""
        return self.decoder.weight.detach().t()

    def topic_word_distribution(self) -> torch.Tensor:
        """(K, V): p(word | topic) with the decoder's bias, rows sum to 1 (for pyLDAvis)."""
        logits = self.decoder.weight.detach().t() + self.decoder.bias.detach()
        return torch.softmax(logits.float(), dim=-1)


def topic_mixture(mu: torch.Tensor) -> torch.Tensor:
    """(B, K) topic proportions of documents from their topic vectors: softmax over topics."""
    return torch.softmax(mu.float(), dim=-1)


def perplexity(losses: torch.Tensor, word_counts: torch.Tensor) -> float:
    """exp(mean over documents of loss / words), the NVDM paper's per-document perplexity."""
    keep = word_counts > 0
    return float(torch.exp((losses[keep] / word_counts[keep]).mean()))
