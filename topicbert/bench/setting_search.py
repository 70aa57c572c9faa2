"""Whether a candidate training setting (a learning rate, a warm-up) should replace the default: issue 22's item 3.

A setting earns it when it reaches its best validation macro-F1 in fewer epochs, beyond the noise, and its runs
rule out that it loses test macro-F1: the lower end of the test F1 difference's 95% interval lies above
-NON_INFERIORITY_MARGIN (a non-inferiority rule). "Not lower beyond the noise" is not enough: pairs 5 points
lower on average whose seeds disagree read as within noise while they cannot exclude a loss of 15 points.

Runs are paired: the same corpus, row, limits, seed and machine under both settings (a CPU without bf16 trains
in float32, and its runs differ by more than rounding). Pairs from several corpora and rows may be pooled, each
pair one draw of how the two settings differ.

Best epochs are a few whole numbers, and three pairs that each differ by one epoch have no spread at all, which a
t interval would read as certainty. So the epochs' verdict is an exact sign-flip test: were the two settings
alike, each pair's difference would be as likely negated, and the p-value is the share of the 2^pairs sign
flips whose mean lies as far from 0 as the one observed. It needs six pairs before any result can reach 5%
(three seeds on one corpus cannot show it, whatever they give). The F1's interval is stats/noise.py's, over
the pairs and their test documents.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..stats.bootstrap import CONFIDENCE, bootstrap_samples, macro_f1_samples
from ..stats.noise import HIGHER, LOWER, WITHIN_NOISE, NoiseInterval, difference_over_seeds

# the test macro-F1 a new default may lose at most: half a point, about what the seeds of one corpus move F1 by
# in BENCHMARKS.md's searches; a setting whose runs cannot rule out losing this much keeps the old default
NON_INFERIORITY_MARGIN = 0.005


@dataclass(frozen=True)
class SearchRun:
    """One training run of a search: its setting, its validation macro-F1 after each epoch and its test scores."""
    corpus: str
    variant: str
    max_len: int
    limit_train: int | None
    epochs: int
    patience: int | None
    machine: str
    lr: float
    warmup: float
    seed: int
    validation_f1: Sequence[float]
    test_macro_f1: float
    labels: Sequence[int]
    predictions: Sequence[int]

    @property
    def best_epoch(self) -> int:
        """The first epoch (1-based) with the highest validation macro-F1: the one early stopping keeps."""
        return int(np.argmax(self.validation_f1)) + 1

    @property
    def pairing_key(self) -> tuple:
        """All but the setting searched over (rate, warm-up) and the results."""
        return (self.corpus, self.variant, self.max_len, self.limit_train, self.epochs, self.patience, self.machine,
                self.seed)

    @classmethod
    def from_record(cls, record: dict) -> SearchRun:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SettingComparison:
    """A candidate against the reference over their paired runs: candidate minus reference."""
    epoch_differences: list[int]     # each pair's best epoch, candidate minus reference
    epoch_p_value: float             # two-sided, the sign-flip test's
    test_f1: NoiseInterval
    seeds: tuple[int, ...] = ()      # the pairs' seeds, corpora and rows, each once: what the pairs pool over
    corpora: tuple[str, ...] = ()
    rows: tuple[str, ...] = ()

    @property
    def pairs(self) -> int:
        return len(self.epoch_differences)

    @property
    def mean_epoch_difference(self) -> float:
        return float(np.mean(self.epoch_differences))

    @property
    def sooner(self) -> bool:
        """Peaks in fewer epochs beyond the noise."""
        return self.mean_epoch_difference < 0 and self.epoch_p_value < 1 - CONFIDENCE

    @property
    def later(self) -> bool:
        return self.mean_epoch_difference > 0 and self.epoch_p_value < 1 - CONFIDENCE

    @property
    def loses_f1(self) -> bool:
        return self.test_f1.verdict == LOWER

    @property
    def rules_out_loss(self) -> bool:
        """The interval of the test F1's difference lies above -NON_INFERIORITY_MARGIN: no loss that large."""
        return self.test_f1.low > -NON_INFERIORITY_MARGIN

    @property
    def earns_default(self) -> bool:
        return self.sooner and self.rules_out_loss

    @property
    def pooled_over(self) -> str:
        """'seeds 42, 43, 44 on bbc and reuters8': the pairs' seeds and corpora named apart (six pairs are not six
        seeds), and their rows where there are several."""
        seeds = ("seed " if len(self.seeds) == 1 else "seeds ") + ", ".join(str(seed) for seed in self.seeds)
        rows = f", rows {' and '.join(self.rows)}" if len(self.rows) > 1 else ""
        return f"{seeds} on {' and '.join(self.corpora)}{rows}"


def pair_runs(candidate: Sequence[SearchRun], reference: Sequence[SearchRun]) -> list[tuple[SearchRun, SearchRun]]:
    """(candidate, reference) for each corpus, row, limits, seed and machine both ran, tested on the same documents."""
    by_key = {run.pairing_key: run for run in reference}
    return [(run, by_key[run.pairing_key]) for run in candidate
            if run.pairing_key in by_key and list(run.labels) == list(by_key[run.pairing_key].labels)]


def sign_flip_p_value(differences: Sequence[float]) -> float:
    """Two-sided: the share of all 2^n negations of some of `differences` whose mean is at least as far from 0
    as theirs (1.0 when every difference is 0)."""
    observed = abs(sum(differences))
    flips = list(itertools.product((1, -1), repeat=len(differences)))
    # a small tolerance so that float sums equal to the observed one count as reaching it
    reaching = sum(abs(sum(sign * d for sign, d in zip(signs, differences, strict=True))) >= observed - 1e-9
                   for signs in flips)
    return reaching / len(flips)


def compare_settings(candidate: Sequence[SearchRun], reference: Sequence[SearchRun]) -> SettingComparison:
    """The candidate's best epoch and test macro-F1 minus the reference's over their pairs, with the sign-flip
    test's p-value and the F1's 95% interval. ValueError with fewer than two pairs, or more than 16 (the test
    enumerates every sign flip)."""
    pairs = pair_runs(candidate, reference)
    if not 2 <= len(pairs) <= 16:
        raise ValueError(f"{len(pairs)} paired run(s): comparing settings needs 2 to 16 of the same corpus, row, "
                         f"limits, seed and machine under both")
    epochs = [mine.best_epoch - theirs.best_epoch for mine, theirs in pairs]
    samples = {n: bootstrap_samples(n) for n in {len(mine.labels) for mine, _ in pairs}}
    resampled = [(macro_f1_samples(mine.labels, mine.predictions, samples[len(mine.labels)]),
                  macro_f1_samples(theirs.labels, theirs.predictions, samples[len(theirs.labels)]))
                 for mine, theirs in pairs]
    test_f1 = difference_over_seeds([mine.test_macro_f1 for mine, _ in pairs], [m for m, _ in resampled],
                                    [theirs.test_macro_f1 for _, theirs in pairs], [t for _, t in resampled])
    return SettingComparison(epochs, sign_flip_p_value(epochs), test_f1,
                             seeds=tuple(sorted({mine.seed for mine, _ in pairs})),
                             corpora=tuple(dict.fromkeys(mine.corpus for mine, _ in pairs)),
                             rows=tuple(dict.fromkeys(f"{mine.variant}-{mine.max_len}" for mine, _ in pairs)))


def comparison_words(comparison: SettingComparison) -> str:
    """The verdict in a sentence: whether it peaks sooner, whether its runs rule out a loss of F1, and so whether
    it earns the default."""
    f1 = comparison.test_f1
    epochs = ", ".join(f"{d:+d}" for d in comparison.epoch_differences)
    return (f"over {comparison.pairs} paired runs ({comparison.pooled_over}): best epoch "
            f"{comparison.mean_epoch_difference:+.2f} (per pair {epochs}; sign-flip p = "
            f"{comparison.epoch_p_value:.3f}: {_epoch_words(comparison)}); "
            f"test macro-F1 {f1.value:+.4f} [{f1.low:+.4f}, {f1.high:+.4f}] "
            f"({_f1_words(f1)}; {_loss_words(comparison)}): "
            f"{'it earns the default' if comparison.earns_default else 'it does not earn the default'}.")


def _f1_words(f1: NoiseInterval) -> str:
    if f1.verdict in (LOWER, HIGHER):
        return f"{f1.verdict} beyond the noise"
    detectable = f1.smallest_detectable()
    if np.isnan(detectable):
        return f"{WITHIN_NOISE}: the pairs made the same predictions, so they cannot size a difference"
    return f"{WITHIN_NOISE}: these pairs show a difference of about ±{detectable:.4f} or more 4 times in 5"


def _loss_words(comparison: SettingComparison) -> str:
    margin = f"{NON_INFERIORITY_MARGIN:.3f}"
    if comparison.rules_out_loss:
        return f"a loss of {margin} or more is ruled out"
    return f"these runs cannot rule out a loss of {margin} or more"


def _epoch_words(comparison: SettingComparison) -> str:
    if comparison.sooner:
        return "sooner beyond the noise"
    return "later beyond the noise" if comparison.later else "neither sooner nor later shown"
