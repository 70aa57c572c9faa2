"""Intervals over few seeds keep their coverage, and a difference between equally good models is rarely
called beyond the noise: simulated seed and document noise, through the same bootstrap the Studio uses."""
from __future__ import annotations

import math

import numpy as np
import pytest

from topicbert.stats.bootstrap import BOOTSTRAP_RESAMPLES, bootstrap_samples, macro_f1_samples, percentile_interval
from topicbert.stats.noise import (
    HIGHER,
    LOWER,
    NOT_SHOWN,
    as_share,
    difference_over_seeds,
    mean_over_seeds,
    over_seeds,
)

DOCUMENTS = 300
RESAMPLES = BOOTSTRAP_RESAMPLES   # as the Studio and the bench draw them
SKILL = 1.4                 # a model's log-odds of being right on a document of average difficulty
DIFFICULTY_SPREAD = 1.5


def predictions(rng: np.random.Generator, labels: np.ndarray, difficulty: np.ndarray, skill: float) -> np.ndarray:
    """Two classes: right with probability sigmoid(skill - difficulty), else the other class."""
    right = rng.random(len(labels)) < 1 / (1 + np.exp(difficulty - skill))
    return np.where(right, labels, 1 - labels)


def true_f1(seed_spread: float) -> float:
    """The score an interval should cover: macro-F1 averaged over seeds, on the whole population of documents."""
    rng = np.random.default_rng(12345)
    labels = rng.integers(0, 2, 200_000)
    difficulty = rng.normal(0, DIFFICULTY_SPREAD, labels.size)
    scores = [macro_f1_samples(labels, predictions(rng, labels, difficulty, SKILL + rng.normal(0, seed_spread)),
                               np.arange(labels.size)[None, :])[0] for _ in range(60)]
    return float(np.mean(scores))


def experiment(rng: np.random.Generator, seeds: int, seed_spread: float, models: int = 1):
    """One test set, `seeds` seeds of each model (equally good): per model, each seed's F1 and bootstrap F1s."""
    labels = rng.integers(0, 2, DOCUMENTS)
    difficulty = rng.normal(0, DIFFICULTY_SPREAD, DOCUMENTS)
    resamples = bootstrap_samples(DOCUMENTS, RESAMPLES)
    runs = []
    for _ in range(models):
        points, samples = [], []
        for _ in range(seeds):
            predicted = predictions(rng, labels, difficulty, SKILL + rng.normal(0, seed_spread))
            points.append(macro_f1_samples(labels, predicted, np.arange(DOCUMENTS)[None, :])[0])
            samples.append(macro_f1_samples(labels, predicted, resamples))
        runs.append((points, samples))
    return runs


# seed spread 0: documents alone; 0.6: seeds move F1 about 4x more than this test set's documents do
@pytest.mark.parametrize("seed_spread", [0.0, 0.6])
@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_intervals_over_few_seeds_cover_the_true_score(seeds, seed_spread):
    truth = true_f1(seed_spread)
    rng = np.random.default_rng(seeds * 100 + int(seed_spread * 10))
    covered = naive = 0
    trials = 250
    for _ in range(trials):
        [(points, samples)] = experiment(rng, seeds, seed_spread)
        interval = mean_over_seeds(points, samples)
        covered += interval.low <= truth <= interval.high
        low, high = percentile_interval(np.mean(np.stack(samples), axis=0))  # the documents alone
        naive += low <= truth <= high
    assert covered / trials >= 0.90
    if seed_spread:  # the simulation is hard enough to fail an interval that leaves the seeds out
        assert naive / trials < 0.80


@pytest.mark.parametrize("seeds", [1, 2, 3, 5])
def test_equally_good_models_are_rarely_called_different(seeds):
    rng = np.random.default_rng(seeds)
    calls = 0
    trials = 1000 if seeds == 1 else 400   # one seed's paired bootstrap sits near its 5%: a closer look
    for _ in range(trials):
        (a, a_samples), (b, b_samples) = experiment(rng, seeds, 0.6 if seeds > 1 else 0.0, models=2)
        calls += difference_over_seeds(a, a_samples, b, b_samples).verdict != NOT_SHOWN
    # 5% promised, give or take two standard errors of a simulation this size
    assert calls / trials <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / trials)


def test_one_seed_is_the_documents_percentile_interval():
    samples = np.linspace(0.70, 0.80, 1001)
    interval = over_seeds(0.75, [0.75], samples)
    assert interval.documents_only and math.isinf(interval.degrees_of_freedom)
    assert interval.interval == pytest.approx(percentile_interval(samples))
    assert interval.standard_error == pytest.approx(samples.std(ddof=1))


def test_two_seeds_by_hand():
    """Seeds 0.906 and 0.957 with no document noise: mean 0.9315, standard error |0.051| / 2, t(1) = 12.706."""
    interval = over_seeds(0.9315, [0.906, 0.957], np.full((2, 100), 0.9315))
    assert interval.degrees_of_freedom == 1
    assert interval.standard_error == pytest.approx(0.0255)
    assert interval.high - interval.value == pytest.approx(12.706 * 0.0255, rel=1e-3)
    assert interval.low < 0.906 and interval.high > 0.957   # far wider than the two seeds' range


def test_three_verdicts_and_the_smallest_detectable_difference():
    assert over_seeds(0.02, [0.02], np.linspace(0.01, 0.03, 101)).verdict == HIGHER
    assert over_seeds(-0.07, [-0.07], np.linspace(-0.10, -0.04, 101)).verdict == LOWER
    unsure = over_seeds(0.01, [0.01], np.linspace(-0.008, 0.027, 101))
    assert unsure.verdict == NOT_SHOWN and unsure.within_noise
    # (1.96 + 0.84) standard errors for one seed; t quantiles for several
    assert unsure.smallest_detectable() == pytest.approx(2.8016 * unsure.standard_error, rel=1e-3)
    several = over_seeds(0.01, [0.0, 0.02, 0.01], np.zeros((3, 100)))
    assert several.smallest_detectable() == pytest.approx((4.303 + 1.061) * several.standard_error, rel=1e-3)
    assert unsure.noise_words() == (f"within noise: over one seed's test documents, only a difference of about "
                                    f"±{unsure.smallest_detectable():.4f} or more shows 4 times in 5")


def test_models_that_never_differ_get_no_smallest_detectable_difference():
    """Two models with the same prediction on every test document: every resample's difference is 0, and a
    size of 0 would claim that any difference would show. None is given, and the words say why."""
    labels = np.random.default_rng(0).integers(0, 3, 200)
    predictions = labels.copy()
    predictions[:30] = (labels[:30] + 1) % 3
    for seeds in (1, 3):
        samples = [macro_f1_samples(labels, predictions, bootstrap_samples(200, 300, seed))
                   for seed in range(seeds)]
        points = [float(sample.mean()) for sample in samples]
        same = difference_over_seeds(points, samples, points, samples)
        assert same.value == 0 and same.within_noise and math.isnan(same.smallest_detectable())
        assert "never varied" in same.noise_words() and "±" not in same.noise_words()


def test_difference_is_paired_seed_by_seed_and_the_share_kept_agrees_with_it():
    samples = [np.array([0.8, 0.9]), np.array([0.7, 0.8])]
    reference = [np.array([0.8, 1.0]), np.array([0.6, 0.8])]
    difference = difference_over_seeds([0.85, 0.75], samples, [0.9, 0.7], reference)
    assert difference.value == pytest.approx(0.0) and difference.seeds == 2
    kept = as_share(difference, 0.8)
    assert kept.value == pytest.approx(1.0)
    assert kept.low == pytest.approx(1 + difference.low / 0.8) and kept.high == pytest.approx(1 + difference.high / 0.8)
    lower = over_seeds(-0.05, [-0.05], np.linspace(-0.08, -0.02, 101))
    assert lower.verdict == LOWER and as_share(lower, 0.8).high < 1   # never "lower" beside a share holding 100%
