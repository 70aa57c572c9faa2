"""How the pages write durations and energy: one format each, so every table, card and sentence agree; and the
units tables hold their figures in (grams of CO2, megabytes)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

# (unit, Wh in one of it), largest first: a figure takes the largest unit in which it is at least 1
_ENERGY_UNITS = (("kWh", 1e3), ("Wh", 1.0), ("mWh", 1e-3), ("µWh", 1e-6))


def format_duration(seconds: float | None) -> str:
    """'0.35 s', '3.2 s', '42 s', '2 min 05 s', '3 h 01 min'; '' when unknown. Below 10 s two significant
    digits: classifying 1,000 documents may take a fraction of a second."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if abs(seconds) < 9.5:
        text = significant(seconds, 2)
        return f"{text.rstrip('0').rstrip('.') if '.' in text else text} s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def significant(value: float, digits: int = 3) -> str:
    """`value` with `digits` significant digits, never in scientific notation: 0.0123, 4.56, 789, 12,300."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if math.floor(math.log10(abs(round(value, digits - 1 - magnitude)))) > magnitude:
        magnitude += 1  # rounding carried into the next digit: 0.9997 reads 1.00, not 1.000
    decimals = max(0, digits - 1 - magnitude)
    return f"{round(value, decimals):,.{decimals}f}"


def format_energy(kwh: float | None) -> str:
    """Energy in the unit that reads best, with three significant digits: '1.23 Wh', '6.00 mWh', '345 µWh',
    '2.50 kWh'; '' when not metered."""
    if kwh is None or not math.isfinite(kwh):
        return ""
    wh = kwh * 1e3
    if wh == 0:
        return "0 Wh"
    for unit, size in _ENERGY_UNITS:
        # the rounded figure decides: 999.7 mWh reads as 1.00 Wh, not 1,000 mWh
        if abs(float(significant(wh / size).replace(",", ""))) >= 1:
            return f"{significant(wh / size)} {unit}"
    return f"{significant(wh / _ENERGY_UNITS[-1][1])} {_ENERGY_UNITS[-1][0]}"


def format_factor(factor: float | None) -> str:
    """A ratio of times or energies: '2.4×', '0.81×'; '' when there is none."""
    if factor is None or not math.isfinite(factor):
        return ""
    return f"{significant(factor, 2)}×"


def in_grams(kg: float | None) -> float | None:
    """Tables show CO2 in grams (as the command line does): a run on a CPU emits grams, not kilograms."""
    return None if kg is None else 1000 * kg


def in_megabytes(n_bytes: int | None) -> float | None:
    return None if n_bytes is None else n_bytes / 1e6


# the runs table's and Compare summary's figures as a person reads them: energy in Wh or mWh, durations in one
# format; the CSV keeps the numbers
READABLE = {"kWh": ("energy used", format_energy), "kWh per 1k docs": ("energy per 1k docs", format_energy),
            "train time (s)": ("train time", format_duration), "s per 1k docs": ("time per 1k docs", format_duration)}


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the READABLE columns it holds written out and renamed."""
    shown = frame.assign(**{column: frame[column].map(write) for column, (_, write) in READABLE.items()
                            if column in frame})
    return shown.rename(columns={column: name for column, (name, _) in READABLE.items()})


def readable_columns(columns: Sequence[str]) -> list[str]:
    """The names `readable` gives these columns."""
    return [READABLE[c][0] if c in READABLE else c for c in columns]
