"""Where the topic branch helps: each topic's accuracy for every model, verdicts only where a topic has the
documents for one, and corrected for the number of topics: two equally good models rarely get any call."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.stats.many_verdicts import fewest_documents, holm, sign_test
from topicbert.studio import figures, topic_gains
from topicbert.studio.run_files import RunPredictions, load_predictions


def predictions(labels: np.ndarray, predicted: np.ndarray, mixtures: np.ndarray | None = None,
                classes: int = 2) -> RunPredictions:
    return RunPredictions([str(c) for c in range(classes)], [], labels, np.eye(classes)[predicted], mixtures,
                          texts_digest="the same documents")


def mixtures_of(dominant: np.ndarray, topics: int) -> np.ndarray:
    mixtures = np.full((len(dominant), topics), 0.1 / topics)
    mixtures[np.arange(len(dominant)), dominant] = 0.9
    return mixtures


def gains(dominant: np.ndarray, labels: np.ndarray, ours: np.ndarray, theirs: np.ndarray, topics: int,
          classes: int = 2):
    run = predictions(labels, ours, mixtures_of(dominant, topics), classes)
    return topic_gains.topic_gains(run, predictions(labels, theirs, classes=classes), [f"t{k}" for k in range(topics)],
                                   ("TopicBERT", "BERT"))


def test_exact_sign_test_holm_and_the_fewest_documents_by_hand():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == pytest.approx(2 * 0.5 ** 5)       # all five one way
    assert sign_test(3, 3) == pytest.approx(1.0)
    # Holm: sorted 0.01, 0.02, 0.04 times 3, 2, 1 -> 0.03, 0.04, 0.04 (kept monotone), in the order given
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    # 50 topics at 5%: 2 * 0.5^n <= 0.001 from n = 11
    assert fewest_documents(50) == 11 and 2 * 0.5 ** 10 > 0.05 / 50 >= 2 * 0.5 ** 11
    assert fewest_documents(1) == 6


def test_one_document_where_only_topicbert_is_right_gets_no_verdict():
    labels = np.zeros(61, dtype=int)
    dominant = np.array([0] + [1] * 60)
    ours, theirs = labels.copy(), labels.copy()
    theirs[0] = 1                                    # the lone document of topic 1: only TopicBERT right
    theirs[1:41] = 1                                 # topic 2: TopicBERT right on 40 of 60 where BERT is not
    table = gains(dominant, labels, ours, theirs, topics=3)
    assert table["label"].tolist() == ["t1", "t0", "t2"]   # verdicts first, then the topics without one
    assert table["documents"].tolist() == [60, 1, 0]       # every topic's count, an empty one too
    verdicts = table["against the reference"].tolist()
    assert verdicts[0] == topic_gains.HIGHER
    assert verdicts[1] == topic_gains.too_few(fewest_documents(2)) and verdicts[2] == topic_gains.NO_DOCUMENT
    assert table.loc[1, "difference"] == 1.0 and np.isnan(table.loc[1, "adjusted p"])
    fig = figures.visualize_topic_gains(table, "TopicBERT", "BERT")
    assert list(fig.data[0].y) == ["t0 (1 docs)", "t1 (60 docs)"]   # the empty topic is not drawn; gain on top
    assert fig.data[0].marker.color == (figures.FEW_COLOR, figures.GAIN_COLOR)


def test_a_topics_score_is_the_same_kind_of_number_for_both_models():
    """100 documents of one class, one stray prediction: 99% right against 100%, not macro-F1's 0.497 against 1."""
    labels = np.zeros(100, dtype=int)
    ours = labels.copy()
    ours[0] = 2
    table = gains(np.zeros(100, dtype=int), labels, ours, labels.copy(), topics=1, classes=3)
    assert table.loc[0, "TopicBERT"] == pytest.approx(0.99) and table.loc[0, "BERT"] == 1.0
    assert table.loc[0, "difference"] == pytest.approx(-0.01)
    assert table.loc[0, "against the reference"] == "within noise"


def test_equally_good_models_give_at_most_one_table_in_twenty_a_false_call():
    """200 tables of 50 topics, 300-600 test documents, two models 90% right each: at most 5% of the tables
    may show any topic beyond the noise (the family-wise rate Holm's correction promises)."""
    rng = np.random.default_rng(0)
    tables_with_a_call = 0
    for _ in range(200):
        n = int(rng.integers(300, 601))
        dominant = rng.choice(50, size=n, p=rng.dirichlet(np.full(50, 0.5)))   # uneven topics, some with one doc
        labels = rng.integers(0, 4, n)
        ours = np.where(rng.random(n) < 0.9, labels, (labels + 1) % 4)
        theirs = np.where(rng.random(n) < 0.9, labels, (labels + 1) % 4)
        verdicts = gains(dominant, labels, ours, theirs, topics=50, classes=4)["against the reference"]
        tables_with_a_call += verdicts.isin([topic_gains.HIGHER, topic_gains.LOWER]).any()
    assert tables_with_a_call / 200 <= 0.05


def test_a_real_gain_on_one_topic_is_found_among_fifty():
    rng = np.random.default_rng(1)
    n = 500
    dominant = rng.integers(0, 50, n)
    dominant[:60] = 7
    labels = rng.integers(0, 4, n)
    ours = np.where(rng.random(n) < 0.9, labels, (labels + 1) % 4)
    theirs = np.where(rng.random(n) < 0.9, labels, (labels + 1) % 4)
    theirs[dominant == 7] = np.where(rng.random(int((dominant == 7).sum())) < 0.4, labels[dominant == 7],
                                     (labels[dominant == 7] + 1) % 4)
    ours[dominant == 7] = labels[dominant == 7]
    table = gains(dominant, labels, ours, theirs, topics=50, classes=4)
    called = table[table["against the reference"] == topic_gains.HIGHER]
    assert called["label"].tolist() == ["t7"]


def write_results(run_dir: str, texts: list[str], labels: np.ndarray, predicted: np.ndarray,
                  mixtures: np.ndarray | None = None) -> None:
    """The test result files a finished run leaves (training/results.py)."""
    arrays = {"labels": labels, "probabilities": np.eye(2, dtype=np.float32)[predicted]}
    if mixtures is not None:
        arrays["topic_mixtures"] = mixtures
    np.savez_compressed(Path(run_dir) / "test_predictions.npz", **arrays)
    (Path(run_dir) / "test_documents.json").write_text(json.dumps({"classes": ["a", "b"], "texts": texts}))


def test_compare_draws_gains_only_against_a_reference_on_the_same_documents(store):
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.7], 0.01)
    topic = run_with_curve(store, config.replace(variant="topicbert", max_len=128), [0.7], 0.01, paired=base)
    n = 240
    dominant = np.repeat([0, 1, 2], n // 3)   # topic 1: TopicBERT right, the baseline wrong; topic 2 the other way
    labels = np.random.default_rng(0).integers(0, 2, n)
    ours, theirs = labels.copy(), labels.copy()
    theirs[dominant == 0] = 1 - labels[dominant == 0]
    ours[dominant == 1] = 1 - labels[dominant == 1]
    texts = [f"doc {i}" for i in range(n)]
    write_results(store.get_run(topic)["run_dir"], texts, labels, ours, mixtures_of(dominant, 3))
    write_results(store.get_run(base)["run_dir"], texts, labels, theirs)
    loaded = {i: load_predictions(store.get_run(i)["run_dir"]) for i in (topic, base)}
    names = {topic: "TopicBERT", base: "BERT"}
    table, note = topic_gains.gains_against(topic, base, loaded, names, ["one", "two", "three"])
    assert note == ""
    assert table["label"].tolist() == ["one", "three", "two"]
    assert table["difference"].tolist() == pytest.approx([1.0, 0.0, -1.0])
    assert table["against the reference"].tolist() == [topic_gains.HIGHER, "within noise", topic_gains.LOWER]
    assert {"TopicBERT", "BERT"} <= set(table.columns)
    # without a reference, or against other documents, it says why
    assert topic_gains.gains_against(topic, None, loaded, names, ["one", "two", "three"])[0] is None
    write_results(store.get_run(base)["run_dir"], [t + "!" for t in texts], labels, theirs)
    loaded[base] = load_predictions(store.get_run(base)["run_dir"])
    table, note = topic_gains.gains_against(topic, base, loaded, names, ["one", "two", "three"])
    assert table is None and "other documents" in note
