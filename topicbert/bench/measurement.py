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


def metered(fn: Callable[[], object]) -> tuple[object, float, Energy]:
    """fn's value, its wall seconds and its energy."""
    meter = EnergyMeter()
    meter.start()
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    return value, seconds, Energy.of(meter.stop())


class TrainedReading(Callback):
    """Reads a running meter when training ends (on_trained), before the test evaluation: every row's
    energy then covers the same scope as its train seconds."""

    def __init__(self, meter: EnergyMeter) -> None:
        self.meter = meter
        self.reading: Optional[EnergyReading] = None

    def on_trained(self, wall_seconds: float) -> None:
        self.reading = self.meter.read()
