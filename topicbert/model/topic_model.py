"""What every topic model gives TopicBERT and the Studio, whichever model runs.

A topic model reads a document's bag of words x (V word counts), and a contextual one also the
document's embedding e (E numbers, from a sentence encoder), and gives:
- h: the (K,) vector that reaches TopicBERT's fusion layer;
- theta: the document's topic proportions (K,), summing to 1;
- loss: the negative evidence lower bound of x (reconstruction + KL), which scores the raw counts.

Its topics are rows of `topic_word_distribution()`, (K, V): p(word | topic), each model saying
what that is (NVDM: the softmax of the topic's own decoder weights, without the corpus-wide
background bias that would give every topic the same common words; ProdLDA: what its decoder
predicts for a document made of that topic alone). A topic's words are its heaviest. The table,
the map, the topic labels and NPMI all read that one matrix.

What the encoder sees is normalised (`encode_input`): raw counts of a 50,000-word document
would overflow a linear layer, and long documents would swamp short ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

INPUTS = ("log1p", "frequency", "counts")


@dataclass
class TopicOutput:
    h: torch.Tensor               # (B, K) the topic vector fed to TopicBERT
    theta: torch.Tensor           # (B, K) topic proportions, rows sum to 1
    loss: torch.Tensor            # (B,) reconstruction + KL per document
    reconstruction: torch.Tensor  # (B,) -sum(x * log p(word))
    kl: torch.Tensor              # (B,)


def encode_input(bow: torch.Tensor, how: str) -> torch.Tensor:
    """What the encoder reads of (B, V) word counts: log(1 + counts), counts over the document's
    length, or the raw counts (the paper's NVDM)."""
    if how == "log1p":
        return torch.log1p(bow)
    if how == "frequency":
        return bow / bow.sum(dim=-1, keepdim=True).clamp_min(1.0)
    if how == "counts":
        return bow
    raise ValueError(f"unknown topic-model input {how!r}; choose one of {INPUTS}")


class TopicModel(nn.Module):
    """The part every topic model shares; subclasses define forward and topic_word_weights."""

    n_topics: int
    vocab_size: int
    # whether its encoder reads each document's embedding beside the bag of words, and how wide that is
    reads_embeddings: bool = False
    embedding_size: int = 0
    # Adam for pretraining alone, as each model's paper trains it (RunConfig.tm_lr overrides the rate)
    pretrain_lr: float = 1e-3
    pretrain_betas: tuple[float, float] = (0.9, 0.999)
    # optimiser steps pretraining may take on a corpus too small for PRETRAIN_EPOCHS to hold them
    # (training/pretrain.py: pretrain_epochs); 0: PRETRAIN_EPOCHS whatever the corpus
    pretrain_steps: int = 0

    def forward(self, bow: torch.Tensor, embedding: torch.Tensor | None = None) -> TopicOutput:
        """bow: (B, V) word counts; embedding: (B, E) document embeddings, for a model that reads them."""
        raise NotImplementedError

    def topic_word_weights(self) -> torch.Tensor:
        """(K, V): each topic's own weight on each word."""
        raise NotImplementedError

    def topic_word_distribution(self) -> torch.Tensor:
        """(K, V): p(word | topic); rows sum to 1. By default the softmax of the topic's own weights."""
        return torch.softmax(self.topic_word_weights().detach().float(), dim=-1)


def perplexity(losses: torch.Tensor, word_counts: torch.Tensor) -> float:
    """exp(mean over documents of loss / words), the NVDM paper's per-document perplexity;
    documents with no topic word are left out (they have nothing to predict)."""
    keep = word_counts > 0
    return float(torch.exp((losses[keep].double() / word_counts[keep].double()).mean()))
