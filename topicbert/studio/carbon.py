"""The unit of a carbon figure as a person sees it: g CO2e, or g CO2 where the factor it was priced at counts
CO2 alone (codecarbon's Chinese provincial factors: energy/grid.py). A figure priced where its run ran uses
codecarbon's country table, which counts CO2 equivalents.

Frames keep one set of column names whatever the price (kg_co2e, "g CO2e"): code reads them by name. What a
person sees, a table's header, a CSV's, an axis, a sentence, is named here, at the edge.
"""
from __future__ import annotations

import pandas as pd

from ..energy.grid import CO2E, Grid, grids


def price_grids() -> dict[str, Grid]:
    """The grids at which Compare can price every run's energy, by key: codecarbon's countries and regions."""
    return {grid.key: grid for grid in grids()}


def gas(grid: Grid | None) -> str:
    """"CO2e" or "CO2": what figures priced at `grid` count (None: where each run ran, as metered)."""
    return CO2E if grid is None else grid.gas


def grams(grid: Grid | None) -> str:
    """'g CO2e' or 'g CO2'."""
    return f"g {gas(grid)}"


def names(grid: Grid | None) -> dict[str, str]:
    """Each carbon column's name (the summary's "g CO2e" and "g CO2e/kWh", the Pareto rows' kg_co2e) as shown
    when its figures are priced at `grid`."""
    unit = gas(grid)
    return {"g CO2e": f"g {unit}", "g CO2e/kWh": f"g {unit}/kWh", "kg_co2e": f"kg_{unit.lower()}"}


def shown(frame: pd.DataFrame, grid: Grid | None) -> pd.DataFrame:
    """`frame` with its carbon columns named in the gas their figures count (for a table or a CSV)."""
    return frame.rename(columns=names(grid))


def shown_columns(columns: list[str], grid: Grid | None) -> list[str]:
    """The names `shown` gives these columns."""
    renamed = names(grid)
    return [renamed.get(column, column) for column in columns]
