"""What the benchmark records of one row and one seed, and how it meters a piece of work."""
from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TypeVar

import numpy as np

from ..energy.meter import EnergyMeter, EnergyReading
from ..training.callbacks import Callback

T = TypeVar("T")


@dataclass(frozen=True)
class Energy:
    kwh: float
    kg_co2e: float
    measured: str

    @classmethod
    def of(cls, reading: EnergyReading | None) -> Energy:
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
    train_flops: float | None = None     # model FLOPs of the training steps, where counted
    # the step of the best validation macro-F1, for rows that train in epochs (not TF-IDF, not the Trainer's)
    best_step: int | None = None
    # seconds before the first training step (loading, topic-model pretraining); None where not seen
    fixed_seconds: float | None = None
    # each validation: [seconds since training began, cumulative kWh, validation macro-F1], for time to accuracy
    evaluations: list = field(default_factory=list)

    @property
    def still_rising(self) -> bool | None:
        """Whether the last evaluation was the best: validation F1 still rose when training ended, so the
        row has not converged (with early stopping, a row that converged stops after a worse evaluation)."""
        return None if self.best_step is None else self.best_step == self.steps

    def to_record(self) -> dict:
        """This measurement as JSON, its test labels and predictions packed small: what a later merge of
        this bench's JSON with another's needs to pair and bootstrap them again (merge.py)."""
        record = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in _PACKED}
        return {**record, **{name: _pack(getattr(self, name)) for name in _PACKED}}

    @classmethod
    def from_record(cls, record: dict) -> Measurement:
        return cls(**{**record, **{name: _unpack(record[name]) for name in _PACKED}})


_PACKED = ("labels", "predictions")


def _plain(value: object) -> object:
    """JSON has no numpy scalars."""
    return value.item() if isinstance(value, np.generic) else value


def _pack(classes: np.ndarray) -> str:
    """Class indices as base64 of little-endian 16-bit integers: 7,532 test documents take 20 kB, not 60."""
    classes = np.asarray(classes)
    if classes.size and not 0 <= classes.min() <= classes.max() < 2 ** 16:
        raise ValueError("class indices must lie in 0..65535 to be packed")
    return base64.b64encode(classes.astype("<u2").tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u2").astype(np.int64)


def metered(fn: Callable[[], T]) -> tuple[T, float, Energy]:
    """fn's value, its wall seconds and its energy."""
    meter = EnergyMeter()
    meter.start()
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    return value, seconds, Energy.of(meter.stop())


class Stopwatch(Callback):
    """Reads the clock and a running meter at each validation (time to accuracy), when training ends (on_trained)
    and when the best model has classified the test documents (on_tested): a row's training and its test pass,
    metered apart in one run.
    The test pass alone, the same scope for every row: what a TopicBERT row does after it (its topic files,
    NPMI, the bootstrap of its interval) is neither training nor classifying."""

    def __init__(self, meter: EnergyMeter) -> None:
        self.meter = meter
        self._trained: tuple[float, EnergyReading | None] | None = None
        self._tested: tuple[float, EnergyReading | None] | None = None
        self.fixed_seconds: float | None = None
        self.evaluations: list[list[float]] = []   # [seconds, kWh, validation macro-F1] at each evaluation

    def on_start(self, info: dict) -> None:
        self.fixed_seconds = info.get("fixed_seconds")

    def on_evaluate(self, step: int, epoch: float, wall_seconds: float, metrics: dict[str, float]) -> None:
        reading = self.meter.read()
        self.evaluations.append([wall_seconds, reading.kwh if reading is not None else float("nan"),
                                 metrics["val_macro_f1"]])

    def on_trained(self, wall_seconds: float) -> None:
        self._trained = (time.perf_counter(), self.meter.read())

    def on_tested(self, n_docs: int) -> None:
        self._tested = (time.perf_counter(), self.meter.read())

    @property
    def training(self) -> Energy:
        return Energy.of(self._trained[1] if self._trained else None)

    def test_pass(self) -> tuple[float, Energy]:
        """Seconds and energy of classifying the test documents (NaN energy if a reading is missing)."""
        assert self._trained is not None and self._tested is not None, "asked before the run tested its model"
        (start, before), (end, after) = self._trained, self._tested
        if before is None or after is None:
            return end - start, Energy.of(None)
        return end - start, Energy(after.kwh - before.kwh, after.kg_co2e - before.kg_co2e, after.measured)
