"""Many verdicts side by side (one per topic, one per class): each group's exact test, a correction for
their number, and the fewest documents a group needs to get a verdict at all.

Two models on a group's documents differ only where one is right and the other wrong: under "equally good"
each such document goes either way with probability 1/2, so the exact two-sided sign test (McNemar's exact
test) on those counts holds for any number of documents. Holm's step-down correction over the groups keeps
the chance of any false "beyond the noise" in the whole table at or under the level (family-wise), whatever
the groups' dependence. A group with n documents can reach at best p = 2 * 0.5^n; with m groups, a group
too small to reach level / m could never be called, so it gets no verdict and the correction is not spent on it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

FAMILY_LEVEL = 0.05


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact p-value of `wins` against `losses` (the documents where exactly one model is right)."""
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's adjusted p-values, in the order given: a group is called at `level` when its adjusted p is under it."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    stepped = np.minimum(1.0, p[order] * (len(p) - np.arange(len(p))))
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def fewest_documents(groups: int, level: float = FAMILY_LEVEL) -> int:
    """The fewest documents with which one of `groups` groups could be called: 2 * 0.5^n <= level / groups."""
    return max(1, math.ceil(math.log2(2 * max(groups, 1) / level)))
