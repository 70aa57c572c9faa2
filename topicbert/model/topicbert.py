"""TopicBERT and its BERT baseline: one module, the topic branch on or off.

h_B = [CLS] vector of the encoder (dropout), h_TM = the topic model's topic vector (of the bag of
words, and of the document's embedding for a topic model that reads one),
h_p = GELU(W [h_B ; h_TM] + b), logits = classifier(h_p).
Loss = alpha * CE + (1 - alpha) * topic-model loss (the baseline: CE alone).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .topic_model import TopicModel

if TYPE_CHECKING:  # the encoder's type only: model.encoders loads it, once the hub is switched off
    from transformers import PreTrainedModel


@dataclass
class TopicBERTOutput:
    logits: torch.Tensor                 # (B, C)
    loss: torch.Tensor | None         # scalar, when labels are given
    topic_vector: torch.Tensor | None  # (B, K) h_TM, TopicBERT only
    topic_loss: torch.Tensor | None   # (B,) per-document topic-model loss, TopicBERT only


class TopicBERT(nn.Module):
    def __init__(self, encoder: PreTrainedModel, n_classes: int, topic_model: TopicModel | None = None,
                 dropout: float = 0.1, alpha: float = 0.9) -> None:
        super().__init__()
        self.encoder = encoder
        self.topic_model = topic_model
        self.alpha = alpha if topic_model is not None else 1.0
        hidden = encoder.config.hidden_size
        n_topics = topic_model.n_topics if topic_model is not None else 0
        self.dropout = nn.Dropout(dropout)
        self.fusion = nn.Linear(hidden + n_topics, hidden)   # W: (H_B + K) -> H_B
        self.classifier = nn.Linear(hidden, n_classes)

    @property
    def uses_topics(self) -> bool:
        return self.topic_model is not None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                bow: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                embedding: torch.Tensor | None = None) -> TopicBERTOutput:
        hidden_states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        h_b = self.dropout(hidden_states[:, 0])               # (B, H_B) the [CLS] vector
        topic_vector = topic_loss = None
        if self.topic_model is not None:
            if bow is None:
                raise ValueError("TopicBERT needs the documents' bag of words")
            topic_out = self.topic_model(bow, embedding)
            topic_vector, topic_loss = topic_out.h, topic_out.loss
            fused_input = torch.cat([h_b, topic_vector.to(h_b.dtype)], dim=-1)   # (B, H_B + K)
        else:
            fused_input = h_b
        logits = self.classifier(F.gelu(self.fusion(fused_input)))           # (B, C)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.float(), labels)
            if topic_loss is not None:
                loss = self.alpha * loss + (1 - self.alpha) * topic_loss.float().mean()
        return TopicBERTOutput(logits=logits, loss=loss, topic_vector=topic_vector, topic_loss=topic_loss)
