"""Uncertainty: bootstrap intervals of macro-F1 (checked by hand and against scikit-learn), paired
comparisons, "within noise", and how Compare words them."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from topicbert.config import RunConfig
from topicbert.studio.run_files import RunPredictions
from topicbert.studio.uncertainty import (OTHER_DOCUMENTS, WITHIN_NOISE, against_reference, difference_words,
                                          interval_text, describe_test_set)
from topicbert.training.metrics import (bootstrap_samples, f1_interval, macro_f1_samples, paired_f1,
                                        percentile_interval, within_noise)


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


def test_percentile_interval_and_within_noise():
    assert percentile_interval(np.arange(101)) == pytest.approx((2.5, 97.5))
    assert within_noise((-0.01, 0.02)) and within_noise((0.0, 0.1)) and not within_noise((0.001, 0.02))


def test_paired_comparison_of_models():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 500)
    good = np.where(rng.random(500) < 0.9, y_true, (y_true + 1) % 3)
    same = paired_f1(y_true, good, good)
    assert same.difference_interval == (0.0, 0.0) and same.retained_interval == (1.0, 1.0) and same.within_noise
    worse = np.where(rng.random(500) < 0.7, good, (good + 1) % 3)
    lower = paired_f1(y_true, worse, good)
    assert lower.difference < 0 and lower.difference_interval[1] < 0 and not lower.within_noise
    assert lower.retained_interval[0] < lower.retained < lower.retained_interval[1] < 1
    # one document changed: far inside the noise
    nearly = good.copy()
    nearly[0] = (nearly[0] + 1) % 3
    assert paired_f1(y_true, nearly, good).within_noise


def predictions(texts: list[str], labels: list[int], predicted: list[int]) -> RunPredictions:
    probabilities = np.eye(2)[predicted]
    return RunPredictions(classes=["a", "b"], texts=texts, labels=np.array(labels), probabilities=probabilities,
                          topic_mixtures=None)


def test_compare_words_only_for_runs_on_the_same_documents():
    texts = [f"doc {i}" for i in range(60)]
    labels = [i % 2 for i in range(60)]
    reference = predictions(texts, labels, labels)
    run = predictions(texts, labels, [1 - y if i < 30 else y for i, y in enumerate(labels)])
    paired = against_reference(run, reference)
    assert difference_words(paired) == "lower beyond the noise"
    assert difference_words(against_reference(reference, reference)) == WITHIN_NOISE
    other = predictions([t + "!" for t in texts], labels, labels)
    assert against_reference(other, reference) is None and difference_words(None) == ""
    assert against_reference(None, reference) is None
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
