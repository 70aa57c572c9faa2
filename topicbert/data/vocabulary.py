"""Topic vocabulary and sparse bag-of-words, by the TopicBERT paper's recipe.

Lowercase, tokens that contain a letter, English stop words removed, words in fewer than
`min_df` training documents removed, the most frequent fraction removed, capped in size.
The vocabulary is fitted on the training split only.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

# a word: letters/digits, with at least one letter (drops pure numbers)
TOKEN_PATTERN = r"(?u)\b\w*[^\W\d_]\w*\b"


class VocabularyError(ValueError):
    """The settings leave no topic words for this corpus."""


@dataclass(frozen=True)
class TopicVocabulary:
    words: tuple[str, ...]

    @classmethod
    def fit(cls, texts: Sequence[str], min_df: int = 10, drop_top: float = 0.001,
            max_size: int = 20000) -> "TopicVocabulary":
        # min_df larger than the corpus would reject every word; clamp for tiny corpora
        min_df = max(1, min(min_df, len(texts) // 2))
        counter = CountVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english",
                                  min_df=min_df, dtype=np.int64)
        try:
            counts = counter.fit_transform(texts)
        except ValueError as error:  # sklearn: "empty vocabulary"
            raise VocabularyError(f"no topic words left ({error}); lower bow_min_df") from error
        words = counter.get_feature_names_out()
        frequency = np.asarray(counts.sum(axis=0)).ravel()
        by_frequency = np.argsort(-frequency, kind="stable")
        n_drop = math.ceil(drop_top * len(words)) if drop_top > 0 else 0
        kept = by_frequency[n_drop:n_drop + max_size]
        if len(kept) == 0:
            raise VocabularyError("no topic words left after dropping the most frequent; lower bow_drop_top")
        return cls(tuple(sorted(words[i] for i in kept)))

    def __len__(self) -> int:
        return len(self.words)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Word counts, documents x vocabulary, float32 CSR (kept sparse until the batch)."""
        counter = CountVectorizer(token_pattern=TOKEN_PATTERN, vocabulary=list(self.words),
                                  dtype=np.float32)
        return counter.transform(texts).tocsr()

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(list(self.words)))

    @classmethod
    def load(cls, path: Path) -> "TopicVocabulary":
        return cls(tuple(json.loads(Path(path).read_text())))
