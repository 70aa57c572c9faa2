"""The Topics page's views: a topic's top documents, and topics of two runs matched one to one."""
from __future__ import annotations

import numpy as np
import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.studio import figures, topic_stability, topics
from topicbert.studio.run_files import RunPredictions, TopicArrays


def test_top_documents_of_a_topic_highest_share_first():
    mixtures = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5], [0.7, 0.3]])
    run = RunPredictions(["a", "b"], ["first  text", "second", "third", "fourth"], np.array([0, 1, 0, 1]),
                         np.eye(2)[[0, 0, 0, 1]], mixtures)
    top = topics.top_documents(run, topic=0, n=3)
    assert top["doc"].tolist() == [1, 3, 2] and top["share"].tolist() == [0.9, 0.7, 0.5]
    assert top["true label"].tolist() == ["b", "b", "a"] and top["predicted"].tolist() == ["a", "b", "a"]
    assert topics.top_documents(run, topic=1, n=1)["text"].tolist() == ["first text"]
    with pytest.raises(ValueError, match="no topic mixtures"):
        topics.top_documents(RunPredictions(["a"], ["x"], np.array([0]), np.eye(1), None), 0)


def topic_arrays(topic_term: np.ndarray, vocab: list[str]) -> TopicArrays:
    k, v = topic_term.shape
    return TopicArrays(topic_term, np.full((1, k), 1 / k), np.ones(1), np.ones(v), vocab)


def test_topics_of_two_runs_are_matched_one_to_one_across_vocabularies(store):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(30)]
    a = rng.dirichlet(np.full(30, 0.1), size=4)
    # run b: the same topics in another order, over its vocabulary in reverse, one topic replaced
    order = [2, 0, 3, 1]
    b = a[order][:, ::-1].copy()
    b[3] = rng.dirichlet(np.full(30, 0.1))
    matches = topic_stability.match_topics(topic_arrays(a, words), topic_arrays(b, words[::-1]),
                                           list("ABCD"), list("pqrs"))
    pairs = dict(zip(matches["topic"], matches["matched topic"], strict=True))
    assert pairs[3] == 1 and pairs[1] == 2 and pairs[4] == 3  # a's topic 3 is b's topic 1, ...
    assert matches["similarity"].iloc[:3].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert matches["similarity"].iloc[3] < 0.9 and matches["similarity"].is_monotonic_decreasing
    assert topic_stability.vocabulary_overlap(topic_arrays(a, words), topic_arrays(b, words[::-1])) == 1.0
    apart = topic_stability.unmatched_similarity(topic_arrays(a, words), topic_arrays(b, words[::-1]))
    assert 0 < apart < matches["similarity"].iloc[2]  # topics left apart are less alike than recurring ones
    fig = figures.visualize_topic_matching(matches, "run 1", "run 2", apart)
    assert list(fig.data[0].x) == matches["similarity"].tolist()[::-1]
    assert fig.layout.shapes[0].x0 == apart
    # partners: the other finished TopicBERT runs on the same corpus
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    one, two = (run_with_curve(store, config.replace(seed=s), [0.7], 0.01) for s in (1, 2))
    run_with_curve(store, config.replace(corpus="other"), [0.7], 0.01)
    run_with_curve(store, config.replace(variant="bert"), [0.7], 0.01)
    assert [r["id"] for r in topic_stability.stability_partners(store, store.get_run(one))] == [two]
