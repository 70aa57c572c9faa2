"""From a RunConfig to model-ready splits: a corpus limited to a stratified subset, then texts, label ids, word
pieces and bag of words."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..config import RunConfig
from .batching import Example, TopicInputs, make_examples
from .corpus import Corpus, load_corpus
from .token_cache import cached_tokenize
from .vocabulary import TopicVocabulary

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class SplitData:
    texts: list[str]
    labels: np.ndarray                 # (n_docs,) class ids
    token_ids: list[list[int]]         # whole documents, no special tokens
    examples: list[Example]            # encoder inputs (one per document, or per chunk)
    bow: sp.csr_matrix | None       # (n_docs, V), TopicBERT only
    # (n_docs, E), where the topic model reads them (training adds them: they need the encoder)
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def topic_inputs(self) -> TopicInputs:
        return TopicInputs(self.bow, self.embeddings)

    @property
    def example_lengths(self) -> list[int]:
        return [len(e.input_ids) for e in self.examples]

    def head(self, n: int) -> SplitData:
        """The first n documents, with their examples."""
        return SplitData(self.texts[:n], self.labels[:n], self.token_ids[:n],
                         [e for e in self.examples if e.doc < n],
                         self.bow[:n] if self.bow is not None else None,
                         self.embeddings[:n] if self.embeddings is not None else None)


@dataclass
class PreparedData:
    classes: list[str]
    vocabulary: TopicVocabulary | None
    train: SplitData
    validation: SplitData
    test: SplitData


def _allocate(counts: dict[str, int], limit: int) -> dict[str, int]:
    """How many of each class to keep: in proportion, and at least one each where the limit allows."""
    total = sum(counts.values())
    if limit >= total:
        return dict(counts)
    if limit < len(counts):  # not every class fits: keep one of each of the largest
        largest = sorted(counts, key=lambda c: (-counts[c], c))[:limit]
        return {c: int(c in largest) for c in counts}
    exact = {c: limit * n / total for c, n in counts.items()}
    quota = {c: int(x) for c, x in exact.items()}
    # the places rounding down left over go first to classes rounded down to nothing, then by largest remainder
    order = sorted(counts, key=lambda c: (quota[c] > 0, int(exact[c]) - exact[c], c))
    for c in order[:limit - sum(quota.values())]:
        quota[c] += 1
    # a class still at nothing takes one place from the class that has the most
    for c in sorted(c for c in counts if quota[c] == 0):
        quota[max(sorted(quota), key=quota.__getitem__)] -= 1
        quota[c] = 1
    return quota


def limited_indices(labels: list[str], splits: list[str], limit_train: int | None, limit_eval: int | None,
                    seed: int = 42) -> list[int]:
    """The documents limit_corpus keeps, by position (its choice needs only labels and splits)."""
    for what, limit in (("limit_train", limit_train), ("limit_eval", limit_eval)):
        if limit is not None and limit < 1:
            raise ValueError(f"{what} must be at least 1, got {limit}")
    rng = random.Random(seed)
    keep: list[int] = []
    for split, limit in (("train", limit_train), ("validation", limit_eval), ("test", limit_eval)):
        by_class: dict[str, list[int]] = {}
        for i, (label, s) in enumerate(zip(labels, splits, strict=True)):
            if s == split:
                by_class.setdefault(label, []).append(i)
        quota = _allocate({c: len(v) for c, v in by_class.items()}, limit) if limit else None
        for label in sorted(by_class):
            idx = by_class[label]
            keep.extend(idx if quota is None else rng.sample(idx, quota[label]))
    return sorted(keep)


def limit_corpus(corpus: Corpus, limit_train: int | None, limit_eval: int | None, seed: int = 42) -> Corpus:
    """A stratified subset: at most limit_train training documents and at most limit_eval in each of
    validation and test, every class kept where the limit allows. Documents keep their order."""
    keep = limited_indices(corpus.labels, corpus.splits, limit_train, limit_eval, seed)
    return Corpus([corpus.texts[i] for i in keep], [corpus.labels[i] for i in keep],
                  [corpus.splits[i] for i in keep], corpus.source, corpus.encoding_fallbacks,
                  corpus.dropped_empty, corpus.cut_long)


def load_run_corpus(config: RunConfig) -> Corpus:
    corpus = load_corpus(config.corpus, config.text_col, config.label_col, config.split_col, seed=config.seed)
    if config.limit_train or config.limit_eval:
        corpus = limit_corpus(corpus, config.limit_train, config.limit_eval, seed=config.seed)
    return corpus


SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class LabelledSplits:
    """Each split's texts and class ids: what any classifier, with or without an encoder, trains on."""
    classes: list[str]
    texts: dict[str, list[str]]
    labels: dict[str, np.ndarray]


def labelled_splits(corpus: Corpus) -> LabelledSplits:
    class_id = {name: i for i, name in enumerate(corpus.classes)}
    texts = {split: [corpus.texts[i] for i in corpus.indices(split)] for split in SPLIT_NAMES}
    labels = {split: np.array([class_id[corpus.labels[i]] for i in corpus.indices(split)], dtype=np.int64)
              for split in SPLIT_NAMES}
    return LabelledSplits(corpus.classes, texts, labels)


def tokenize_splits(config: RunConfig, tokenizer: PreTrainedTokenizerBase, corpus: Corpus) -> None:
    """Put the word pieces of the run's splits in the token cache, where prepare_data reads them. The runs of
    a comparison share them: done before a run's clock and meter start, the first run of a pair does not pay
    for the ones after it."""
    texts = labelled_splits(corpus).texts
    for split in SPLIT_NAMES:
        cached_tokenize(tokenizer, texts[split], config.corpus)


def prepare_data(config: RunConfig, tokenizer: PreTrainedTokenizerBase, corpus: Corpus | None = None) -> PreparedData:
    splits = labelled_splits(corpus if corpus is not None else load_run_corpus(config))
    classes, texts, labels = splits.classes, splits.texts, splits.labels
    vocabulary = None
    if config.use_topics:
        # fitted on the training split only, so validation and test words stay unseen
        vocabulary = TopicVocabulary.fit(texts["train"], config.bow_min_df, config.bow_drop_top,
                                         config.bow_max_size, config.bow_max_df)

    def split_data(split: str) -> SplitData:
        return encode_split(config, tokenizer, texts[split], labels[split],
                            cached_tokenize(tokenizer, texts[split], config.corpus), vocabulary)

    return PreparedData(classes, vocabulary, split_data("train"), split_data("validation"), split_data("test"))


def encode_split(config: RunConfig, tokenizer: PreTrainedTokenizerBase, texts: list[str], labels: np.ndarray,
                 token_ids: list[list[int]], vocabulary: TopicVocabulary | None) -> SplitData:
    """Documents as the run's model reads them: encoder inputs cut as the run cuts them (truncate or partition)
    and, with a topic vocabulary, bags of words. Training and a finished model's predictions share it."""
    examples = make_examples(token_ids, config.max_len, config.mode, tokenizer.cls_token_id,
                             tokenizer.sep_token_id, config.partition_budget)
    bow = vocabulary.transform(texts) if vocabulary is not None else None
    return SplitData(texts, labels, token_ids, examples, bow)
