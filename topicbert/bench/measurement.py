"""What the benchmark records of one row and one seed, and how it meters a piece of work."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..energy.meter import EnergyMeter, EnergyReading
from ..training.callbacks import Callback


@dataclass(frozen=True)
class Energy:
    kwh: float
    kg_co2e: float
    measured: str

    @classmethod
    def of(cls, reading: Optional[EnergyReading]) -> "Energy":
        """NaN energy when the tracker failed (it logged why)."""
        if reading is None:
            return cls(float("nan"), float("nan"), "energy tracker failed")
        return cls(reading.kwh, reading.kg_co2e, reading.measured)


@dataclass
class Measurement:
    """One row, one seed. `labels` and `predictions` are the test documents' (for the bootstrap)."""
    seed: int
    test_macro_f1: float
    train_seconds: float
    step_seconds: float
    steps: int
    tokens_processed: int
    padded_fraction: float
    kwh: float
    kg_co2e: float
    measured: str
    inference_docs_per_second: float
    inference_kwh_per_1000_docs: float
    labels: np.ndarray = field(repr=False)
    predictions: np.ndarray = field(repr=False)
    train_flops: Optional[float] = None     # model FLOPs of the training steps, where counted
    # the step of the best validation macro-F1, for rows that train in epochs (not TF-IDF, not the Trainer's)
    best_step: Optional[int] = None

    @property
    def still_rising(self) -> Optional[bool]:
        """Whether the last evaluation was the best: validation F1 still rose when training ended, so the
        row has not converged (with early stopping, a row that converged stops after a worse evaluation)."""
        return None if self.best_step is None else self.best_step == self.steps


def metered(fn: Callable[[], object]) -> tuple[object, float, Energy]:
    """fn's value, its wall seconds and its energy."""
    meter = EnergyMeter()
    meter.start()
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    return value, seconds, Energy.of(meter.stop())


class Stopwatch(Callback):
    """Reads the clock and a running meter when training ends (on_trained) and when the test evaluation
    and its result files are done (on_end): a row's training and its test pass, metered apart in one run
    (the same scope for every row: the test pass is never in train s or kWh)."""

    def __init__(self, meter: EnergyMeter) -> None:
        self.meter = meter
        self._trained: Optional[tuple[float, Optional[EnergyReading]]] = None
        self._ended: Optional[tuple[float, Optional[EnergyReading]]] = None

    def on_trained(self, wall_seconds: float) -> None:
        self._trained = (time.perf_counter(), self.meter.read())

    def on_end(self, result: object) -> None:
        self._ended = (time.perf_counter(), self.meter.read())

    @property
    def training(self) -> Energy:
        return Energy.of(self._trained[1] if self._trained else None)

    def test_pass(self) -> tuple[float, Energy]:
        """Seconds and energy of the test evaluation (NaN energy if a reading is missing)."""
        (start, before), (end, after) = self._trained, self._ended
        if before is None or after is None:
            return end - start, Energy.of(None)
        return end - start, Energy(after.kwh - before.kwh, after.kg_co2e - before.kg_co2e, after.measured)
