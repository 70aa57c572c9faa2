"""The LDA reference a TopicBERT run's topics are judged against: scikit-learn's LDA fitted on the
run's training documents with the run's vocabulary and number of topics, its topics scored as the
run's are: NPMI over those training documents and over 10-word windows of their texts, and NPMI over
the run's test documents. The worker's runner fits it once per corpus, vocabulary, K and test set,
at the end of the first run that needs it, and the store keeps it; no page ever fits one."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..config import RunConfig
from ..data.splits import load_run_corpus
from ..data.vocabulary import TopicVocabulary
from ..training.topic_quality import lda_reference
from .run_store import RunStore

# the reference depends on the documents and vocabulary, not on the run's seed
LDA_SEED = 0


def reference_key(vocabulary: TopicVocabulary, train_texts: list[str], test_texts: list[str], n_topics: int) -> str:
    digest = hashlib.sha256(f"lda:{n_topics}:{LDA_SEED}\n".encode())
    digest.update("\n".join(vocabulary.words).encode())
    for text in train_texts:
        digest.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    digest.update(b"\1test")
    for text in test_texts:
        digest.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


@dataclass
class ReferenceInputs:
    """What a run's reference is fitted on, and so what its key says."""
    vocabulary: TopicVocabulary
    train_texts: list[str]
    test_texts: list[str]
    n_topics: int

    def key(self) -> str:
        return reference_key(self.vocabulary, self.train_texts, self.test_texts, self.n_topics)


def reference_inputs(config: RunConfig, run_dir: Path) -> ReferenceInputs:
    """The documents, vocabulary (the run's vocab.json) and number of topics of a finished run's reference."""
    corpus = load_run_corpus(config)
    train_texts = [corpus.texts[i] for i in corpus.indices("train")]
    test_texts = [corpus.texts[i] for i in corpus.indices("test")]
    return ReferenceInputs(TopicVocabulary.load(run_dir / "vocab.json"), train_texts, test_texts,
                           config.topics_for(len(train_texts)))


def attach_lda_reference(store: RunStore, run_id: int, config: RunConfig, run_dir: Path) -> str:
    """Find or fit the reference for a finished TopicBERT run and link the run to it; returns its key."""
    inputs = reference_inputs(config, run_dir)
    vocabulary, train_texts = inputs.vocabulary, inputs.train_texts
    key = inputs.key()
    if store.get_topic_reference(key) is None:
        reference = lda_reference(vocabulary.transform(train_texts), inputs.n_topics, LDA_SEED,
                                  vocabulary.word_sequences(train_texts),
                                  held_out=vocabulary.transform(inputs.test_texts))
        words = [[vocabulary.words[i] for i in ids] for ids in reference.word_ids]
        quality = reference.quality
        store.add_topic_reference(key, inputs.n_topics, quality.mean_npmi, quality.diversity, words,
                                  reference.fit_seconds, npmi_test=quality.mean_npmi_held_out,
                                  npmi_window=quality.mean_npmi_window)
    store.set_run_topic_reference(run_id, key)
    return key
