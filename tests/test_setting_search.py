"""The learning-rate search's verdict: a setting earns the default only when it peaks sooner beyond the noise and
does not lose F1; it says nothing when the two settings are alike."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from topicbert.bench.setting_search import (
    SearchRun,
    compare_settings,
    comparison_words,
    pair_runs,
    sign_flip_p_value,
)


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
        reference = [_run(seed, int(e), 0.85) for seed, e in zip(range(trial * 10, trial * 10 + 6), epochs[0])]
        candidate = [_run(seed, int(e), 0.85, warmup=0.0) for seed, e in zip(range(trial * 10, trial * 10 + 6),
                                                                              epochs[1])]
        earned += compare_settings(candidate, reference).earns_default
    assert earned <= 2   # 0.6% of such draws are called sooner: fewer than 1 in 40 expected


def test_six_steady_pairs_earn_the_default_pooled_over_two_corpora() -> None:
    reference = [_run(seed, 5, 0.9, corpus=corpus) for corpus in ("bbc", "reuters8") for seed in (42, 43, 44)]
    candidate = [_run(seed, 3, 0.9, warmup=0.0, corpus=corpus) for corpus in ("bbc", "reuters8")
                 for seed in (42, 43, 44)]
    comparison = compare_settings(candidate, reference)
    assert comparison.pairs == 6 and comparison.sooner and not comparison.loses_f1
    assert comparison.earns_default
    assert "it earns the default" in comparison_words(comparison)


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
