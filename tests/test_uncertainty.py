"""Uncertainty: bootstrap intervals of macro-F1 (checked by hand and against scikit-learn), runs compared on
the same documents seed by seed, "within noise", and how Compare words them."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from topicbert.config import RunConfig
from topicbert.stats.bootstrap import bootstrap_samples, f1_interval, macro_f1_samples, percentile_interval
from topicbert.studio.run_files import RunPredictions
from topicbert.studio.uncertainty import (
    OTHER_DOCUMENTS,
    compare_over_seeds,
    covers_words,
    describe_test_set,
    difference_words,
    f1_over_seeds,
    interval_text,
    run_scores,
)


def test_macro_f1_of_resamples_by_hand():
    y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 1]
    samples = np.array([[0, 1, 2, 3],    # all four: class 0 F1 2/3, class 1 F1 4/5
                        [0, 0, 2, 2],    # two right 0s and two right 1s: 1
                        [1, 1, 3, 3],    # class 0 never predicted (F1 0), class 1 F1 4/6
                        [3, 3, 3, 3]])   # only class 1, always right: 1 (class 0 absent, left out)
    assert macro_f1_samples(y_true, y_pred, samples) == pytest.approx([(2 / 3 + 4 / 5) / 2, 1.0, (0 + 4 / 6) / 2, 1.0])


def test_resampled_macro_f1_matches_scikit_learn():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, 300))
    samples = bootstrap_samples(300, n_resamples=40, seed=1)
    expected = [f1_score(y_true[row], y_pred[row], average="macro", zero_division=0) for row in samples]
    assert macro_f1_samples(y_true, y_pred, samples) == pytest.approx(expected)
    low, high = f1_interval(y_true, y_pred)
    assert low < f1_score(y_true, y_pred, average="macro") < high < low + 0.2


def test_percentile_interval():
    assert percentile_interval(np.arange(101)) == pytest.approx((2.5, 97.5))


def test_paired_comparison_of_models_on_one_seed():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 500)
    texts = [str(i) for i in range(500)]
    good = np.where(rng.random(500) < 0.9, y_true, (y_true + 1) % 3)

    def scored(predicted):
        return run_scores(RunPredictions(["a", "b", "c"], texts, y_true, np.eye(3)[predicted], None))
    same = compare_over_seeds([(scored(good), scored(good))])
    assert same.difference.interval == (0.0, 0.0) and same.retained.interval == (1.0, 1.0)
    assert same.difference.within_noise
    worse = np.where(rng.random(500) < 0.7, good, (good + 1) % 3)
    lower = compare_over_seeds([(scored(worse), scored(good))])
    assert lower.difference.value < 0 and lower.difference.high < 0 and not lower.difference.within_noise
    assert lower.retained.low < lower.retained.value < lower.retained.high < 1
    # one document changed: far inside the noise
    nearly = good.copy()
    nearly[0] = (nearly[0] + 1) % 3
    assert compare_over_seeds([(scored(nearly), scored(good))]).difference.within_noise
    assert f1_over_seeds([scored(good)]).documents_only


def predictions(texts: list[str], labels: list[int], predicted: list[int]) -> RunPredictions:
    probabilities = np.eye(2)[predicted]
    return RunPredictions(classes=["a", "b"], texts=texts, labels=np.array(labels), probabilities=probabilities,
                          topic_mixtures=None)


def test_compare_words_only_for_runs_on_the_same_documents():
    texts = [f"doc {i}" for i in range(60)]
    labels = [i % 2 for i in range(60)]
    reference = run_scores(predictions(texts, labels, labels))
    run = run_scores(predictions(texts, labels, [1 - y if i < 30 else y for i, y in enumerate(labels)]))
    lower = compare_over_seeds([(run, reference)]).difference
    assert difference_words(lower) == "lower beyond the noise"
    assert covers_words(lower) == "one seed's test documents only"
    same = compare_over_seeds([(reference, reference)]).difference
    assert difference_words(same) == "within noise" and math.isnan(same.smallest_detectable())
    other = run_scores(predictions([t + "!" for t in texts], labels, labels))
    assert compare_over_seeds([(other, reference)]) is None and compare_over_seeds([]) is None
    assert difference_words(None) == "" and run_scores(None) is None
    # two seeds on the same documents: the verdict covers both
    two = compare_over_seeds([(run, reference), (run, reference)]).difference
    assert two.seeds == 2 and covers_words(two) == "2 seeds and their test documents"
    assert interval_text((0.71234, 0.7891)) == "0.712–0.789"
    assert interval_text((0.951, 1.02), 100, 1) == "95.1–102.0"
    assert interval_text(None) == "" and OTHER_DOCUMENTS == "tested on other documents"


def test_test_set_key_and_its_words():
    config = RunConfig(corpus="/home/x/corpora/3.jsonl", seed=7, limit_train=1000, limit_eval=300)
    assert config.test_set == config.replace(variant="bert", max_len=512, epochs=9).test_set
    assert config.test_set != config.replace(seed=8).test_set != config.replace(limit_eval=None).test_set
    assert config.test_set != config.replace(limit_train=500).test_set  # the subset is drawn in one stream
    names = {"/home/x/corpora/3.jsonl": "BBC News"}
    assert describe_test_set(config.test_set, names) == "BBC News, seed 7, 1,000 training, 300 evaluation documents"
    assert describe_test_set(RunConfig(corpus="/data/r8").test_set, names) == "r8, seed 42, every document"
    assert describe_test_set(config.test_set, names, [7, 8, 9]) == ("BBC News, seeds 7, 8 and 9 (each its own), 1,000 "
                                                                    "training, 300 evaluation documents")
