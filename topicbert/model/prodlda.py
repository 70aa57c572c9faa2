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


class CentredNorm(nn.Module):
    """Batch normalisation with a learned shift and no learned scale (as the paper's code fixes it to 1),
    written out rather than nn.BatchNorm1d: its CPU kernel sums a batch in an order that follows the
    thread count, and runs must not. A training batch of one document (a tail batch) has no variance
    to normalise by and uses the running statistics, as evaluation does."""
    # buffers (register_buffer below): declared, as Module's attribute typing cannot see them
    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, size: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.bias = nn.Parameter(torch.zeros(size))
        self.register_buffer("running_mean", torch.zeros(size))
        self.register_buffer("running_var", torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in float32 under bf16 autocast too, as autocast runs batch norm: the running statistics stay float32
        x = x.float()
        if self.training and x.shape[0] > 1:
            mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
            with torch.no_grad():
                unbiased = var * x.shape[0] / (x.shape[0] - 1)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / torch.sqrt(var + self.eps) + self.bias

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """As at evaluation, whatever the mode: with the running statistics."""
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps) + self.bias


class ProdLDA(TopicModel):
    # the paper's Adam: a higher rate and high momentum, which its noisy batch-normalised ELBO needs
    pretrain_lr = 2e-3
    pretrain_betas = (0.99, 0.999)
    # It needs steps more than epochs: on 400 BBC News documents (7 batches an epoch) its validation perplexity
    # stops falling by 0.1% an epoch after 930 to 1,030 steps; one batch of all 400 was far from it after 250.
    pretrain_steps = 1500

    def __init__(self, vocab_size: int, n_topics: int = 100, hidden: int = 256, inputs: str = "log1p",
                 dropout: float = 0.2, embedding_size: int = 0) -> None:
        super().__init__()
        encode_input(torch.zeros(1, 1), inputs)  # an unknown choice fails here, not mid-run
        self.vocab_size = vocab_size
        self.n_topics = n_topics
        self.inputs = inputs
        self.embedding_size = embedding_size
        self.encoder = nn.Sequential(nn.Linear(vocab_size + embedding_size, hidden), nn.Softplus(),
                                     nn.Linear(hidden, hidden), nn.Softplus(), nn.Dropout(dropout))
        self.mu = nn.Linear(hidden, n_topics)
        self.log_var = nn.Linear(hidden, n_topics)
        self.mu_norm = CentredNorm(n_topics)
        self.log_var_norm = CentredNorm(n_topics)
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Linear(n_topics, vocab_size, bias=False)     # (V, K)
        self.decoder_norm = CentredNorm(vocab_size)
        prior_var = 1.0 - 1.0 / n_topics
        self.register_buffer("prior_var", torch.tensor(prior_var), persistent=False)
        self.prior_log_var = math.log(prior_var)

    def encoder_input(self, bow: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        """What the encoder reads: (B, V) normalised word counts (CombinedTM adds the embedding)."""
        return encode_input(bow, self.inputs)

    def forward(self, bow: torch.Tensor, embedding: torch.Tensor | None = None) -> TopicOutput:
        bow = bow.float()                                                       # (B, V) word counts
        hidden = self.encoder(self.encoder_input(bow, embedding))               # (B, H)
        mu = self.mu_norm(self.mu(hidden))                                      # (B, K)
        log_var = self.log_var_norm(self.log_var(hidden))                       # (B, K)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu) if self.training else mu
        theta = torch.softmax(z, dim=-1)                                        # (B, K)
        logits = self.decoder_norm(self.beta(self.theta_dropout(theta)))        # (B, V)
        reconstruction = -(bow * F.log_softmax(logits, dim=-1)).sum(dim=-1)
        kl = 0.5 * ((log_var.exp() + mu.pow(2)) / self.prior_var + self.prior_log_var - log_var - 1).sum(dim=-1)
        return TopicOutput(h=theta, theta=theta, loss=reconstruction + kl, reconstruction=reconstruction, kl=kl)

    def topic_word_weights(self) -> torch.Tensor:
        return self.beta.weight.t()                                             # (K, V)

    def topic_word_distribution(self) -> torch.Tensor:
        """(K, V): p(word | a document that is all topic k), as the decoder predicts it at evaluation."""
        with torch.no_grad():
            return torch.softmax(self.decoder_norm.evaluate(self.topic_word_weights().float()), dim=-1)
