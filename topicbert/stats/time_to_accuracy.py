"""Time to accuracy, as MLPerf Training measures it: the wall time and energy until a model's validation
macro-F1 first reaches a target share of the reference's best validation F1, counting everything the user
waits for up to that evaluation (loading, topic-model pretraining). Unlike time to the end of training it
does not depend on a stopping rule: a model that reaches the target and then trains on for nothing is not
charged for the epochs after it.
"""
from __future__ import annotations

from collections.abc import Sequence

# the share of the reference's best validation macro-F1 a model must reach (MLPerf sets its own per task)
DEFAULT_TARGET = 0.99


def first_reaching(evaluations: Sequence[Sequence[float]], target_f1: float) -> tuple[float, float] | None:
    """`evaluations`: (seconds, kWh, validation macro-F1) in the order they came. The seconds and kWh at the
    first one whose F1 reaches `target_f1`; None if none does."""
    for seconds, kwh, f1 in evaluations:
        if f1 >= target_f1:
            return seconds, kwh
    return None


def target_f1(reference_evaluations: Sequence[Sequence[float]], target: float = DEFAULT_TARGET) -> float | None:
    """`target` times the reference's best validation macro-F1; None if it has no evaluation."""
    return target * max(f1 for _, _, f1 in reference_evaluations) if reference_evaluations else None
