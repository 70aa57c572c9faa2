"""Each document's embedding, for a topic model that reads one beside its bag of words (CombinedTM).

The run's own encoder as pretrained (frozen: before any fine-tuning) reads the document's first
EMBEDDING_PIECES word pieces; the embedding is the mean of its last hidden states over them ([CLS]
and [SEP] included), normalised to unit length: how all-MiniLM-L6-v2, the default encoder, makes
its sentence embeddings. It is computed once per document: for the training and validation
documents before the topic model's pretraining (part of a run's fixed cost), for the test documents
when the finished model classifies them (part of what classifying costs: a new document needs its
embedding too). It is kept in the corpus's cache folder beside its word pieces: a resumed run, the
other torchrun ranks and later runs on the same documents read it back.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..config import RunConfig
from ..data.batching import collate, make_examples, sorted_order
from ..data.splits import SplitData
from ..data.token_cache import cached_array
from ..model.encoders import encoder_fingerprint, load_encoder, load_tokenizer
from .device import autocast

if TYPE_CHECKING:  # model.encoders imports transformers at run time, once the hub is switched off
    from transformers import PreTrainedModel

# word pieces of each document the embedding reads, [CLS] and [SEP] included: one inference pass at the
# length TopicBERT-128 trains on (sentence encoders of this size read 128 to 256)
EMBEDDING_PIECES = 128


@torch.inference_mode()
def embed_documents(encoder: PreTrainedModel, token_ids: Sequence[Sequence[int]], cls_id: int, sep_id: int,
                    pad_id: int, device: torch.device, config: RunConfig, batch_size: int = 64) -> np.ndarray:
    """(n_docs, H) unit-length mean-pooled embeddings of the documents' first EMBEDDING_PIECES pieces."""
    encoder.eval()
    examples = make_examples(token_ids, EMBEDDING_PIECES, "truncate", cls_id, sep_id)
    embeddings = np.zeros((len(examples), encoder.config.hidden_size), dtype=np.float32)
    for rows in sorted_order([len(e.input_ids) for e in examples], batch_size):
        # padded like any batch; the labels are not read
        batch = collate([examples[i] for i in rows], np.zeros(len(examples), dtype=np.int64), None, pad_id)
        mask = batch.attention_mask.to(device)
        with autocast(device, config):
            hidden = encoder(input_ids=batch.input_ids.to(device), attention_mask=mask).last_hidden_state
        mask = mask.unsqueeze(-1).float()
        mean = (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)          # (B, H)
        embeddings[rows] = torch.nn.functional.normalize(mean, dim=-1).cpu().numpy()
    return embeddings


def embeddings_key(config: RunConfig, token_ids: Sequence[Sequence[int]]) -> str:
    """Everything an embedding depends on: the encoder's weights, the pieces read, the documents' pieces."""
    digest = hashlib.sha256(f"{encoder_fingerprint(config.model)}\n{EMBEDDING_PIECES}\n".encode())
    for ids in token_ids:
        digest.update(np.asarray(ids, dtype=np.int64).tobytes() + b"\xff")
    return "embeddings-" + digest.hexdigest()[:32]


def document_embeddings(config: RunConfig, token_ids: Sequence[Sequence[int]],
                        device: torch.device) -> tuple[np.ndarray, float | None]:
    """The documents' embeddings, and the seconds computing them took (None: read back from the corpus's
    cache, where an earlier run left them; the run's `embedding_cache` off makes every run compute them)."""
    seconds = None

    def compute() -> np.ndarray:
        nonlocal seconds
        started = time.perf_counter()
        tokenizer = load_tokenizer(config.model)
        # transformers wraps PreTrainedModel.to in functools.wraps(Module.to): mypy sees the unbound method
        encoder = load_encoder(config.model).to(device)  # type: ignore[arg-type]
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        embeddings = embed_documents(encoder, token_ids, tokenizer.cls_token_id, tokenizer.sep_token_id, pad_id,
                                     device, config)
        seconds = time.perf_counter() - started
        return embeddings

    embeddings = cached_array(config.corpus, embeddings_key(config, token_ids), compute) \
        if config.embedding_cache else compute()
    return embeddings, seconds


def add_document_embeddings(config: RunConfig, device: torch.device, *splits: SplitData) -> float | None:
    """Give each of `splits` its documents' embeddings, in one pass over all of them; returns the seconds
    computing them took (None: read from the cache)."""
    token_ids = [ids for split in splits for ids in split.token_ids]
    embeddings, seconds = document_embeddings(config, token_ids, device)
    start = 0
    for split in splits:
        split.embeddings = embeddings[start:start + len(split)]
        start += len(split)
    return seconds
