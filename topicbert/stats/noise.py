"""How sure a figure over seeds and test documents is, and the verdict a difference may carry.

A score averaged over k seeds moves with the seeds (initialisation, batch order) and with the test
documents. The seeds' sample variance already holds what each seed's own errors add; what it misses is
the part every seed shares when all are tested on the same documents (how hard this test set is), which
the bootstrap gives as the mean covariance between seeds over resamples of the documents (0 when each seed
has documents of its own). The interval's half-width is sqrt(t^2 * seed variance / k + z^2 * shared
document variance): Student's t with k - 1 degrees of freedom for the part estimated from k seeds, the normal
quantile for the part the bootstrap estimates well. With two or three seeds the seed variance rests on one
or two degrees of freedom: a normal or bootstrap quantile over the seeds would cover far less than the
promised 95% (a bootstrap over two seeds spans little more than their range), and subtracting each seed's
own document noise from the seeds' spread to narrow it loses coverage at two seeds; this keeps it
(tests/test_noise.py simulates seed and document noise at 2, 3 and 5 seeds). Few seeds give wide
intervals: that is their honest width. One seed: the bootstrap's percentile interval over the test
documents alone, which says nothing of how another seed would score.

A difference gets one of three verdicts: higher beyond the noise, lower beyond the noise, or not shown
either way, with the smallest difference that these documents and seeds could have shown.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .bootstrap import CONFIDENCE, percentile_interval

HIGHER, LOWER, NOT_SHOWN = "higher", "lower", "not shown"
WITHIN_NOISE = "within noise"
# the power at which the smallest detectable difference is quoted: a difference that large is found 4 times in 5
DETECTION_POWER = 0.8


@dataclass(frozen=True)
class NoiseInterval:
    """A figure with its interval: over seeds and test documents, or (one seed) test documents alone."""
    value: float
    low: float
    high: float
    seeds: int
    seed_variance: float        # the seeds' sample variance over their number (0 for one seed)
    document_variance: float    # what the documents add that the seeds' spread leaves out (one seed: all of it)

    @property
    def degrees_of_freedom(self) -> float:
        """Of the seeds' part: seeds - 1; infinite for one seed (the documents' bootstrap)."""
        return float(self.seeds - 1) if self.seeds > 1 else math.inf

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.seed_variance + self.document_variance)

    @property
    def documents_only(self) -> bool:
        """One seed: the interval covers the test documents, not how another seed would score."""
        return self.seeds == 1

    @property
    def interval(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def verdict(self) -> str:
        """HIGHER or LOWER when the interval of a difference leaves out 0, NOT_SHOWN when it holds it."""
        return HIGHER if self.low > 0 else LOWER if self.high < 0 else NOT_SHOWN

    @property
    def within_noise(self) -> bool:
        return self.verdict == NOT_SHOWN

    def half_width(self, q: float) -> float:
        """The distance from the figure to its `q` quantile: Student's t for the seeds' part, the normal's for
        the documents'."""
        return math.sqrt(_quantile(q, self.degrees_of_freedom) ** 2 * self.seed_variance
                         + _quantile(q, math.inf) ** 2 * self.document_variance)

    def smallest_detectable(self, level: float = CONFIDENCE, power: float = DETECTION_POWER) -> float:
        """The smallest true difference these documents and seeds would show beyond the noise with `power`; NaN
        when nothing varied (two models with the same prediction on every test document, on every seed): a
        resampling that never saw them differ cannot say how large a difference would show, and 0 would claim
        that any would."""
        if self.seed_variance == 0 and self.document_variance == 0:
            return math.nan
        return self.half_width(1 - (1 - level) / 2) + self.half_width(power)

    def noise_words(self) -> str:
        return not_shown_words(self.smallest_detectable(), self.seeds)


def not_shown_words(smallest_detectable: float | None, seeds: int) -> str:
    """A difference not shown either way, in words: within noise, and how large one must be to show here."""
    over = "one seed's test documents" if seeds == 1 else f"{seeds} seeds and their test documents"
    if smallest_detectable is None or math.isnan(smallest_detectable):
        return (f"{WITHIN_NOISE}: the difference never varied over {over} (the same predictions), so they cannot "
                "say how large a difference would show")
    return (f"{WITHIN_NOISE}: over {over}, only a difference of about ±{smallest_detectable:.4f} or more shows "
            f"4 times in 5")


def _quantile(q: float, degrees_of_freedom: float) -> float:
    """Student's t quantile; the normal's for infinite degrees of freedom."""
    return float(stats.norm.ppf(q) if math.isinf(degrees_of_freedom) else stats.t.ppf(q, degrees_of_freedom))


def over_seeds(value: float, per_seed: Sequence[float], resampled: np.ndarray, level: float = CONFIDENCE,
               bounds: tuple[float, float] = (-math.inf, math.inf)) -> NoiseInterval:
    """`value` with its interval, kept within `bounds` (an F1 lies in [0, 1]). `per_seed`: each seed's own
    figure; `resampled`: (seeds, resamples), each seed's figure on each bootstrap resample of its test documents
    (seeds tested on the same documents drawn alike, so that what the documents share shows as covariance)."""
    k = len(per_seed)
    resampled = np.atleast_2d(np.asarray(resampled, dtype=float))
    if k == 1:
        draws = resampled[0][np.isfinite(resampled[0])]
        low, high = percentile_interval(draws, level) if draws.size else (math.nan, math.nan)
        return NoiseInterval(value, low, high, 1, 0.0, float(draws.var(ddof=1)) if draws.size > 1 else 0.0)
    # the seeds' spread holds what each seed's own errors on the documents add; the documents' shared part
    # (how hard this test set is, for every seed alike) is the resamples' mean covariance between seeds
    covariance = np.ma.cov(np.ma.masked_invalid(resampled)).filled(0.0)
    shared = (covariance.sum() - np.trace(covariance)) / (k * (k - 1))
    noise = NoiseInterval(value, value, value, k, float(np.var(np.asarray(per_seed, dtype=float), ddof=1)) / k,
                          max(float(shared), 0.0))
    half = noise.half_width(1 - (1 - level) / 2)
    return dataclasses.replace(noise, low=max(value - half, bounds[0]), high=min(value + half, bounds[1]))


def mean_over_seeds(points: Sequence[float], samples: Sequence[np.ndarray], level: float = CONFIDENCE) -> NoiseInterval:
    """The mean of each seed's score. `samples[i]`: seed i's score on each bootstrap resample of its test documents."""
    return over_seeds(float(np.mean(points)), points, np.stack(samples), level, (0.0, 1.0))


def difference_over_seeds(points: Sequence[float], samples: Sequence[np.ndarray], reference_points: Sequence[float],
                          reference_samples: Sequence[np.ndarray], level: float = CONFIDENCE) -> NoiseInterval:
    """Mean score minus the reference's, paired: seed by seed, and resample by resample on each seed's documents."""
    differences = np.asarray(points, dtype=float) - np.asarray(reference_points, dtype=float)
    return over_seeds(float(differences.mean()), differences, np.stack(samples) - np.stack(reference_samples), level,
                      (-1.0, 1.0))


def as_share(difference: NoiseInterval, reference_mean: float) -> NoiseInterval:
    """The share of the reference's mean score that the mean keeps (1 + difference / reference mean), with the
    difference's interval on that scale: the two always agree on whether keeping it all lies within the noise."""
    if not reference_mean > 0:
        return NoiseInterval(math.nan, math.nan, math.nan, difference.seeds, math.nan, math.nan)
    scale = 1 / reference_mean
    return NoiseInterval(1 + difference.value * scale, 1 + difference.low * scale, 1 + difference.high * scale,
                         difference.seeds, difference.seed_variance * scale ** 2,
                         difference.document_variance * scale ** 2)
