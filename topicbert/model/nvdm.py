"""NVDM, the neural variational document model (Miao et al. 2016), as TopicBERT uses it.

bag of words x (V) -> 256 hidden -> mu, log sigma (K topics) -> h = mu + sigma * eps
-> log_softmax(R h + b) over the vocabulary. Loss: reconstruction + KL to N(0, I).
At evaluation h = mu, so predictions are deterministic. Its topics are the columns of R;
b is the corpus-wide background, which is no topic's own.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .topic_model import TopicModel, TopicOutput, encode_input


def nvdm_proportions(h: torch.Tensor) -> torch.Tensor:
    """(B, K) NVDM's topic proportions: the softmax of its topic vector (NVDM has no mixture of its
    own; runs of earlier versions stored mu and showed this same softmax)."""
    return torch.softmax(h.float(), dim=-1)


class NVDM(TopicModel):
    def __init__(self, vocab_size: int, n_topics: int = 100, hidden: int = 256, inputs: str = "log1p") -> None:
        super().__init__()
        encode_input(torch.zeros(1, 1), inputs)  # an unknown choice fails here, not mid-run
        self.vocab_size = vocab_size
        self.n_topics = n_topics
        self.inputs = inputs
        self.encoder = nn.Linear(vocab_size, hidden)
        self.mu = nn.Linear(hidden, n_topics)
        self.log_sigma = nn.Linear(hidden, n_topics)
        # as in the paper's code: start with unit variance so early samples are not wild
        nn.init.zeros_(self.log_sigma.weight)
        nn.init.zeros_(self.log_sigma.bias)
        self.decoder = nn.Linear(n_topics, vocab_size)  # R: (V, K), b: (V,)

    def forward(self, bow: torch.Tensor, embedding: torch.Tensor | None = None) -> TopicOutput:
        bow = bow.float()                                                 # (B, V) word counts
        hidden = F.relu(self.encoder(encode_input(bow, self.inputs)))     # (B, 256)
        mu = self.mu(hidden)                                              # (B, K)
        log_sigma = self.log_sigma(hidden)                                # (B, K)
        h = mu + torch.exp(log_sigma) * torch.randn_like(mu) if self.training else mu
        log_prob = F.log_softmax(self.decoder(h), dim=-1)                 # (B, V)
        reconstruction = -(bow * log_prob).sum(dim=-1)
        kl = -0.5 * (1 + 2 * log_sigma - mu.pow(2) - torch.exp(2 * log_sigma)).sum(dim=-1)
        return TopicOutput(h=h, theta=nvdm_proportions(h), loss=reconstruction + kl,
                           reconstruction=reconstruction, kl=kl)

    def topic_word_weights(self) -> torch.Tensor:
        return self.decoder.weight.t()                                    # (K, V): R without b

