"""A TopicBERT run's topics as the Topics and Documents pages show them: labels, the table, and
their quality (NPMI coherence, diversity)."""
from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from ..config import RunConfig
from ..data.corpus import load_corpus
from ..data.vocabulary import TopicVocabulary
from ..training.metrics import npmi_coherence, topic_diversity
from .run_files import load_topic_arrays

Topics = Sequence[Sequence[tuple[str, float]]]  # each topic's top words with their weights, model order


def topic_labels(topics: Topics, n_words: int = 4) -> list[str]:
    """"3: oil price opec barrel": numbered from 1 as on the topic map."""
    return [f"{k + 1}: {' '.join(word for word, _ in words[:n_words])}" for k, words in enumerate(topics)]


def topic_quality(topics: Topics, vocab: Sequence[str], texts: Sequence[str]) -> tuple[list[float], float]:
    """NPMI of each topic's top words over `texts`' documents, and the topics' diversity."""
    index = {word: i for i, word in enumerate(vocab)}
    word_ids = [[index[word] for word, _ in words if word in index] for words in topics]
    bow = TopicVocabulary(tuple(vocab)).transform(texts)
    return npmi_coherence(word_ids, bow), topic_diversity([[word for word, _ in words] for words in topics])


def topics_table(topics: Topics, coherence: Optional[Sequence[float]] = None) -> pd.DataFrame:
    frame = pd.DataFrame({"topic": range(1, len(topics) + 1),
                          "top words": [" ".join(word for word, _ in words) for words in topics]})
    if coherence is not None:
        frame["NPMI"] = list(coherence)
    return frame


def run_topic_quality(run: dict, topics: Topics) -> tuple[list[float], float]:
    """NPMI and diversity of a finished run's topics over its corpus; CorpusError if it cannot be read."""
    config = RunConfig.from_dict(run["config"])
    corpus = load_corpus(config.corpus, config.text_col, config.label_col, config.split_col, seed=config.seed)
    return topic_quality(topics, load_topic_arrays(run["run_dir"]).vocab, corpus.texts)
