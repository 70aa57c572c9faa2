"""Which runs give the most F1 for their cost: the Pareto front of (F1, cost) points."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (F1, cost) points no other point beats: higher F1 and lower cost are better.

    A point is off the front when another has F1 at least as high and cost at least as low,
    better in one. Equal points are both on it. NaN points are never on it. Sorted by cost.
    """
    valid = [i for i, (f1, cost) in enumerate(points) if not (np.isnan(f1) or np.isnan(cost))]
    front = []
    for i in valid:
        f1_i, cost_i = points[i]
        dominated = any(points[j][0] >= f1_i and points[j][1] <= cost_i
                        and (points[j][0] > f1_i or points[j][1] < cost_i) for j in valid)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][1], -points[i][0]))
