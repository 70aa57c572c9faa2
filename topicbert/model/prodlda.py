"""ProdLDA (Srivastava and Sutton 2017): a topic model known for coherent topics.

x (V) -> two softplus layers -> mu, log var (K), each batch-normalised -> z = mu + sigma * eps
-> theta = softmax(z) (dropout) -> p(word) = softmax(BN(theta @ beta)). The decoder is a
product of experts: topics add in log space, and the batch normalisation measures each word
against the average document, so the corpus's common words do not swamp every topic. The prior
is the Laplace approximation of a symmetric Dirichlet(1) in the softmax basis: mean 0, variance
1 - 1/K for every topic. At evaluation z = mu and dropout is off: outputs are deterministic.

A topic's words are what the decoder predicts for a document made of that topic alone.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .topic_model import TopicModel, TopicOutput, encode_input


def _batch_norm(norm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm, but a training batch of one document (a tail batch) uses the running statistics:
    one row has no variance to normalise by."""
    if norm.training and x.shape[0] > 1:
        return norm(x)
    return _running_norm(norm, x)


def _running_norm(norm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, training=False,
                        eps=norm.eps)


def _fixed_scale_norm(size: int) -> nn.BatchNorm1d:
    """Batch normalisation that centres and scales but learns no scale of its own (as the paper's code)."""
    norm = nn.BatchNorm1d(size)
    norm.weight.requires_grad_(False)
    return norm


class ProdLDA(TopicModel):
    # the paper's Adam: a higher rate and high momentum, which its noisy batch-normalised ELBO needs
    pretrain_lr = 2e-3
    pretrain_betas = (0.99, 0.999)

    def __init__(self, vocab_size: int, n_topics: int = 100, hidden: int = 256, inputs: str = "log1p",
                 dropout: float = 0.2) -> None:
        super().__init__()
        encode_input(torch.zeros(1, 1), inputs)  # an unknown choice fails here, not mid-run
        self.vocab_size = vocab_size
        self.n_topics = n_topics
        self.inputs = inputs
        self.encoder = nn.Sequential(nn.Linear(vocab_size, hidden), nn.Softplus(),
                                     nn.Linear(hidden, hidden), nn.Softplus(), nn.Dropout(dropout))
        self.mu = nn.Linear(hidden, n_topics)
        self.log_var = nn.Linear(hidden, n_topics)
        self.mu_norm = _fixed_scale_norm(n_topics)
        self.log_var_norm = _fixed_scale_norm(n_topics)
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Linear(n_topics, vocab_size, bias=False)     # (V, K)
        self.decoder_norm = _fixed_scale_norm(vocab_size)
        prior_var = 1.0 - 1.0 / n_topics
        self.register_buffer("prior_var", torch.tensor(prior_var), persistent=False)
        self.prior_log_var = math.log(prior_var)

    def forward(self, bow: torch.Tensor) -> TopicOutput:
        bow = bow.float()                                                       # (B, V) word counts
        hidden = self.encoder(encode_input(bow, self.inputs))                   # (B, H)
        mu = _batch_norm(self.mu_norm, self.mu(hidden))                         # (B, K)
        log_var = _batch_norm(self.log_var_norm, self.log_var(hidden))          # (B, K)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu) if self.training else mu
        theta = torch.softmax(z, dim=-1)                                        # (B, K)
        logits = _batch_norm(self.decoder_norm, self.beta(self.theta_dropout(theta)))   # (B, V)
        reconstruction = -(bow * F.log_softmax(logits, dim=-1)).sum(dim=-1)
        kl = 0.5 * ((log_var.exp() + mu.pow(2)) / self.prior_var + self.prior_log_var - log_var - 1).sum(dim=-1)
        return TopicOutput(h=theta, theta=theta, loss=reconstruction + kl, reconstruction=reconstruction, kl=kl)

    def topic_word_weights(self) -> torch.Tensor:
        return self.beta.weight.t()                                             # (K, V)

    def topic_word_distribution(self) -> torch.Tensor:
        """(K, V): p(word | a document that is all topic k), as the decoder predicts it at evaluation."""
        with torch.no_grad():
            return torch.softmax(_running_norm(self.decoder_norm, self.topic_word_weights().float()), dim=-1)
