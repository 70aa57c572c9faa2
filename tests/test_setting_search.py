"""The learning-rate search's verdict: a setting earns the default only when it peaks sooner beyond the noise and
its runs rule out losing NON_INFERIORITY_MARGIN of test F1; it says nothing when the two settings are alike."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from topicbert.bench.setting_search import (
    NON_INFERIORITY_MARGIN,
    SearchRun,
    SettingComparison,
    compare_settings,
    comparison_words,
    pair_runs,
    sign_flip_p_value,
)
from topicbert.stats.noise import NoiseInterval


def _run(seed: int, best_epoch: int, accuracy: float, *, warmup: float = 0.1, corpus: str = "bbc",
         machine: str = "cpu", docs: int = 200) -> SearchRun:
    """A run whose validation F1 peaks at `best_epoch` of 6 and whose test predictions are right with
    probability `accuracy` (drawn from the seed and the setting)."""
    rng = np.random.default_rng([seed, int(warmup * 100), best_epoch, int(accuracy * 1000)])
    labels = np.arange(docs) % 4
    right = rng.random(docs) < accuracy
    predictions = np.where(right, labels, (labels + 1) % 4)
    curve = [0.5 + 0.01 * epoch for epoch in range(6)]
    curve[best_epoch - 1] = 0.9
    f1 = float(np.mean(right))   # close enough for pairing: the bootstrap rescoring uses the predictions
    return SearchRun(corpus=corpus, variant="topicbert", max_len=128, limit_train=800, epochs=6, patience=2,
                     machine=machine, lr=1e-4, warmup=warmup, seed=seed, validation_f1=curve, test_macro_f1=f1,
                     labels=labels.tolist(), predictions=predictions.tolist())


def test_sign_flip_p_value_counts_the_flips_as_far_from_zero() -> None:
    assert sign_flip_p_value([-1, -1, -1]) == pytest.approx(2 / 8)
    assert sign_flip_p_value([-1] * 6) == pytest.approx(2 / 64)
    assert sign_flip_p_value([-2, -1, 0]) == pytest.approx(4 / 8)    # the 0 flips to itself: each flip counted twice
    assert sign_flip_p_value([0, 0]) == 1.0


def test_three_seeds_cannot_show_a_setting_sooner_however_steady() -> None:
    reference = [_run(seed, 5, 0.9) for seed in (42, 43, 44)]
    candidate = [_run(seed, 2, 0.9, warmup=0.0) for seed in (42, 43, 44)]
    comparison = compare_settings(candidate, reference)
    assert comparison.epoch_differences == [-3, -3, -3]
    assert not comparison.sooner and not comparison.earns_default
    assert "neither sooner nor later shown" in comparison_words(comparison)


def test_alike_settings_are_called_sooner_at_most_five_times_in_a_hundred() -> None:
    """Both settings' best epochs drawn alike (uniform over 1-6), six pairs: the null case, simulated."""
    rng = np.random.default_rng(0)
    trials = 2000
    called = sum(sign_flip_p_value(list(rng.integers(1, 7, 6) - rng.integers(1, 7, 6))) < 0.05 for _ in range(trials))
    assert called / trials <= 0.05


def test_alike_settings_end_to_end_seldom_earn_the_default() -> None:
    rng = np.random.default_rng(1)
    earned = 0
    for trial in range(40):
        epochs = rng.integers(1, 7, size=(2, 6))
        seeds = range(trial * 10, trial * 10 + 6)
        reference = [_run(seed, int(e), 0.85) for seed, e in zip(seeds, epochs[0], strict=True)]
        candidate = [_run(seed, int(e), 0.85, warmup=0.0) for seed, e in zip(seeds, epochs[1], strict=True)]
        earned += compare_settings(candidate, reference).earns_default
    assert earned <= 2   # 0.6% of such draws are called sooner: fewer than 1 in 40 expected


def test_six_steady_pairs_with_the_same_predictions_earn_the_default_pooled_over_two_corpora() -> None:
    """Two epochs sooner on every pair and the same test predictions: F1 +0.0000 [+0.0000, +0.0000] rules out any
    loss, so the candidate earns the default; the six pairs are named as three seeds on two corpora."""
    reference = [_run(seed, 5, 0.9, corpus=corpus) for corpus in ("bbc", "reuters8") for seed in (42, 43, 44)]
    candidate = [dataclasses.replace(run, warmup=0.0, validation_f1=_run(run.seed, 3, 0.9).validation_f1)
                 for run in reference]
    comparison = compare_settings(candidate, reference)
    assert comparison.pairs == 6 and comparison.sooner and comparison.rules_out_loss
    assert comparison.earns_default
    words = comparison_words(comparison)
    assert words.startswith("over 6 paired runs (seeds 42, 43, 44 on bbc and reuters8): ")
    assert "a loss of 0.005 or more is ruled out): it earns the default." in words


def test_steady_pairs_on_200_documents_cannot_rule_out_half_a_point() -> None:
    """Equally good settings, each run's 200 test predictions drawn apart: the F1 interval spans several points
    either way, so these runs cannot rule out a loss of 0.005, and a setting two epochs sooner does not earn it."""
    reference = [_run(seed, 5, 0.9, corpus=corpus) for corpus in ("bbc", "reuters8") for seed in (42, 43, 44)]
    candidate = [_run(seed, 3, 0.9, warmup=0.0, corpus=corpus) for corpus in ("bbc", "reuters8")
                 for seed in (42, 43, 44)]
    comparison = compare_settings(candidate, reference)
    assert comparison.sooner and not comparison.loses_f1 and comparison.test_f1.low < -NON_INFERIORITY_MARGIN
    assert not comparison.earns_default
    assert "these runs cannot rule out a loss of 0.005 or more): it does not earn the default." \
           in comparison_words(comparison)


def test_five_points_lower_within_noise_does_not_earn_the_default() -> None:
    """The issue's case: six pairs each peak one epoch sooner (p = 2/64), and test F1 is -0.0500 [-0.1494, +0.0494]:
    within noise, but a loss of up to 15 points is not ruled out, so it must not earn the default."""
    f1 = NoiseInterval(-0.05, -0.1494, 0.0494, seeds=6, seed_variance=0.0016, document_variance=0.0)
    comparison = SettingComparison([-1] * 6, sign_flip_p_value([-1] * 6), f1, seeds=(42, 43, 44),
                                   corpora=("bbc", "reuters8"), rows=("topicbert-128",))
    assert comparison.sooner and not comparison.loses_f1 and not comparison.rules_out_loss
    assert not comparison.earns_default
    words = comparison_words(comparison)
    assert "test macro-F1 -0.0500 [-0.1494, +0.0494] (within noise: " in words
    assert words.endswith("these runs cannot rule out a loss of 0.005 or more): it does not earn the default.")
    assert "over 6 seeds" not in words and "(seeds 42, 43, 44 on bbc and reuters8)" in words


@pytest.mark.parametrize(("low", "earns"), [(-0.0049, True), (-0.005, False), (-0.0051, False)])
def test_the_margin_is_the_lower_end_of_the_interval(low: float, earns: bool) -> None:
    f1 = NoiseInterval(0.002, low, 0.009, seeds=6, seed_variance=1e-5, document_variance=0.0)
    assert SettingComparison([-1] * 6, sign_flip_p_value([-1] * 6), f1).earns_default is earns


def test_a_setting_that_peaks_sooner_but_loses_f1_does_not_earn_it() -> None:
    reference = [_run(seed, 5, 0.9, corpus=corpus) for corpus in ("bbc", "reuters8") for seed in (42, 43, 44)]
    candidate = [_run(seed, 2, 0.6, warmup=0.0, corpus=corpus) for corpus in ("bbc", "reuters8")
                 for seed in (42, 43, 44)]
    comparison = compare_settings(candidate, reference)
    assert comparison.sooner and comparison.loses_f1 and not comparison.earns_default
    assert "lower beyond the noise" in comparison_words(comparison)
    backwards = compare_settings(reference, candidate)     # the reference against the candidate: later, higher
    assert backwards.later and not backwards.sooner
    assert "later beyond the noise" in comparison_words(backwards)


def test_runs_pair_only_on_one_machine_and_one_test_set() -> None:
    reference = [_run(42, 5, 0.9), _run(43, 5, 0.9)]
    other_machine = [_run(42, 2, 0.9, warmup=0.0, machine="gpu"), _run(43, 2, 0.9, warmup=0.0)]
    assert [m.seed for m, _ in pair_runs(other_machine, reference)] == [43]
    with pytest.raises(ValueError, match="1 paired run"):
        compare_settings(other_machine, reference)
    other_documents = dataclasses.replace(_run(42, 2, 0.9, warmup=0.0), labels=[0] * 200)
    assert pair_runs([other_documents], reference) == []


def test_a_record_reads_back_as_a_run() -> None:
    run = _run(42, 3, 0.9)
    record = {**dataclasses.asdict(run), "extra": "ignored"}
    assert SearchRun.from_record(record) == run
    assert run.best_epoch == 3
