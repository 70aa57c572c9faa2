"""CombinedTM (Bianchi et al. 2021): ProdLDA whose encoder reads the document's sentence embedding
beside its bag of words.

x (V) and e (E) -> [normalised x ; e * sqrt(E)] -> ProdLDA's encoder, prior and decoder unchanged.
The decoder still rebuilds the bag of words alone, so a topic is still a distribution over the
vocabulary; the embedding only helps the encoder tell what a document is about, which a short or
unusual bag of words says poorly. The embedding is a unit vector (a sentence encoder's mean-pooled
output, normalised); times sqrt(E) its parts are about as large as the word inputs.
"""
from __future__ import annotations

import math

import torch

from .prodlda import ProdLDA


class CombinedTM(ProdLDA):
    reads_embeddings = True

    def __init__(self, vocab_size: int, n_topics: int = 100, hidden: int = 256, inputs: str = "log1p",
                 dropout: float = 0.2, embedding_size: int = 384) -> None:
        if embedding_size < 1:
            raise ValueError("CombinedTM needs the width of the document embeddings it reads")
        super().__init__(vocab_size, n_topics, hidden, inputs, dropout, embedding_size=embedding_size)
        self.embedding_scale = math.sqrt(embedding_size)

    def encoder_input(self, bow: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        if embedding is None or embedding.shape[-1] != self.embedding_size:
            raise ValueError(f"CombinedTM reads each document's {self.embedding_size}-wide embedding beside "
                             "its bag of words")
        return torch.cat([super().encoder_input(bow, None), embedding.float() * self.embedding_scale], dim=-1)
