"""Tokenising, truncate / partition examples, and length-grouped dynamic padding.

Each example is one encoder input: a whole document cut to max_len (`truncate`) or one
consecutive chunk of it (`partition`), carrying its document's index so chunk
predictions can be averaged back per document and the document's bag of words found.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Example:
    doc: int                 # index of the document in the split
    input_ids: tuple[int, ...]


@dataclass
class Batch:
    input_ids: torch.Tensor       # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    docs: torch.Tensor            # (B,) document index of each row
    labels: torch.Tensor          # (B,)
    bow: torch.Tensor | None   # (B, V) dense counts, TopicBERT only
    real_tokens: int
    padded_tokens: int
    embedding: torch.Tensor | None = None  # (B, E) document embeddings, for a topic model that reads them

    def to(self, device: torch.device) -> Batch:
        # to a GPU from page-locked memory: a copy from ordinary memory holds the host until it is done, one
        # from page-locked memory lets the host go on queueing the step's kernels behind it
        pin = device.type == "cuda"

        def move(t: torch.Tensor) -> torch.Tensor:
            return (t.pin_memory() if pin else t).to(device, non_blocking=True)

        def move_optional(t: torch.Tensor | None) -> torch.Tensor | None:
            return move(t) if t is not None else None
        return Batch(move(self.input_ids), move(self.attention_mask), self.docs, move(self.labels),
                     move_optional(self.bow), self.real_tokens, self.padded_tokens, move_optional(self.embedding))


@dataclass(frozen=True)
class TopicInputs:
    """What a topic model reads of some documents: their bags of words and, for a model that reads
    them (CombinedTM), their embeddings."""
    bow: sp.csr_matrix                        # (n_docs, V) word counts
    embeddings: np.ndarray | None = None   # (n_docs, E)

    def __len__(self) -> int:
        return self.bow.shape[0]

    def rows(self, index: Sequence[int] | np.ndarray | slice,
             device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Dense (B, V) counts and (B, E) embeddings (or None) of the documents `index` names, on `device`."""
        embedding = torch.from_numpy(self.embeddings[index]).to(device) if self.embeddings is not None else None
        return torch.from_numpy(self.bow[index].toarray()).to(device), embedding


def chunk_spans(n_pieces: int, max_len: int, mode: str, partition_budget: int = 512) -> list[tuple[int, int]]:
    """(start, end) of the word pieces each encoder input of one document holds ([CLS]/[SEP] aside)."""
    body = max_len - 2
    if mode == "truncate":
        return [(0, min(n_pieces, body))]
    if mode == "partition":
        max_chunks = max(1, partition_budget // max_len)
        spans = [(start, min(start + body, n_pieces)) for start in range(0, n_pieces, body)][:max_chunks]
        return spans or [(0, 0)]
    raise ValueError(f"unknown mode {mode!r}")


def make_examples(token_ids: Sequence[Sequence[int]], max_len: int, mode: str, cls_id: int,
                  sep_id: int, partition_budget: int = 512) -> list[Example]:
    """Encoder inputs of at most max_len pieces, [CLS] and [SEP] included."""
    return [Example(doc, (cls_id, *ids[start:end], sep_id))
            for doc, ids in enumerate(token_ids)
            for start, end in chunk_spans(len(ids), max_len, mode, partition_budget)]


# batches per sorting window: wide enough to find similar lengths, narrow enough to stay random
GROUP_BATCHES = 50


def length_grouped_order(lengths: Sequence[int], batch_size: int, seed: int,
                         group_batches: int = GROUP_BATCHES) -> list[list[int]]:
    """Batches of similar length, in random order, so little padding is computed.

    Shuffle, sort inside windows of `group_batches` batches, cut into batches, shuffle the
    batches: randomness stays, padding mostly goes.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    window = batch_size * group_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort([-lengths[i] for i in chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def sorted_order(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: longest first, no shuffling."""
    order = np.argsort([-n for n in lengths], kind="stable")
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def collate(examples: Sequence[Example], labels: np.ndarray, bow: sp.csr_matrix | None,
            pad_id: int, embeddings: np.ndarray | None = None) -> Batch:
    """Pad to the longest example in the batch; densify only this batch's bag of words."""
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        input_ids[row, :len(example.input_ids)] = torch.tensor(example.input_ids)
        attention_mask[row, :len(example.input_ids)] = 1
    docs = torch.tensor([e.doc for e in examples], dtype=torch.long)
    real = int(attention_mask.sum())
    dense_bow = torch.from_numpy(bow[docs.numpy()].toarray()) if bow is not None else None
    embedding = torch.from_numpy(embeddings[docs.numpy()]) if embeddings is not None else None
    return Batch(input_ids, attention_mask, docs, torch.from_numpy(labels[docs.numpy()]).long(),
                 dense_bow, real, input_ids.numel() - real, embedding)


def iterate_batches(examples: Sequence[Example], order: list[list[int]], labels: np.ndarray,
                    bow: sp.csr_matrix | None, pad_id: int,
                    embeddings: np.ndarray | None = None) -> Iterator[Batch]:
    for batch_indices in order:
        yield collate([examples[i] for i in batch_indices], labels, bow, pad_id, embeddings)


def average_chunk_probabilities(probabilities: torch.Tensor, docs: torch.Tensor, n_docs: int) -> torch.Tensor:
    """(N_examples, C) chunk softmaxes -> (n_docs, C): the mean over each document's chunks."""
    sums = torch.zeros((n_docs, probabilities.shape[1]), dtype=probabilities.dtype)
    sums.index_add_(0, docs, probabilities)
    counts = torch.bincount(docs, minlength=n_docs).clamp(min=1).unsqueeze(1).to(probabilities.dtype)
    return sums / counts


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> list[list[int]]:
    """Word-piece ids of each text, whole (no special tokens, no truncation)."""
    # the tokenizer warns about texts over its model length; they are cut later, on purpose
    tokenizer.model_max_length = int(1e30)
    return tokenizer(list(texts), add_special_tokens=False, truncation=False,
                     return_attention_mask=False, return_token_type_ids=False)["input_ids"]
