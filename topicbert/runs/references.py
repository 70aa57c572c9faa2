"""The LDA reference a TopicBERT run's topics are judged against: scikit-learn's LDA fitted on the
run's training documents with the run's vocabulary and number of topics, its topics scored by
NPMI on those same documents. The worker's runner fits it once per corpus, vocabulary and K, at the
end of the first run that needs it, and the store keeps it; no page ever fits one."""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..config import RunConfig
from ..data.splits import load_run_corpus
from ..data.vocabulary import TopicVocabulary
from ..training.topic_quality import lda_reference
from .store import Store

# the reference depends on the documents and vocabulary, not on the run's seed
LDA_SEED = 0


def reference_key(vocabulary: TopicVocabulary, train_texts: list[str], n_topics: int) -> str:
    digest = hashlib.sha256(f"lda:{n_topics}:{LDA_SEED}\n".encode())
    digest.update("\n".join(vocabulary.words).encode())
    for text in train_texts:
        digest.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def attach_lda_reference(store: Store, run_id: int, config: RunConfig, run_dir: Path) -> str:
    """Find or fit the reference for a finished TopicBERT run and link the run to it; returns its key."""
    corpus = load_run_corpus(config)
    train_texts = [corpus.texts[i] for i in corpus.indices("train")]
    vocabulary = TopicVocabulary.load(run_dir / "vocab.json")
    key = reference_key(vocabulary, train_texts, config.n_topics)
    if store.get_topic_reference(key) is None:
        reference = lda_reference(vocabulary.transform(train_texts), config.n_topics, LDA_SEED)
        words = [[vocabulary.words[i] for i in ids] for ids in reference.word_ids]
        store.add_topic_reference(key, config.n_topics, reference.quality.mean_npmi, reference.quality.diversity,
                                  words, reference.fit_seconds)
    store.set_run_topic_reference(run_id, key)
    return key
