"""Topics sized to the corpus: the topic count a run gets when it sets none, kept when it sets one, and the
Train page's sentence saying which topic model, count and pretraining a run will get."""
from __future__ import annotations

import pytest

from topicbert.config import TOPICS_MAX, TOPICS_MIN, RunConfig, topic_count
from topicbert.studio.launch import DEMO_SETTINGS, topic_plan


@pytest.mark.parametrize("n_train_docs, topics", [
    (72, 10), (400, 10), (900, 15), (1779, 21), (4985, 35), (10_182, 50), (1_000_000, 50)])
def test_the_topic_count_is_half_the_square_root_of_the_training_documents(n_train_docs, topics):
    assert topic_count(n_train_docs) == topics
    assert TOPICS_MIN <= topics <= TOPICS_MAX


def test_a_runs_own_topic_count_is_kept():
    assert RunConfig(corpus="").topics_for(400) == 10
    assert RunConfig(corpus="", n_topics=50).topics_for(400) == 50
    # the demo sets none: its 400 training documents get 10 topics, not the 50 it once had
    assert "n_topics" not in DEMO_SETTINGS and RunConfig(corpus="", **DEMO_SETTINGS).topics_for(400) == 10


def test_the_train_page_says_what_the_topic_model_will_be():
    chosen = topic_plan(RunConfig(corpus=""), 400).describe()   # the default, CombinedTM
    assert chosen.startswith("CombinedTM with 10 topics (chosen for 400 training documents")
    assert "at most 220 epochs of 7 batches" in chosen and "first 128 word pieces" in chosen
    assert "once below a word-frequency model's, stops falling by 0.1% in 5 epochs" in chosen
    assert "as set" in topic_plan(RunConfig(corpus="", n_topics=30), 400).describe()
    bags_of_words = topic_plan(RunConfig(corpus="", topic_model="prodlda"), 10_000).describe()
    assert bags_of_words.startswith("ProdLDA with 50 topics") and "word pieces" not in bags_of_words
    paper = topic_plan(RunConfig(corpus="", topic_model="nvdm"), 400).describe()
    assert "NVDM with 10 topics" in paper and "at most 50 epochs of 7 batches" in paper
