"""A finished TopicBERT run's topic quality, as the worker stores it: each topic's NPMI over the run's own
training documents, the mean NPMI over its test documents and over 10-word windows of its training texts
(the literature's), and the LDA reference scored the same ways, fitted once per corpus, vocabulary, K and
test set."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_documents
from queue_helpers import claim_and_execute

from topicbert.data.splits import load_run_corpus
from topicbert.data.vocabulary import TopicVocabulary
from topicbert.runs import references
from topicbert.runs.store import Store
from topicbert.training.metrics import npmi_coherence
from topicbert.training.window_npmi import window_npmi

FIT_LDA = references.lda_reference


@pytest.fixture
def split_corpus(tmp_path) -> Path:
    """Training documents as usual; test documents that pair each theme's words with another theme's,
    so NPMI over them differs from NPMI over the training documents."""
    path = tmp_path / "split.csv"
    train = synthetic_documents(30, seed=3)
    mixed = [(f"{a} {b}", label) for (a, label), (b, _) in zip(synthetic_documents(10, seed=4),
                                                                synthetic_documents(10, seed=5)[::-1], strict=True)]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "split"])
        writer.writerows([(text, label, "train") for text, label in train])
        writer.writerows([(text, label, "test") for text, label in mixed])
    return path


def run_to_end(store: Store, config) -> dict:
    run_id = store.create_run(config)
    assert claim_and_execute(store, run_id) == 0
    return store.get_run(run_id)


def npmi_over(texts: list[str], run: dict, topics: list, windows: bool = False) -> list[float]:
    """Each topic's NPMI over `texts`: ours (documents) or, with `windows`, the literature's."""
    vocabulary = TopicVocabulary.load(Path(run["run_dir"]) / "vocab.json")
    index = {word: i for i, word in enumerate(vocabulary.words)}
    ids = [[index[w] for w, _ in words] for words in topics]
    if windows:
        return window_npmi(ids, vocabulary.word_sequences(texts))
    return npmi_coherence(ids, vocabulary.transform(texts))


def test_stored_npmi_reads_the_training_documents_only(tmp_path, tiny_config, split_corpus, monkeypatch):
    fits = []
    monkeypatch.setattr(references, "lda_reference",
                        lambda *args, **kwargs: fits.append(args) or FIT_LDA(*args, **kwargs))
    config = tiny_config.replace(corpus=str(split_corpus), split_col="split", epochs=1)
    with Store(tmp_path / "home" / "topicbert.db") as store:
        run = run_to_end(store, config)
        assert run["status"] == "done"
        topics, stored = store.get_topics(run["id"]), store.get_topic_npmi(run["id"])
        corpus = load_run_corpus(config)
        train = [corpus.texts[i] for i in corpus.indices("train")]
        test = [corpus.texts[i] for i in corpus.indices("test")]
        assert stored == pytest.approx(npmi_over(train, run, topics))
        assert stored != pytest.approx(npmi_over(train + test, run, topics))  # the check above can tell
        final = run["final_metrics"]
        assert final["npmi_train"] == pytest.approx(sum(stored) / len(stored))
        assert final["npmi_test"] == pytest.approx(np.mean(npmi_over(test, run, topics)))
        assert final["topic_npmi_window"] == pytest.approx(npmi_over(train, run, topics, windows=True))
        assert final["npmi_window"] == pytest.approx(np.mean(final["topic_npmi_window"]))
        assert final["npmi_window"] != pytest.approx(np.mean(npmi_over(train + test, run, topics, windows=True)))
        reference = store.get_topic_reference(run["topic_reference"])
        assert reference["n_topics"] == config.n_topics and len(reference["topics"]) == config.n_topics
        assert -1 <= reference["npmi"] <= 1 and 0 < reference["diversity"] <= 1
        vocabulary = TopicVocabulary.load(Path(run["run_dir"]) / "vocab.json")
        index = {word: i for i, word in enumerate(vocabulary.words)}
        lda_ids = [[index[w] for w in words] for words in reference["topics"]]
        assert reference["npmi_test"] == pytest.approx(np.mean(npmi_coherence(lda_ids, vocabulary.transform(test))))
        assert reference["npmi_window"] == pytest.approx(
            np.mean(window_npmi(lda_ids, vocabulary.word_sequences(train))))
        # a second run on the same documents, vocabulary and K reuses the reference
        again = run_to_end(store, config.replace(seed=config.seed, lr=2e-3))
        assert again["topic_reference"] == run["topic_reference"] and len(fits) == 1


def test_a_failing_reference_never_fails_the_run(tmp_path, tiny_config, monkeypatch):
    def broken(*args):
        raise RuntimeError("no LDA today")
    monkeypatch.setattr(references, "lda_reference", broken)
    with Store(tmp_path / "home" / "topicbert.db") as store:
        run = run_to_end(store, tiny_config.replace(epochs=1))
        assert run["status"] == "done" and run["topic_reference"] is None
        assert store.get_topic_npmi(run["id"])[0] is not None
