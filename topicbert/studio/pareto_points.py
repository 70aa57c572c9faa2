"""Compare's F1 against CO2: the test sets the finished runs were tested on, and every finished run of one of
them with its test macro-F1, interval, energy and CO2 (figures.visualize_pareto draws the front)."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..energy.grid import Grid
from ..runs.store import Store
from .run_cost import run_cost
from .run_identity import finished_runs, role_of, run_label, test_set_of


def test_sets(store: Store) -> dict[str, int]:
    """Each test set of the finished runs (RunConfig.test_set), newest first, with how many runs it holds."""
    counts: dict[str, int] = {}
    for run in finished_runs(store):
        key = test_set_of(run)
        counts[key] = counts.get(key, 0) + 1
    return counts


def pareto_frame(store: Store, test_set: str,
                 intervals: Mapping[int, tuple[float, float] | None] | None = None,
                 grid: Grid | None = None) -> pd.DataFrame:
    """Every finished run tested on these documents: run, role, test_macro_f1 with its interval
    (f1_low, f1_high, from `intervals`: each run's uncertainty.run_f1_interval; empty without), kwh,
    kg_co2e (priced where the run ran or at `grid`) and what it was priced at (figures.visualize_pareto)."""
    intervals = intervals or {}
    runs = [run for run in finished_runs(store) if test_set_of(run) == test_set]
    energies = store.last_energies([run["id"] for run in runs])  # one query, not one a run
    rows = []
    for run in runs:
        cost = run_cost(run, energies.get(run["id"]), grid)
        low, high = intervals.get(run["id"]) or (None, None)
        rows.append({"run": run_label(run), "role": role_of(run), "test_macro_f1": cost["f1"],
                     "f1_low": low, "f1_high": high, "kwh": cost["kwh"], "kg_co2e": cost["kg"],
                     "priced at": cost["priced at"]})
    return pd.DataFrame(rows, columns=["run", "role", "test_macro_f1", "f1_low", "f1_high", "kwh", "kg_co2e",
                                       "priced at"])
