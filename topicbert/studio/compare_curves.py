"""Compare's curves, one row per point for figures.py: validation macro-F1 per evaluation, cumulative CO2 per
energy reading, where each run's topic-model pretraining ended, and a sentence for each run whose curves leave
out a topic model an earlier run paid for."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..energy.grid import Grid, price
from ..runs.store import Store
from .run_identity import existing_runs, role_of, run_label


def f1_curves(store: Store, run_ids: Sequence[int]) -> pd.DataFrame:
    """Validation macro-F1 per evaluation: run, role, epoch, wall_seconds, value (plots.visualize_f1_curves)."""
    runs = {run["id"]: run for run in existing_runs(store, run_ids)}
    metrics = store.metrics_frame(list(runs))
    metrics = metrics[metrics["name"] == "val_macro_f1"]
    return pd.DataFrame({"run": [run_label(runs[i]) for i in metrics["run_id"]],
                         "role": [role_of(runs[i]) for i in metrics["run_id"]],
                         "epoch": metrics["epoch"].to_numpy(), "wall_seconds": metrics["wall_seconds"].to_numpy(),
                         "value": metrics["value"].to_numpy()},
                        columns=["run", "role", "epoch", "wall_seconds", "value"])


def co2_curves(store: Store, run_ids: Sequence[int], grid: Grid | None = None) -> pd.DataFrame:
    """Cumulative kg CO2e per reading, from (0, 0) at the start: run, role, wall_seconds, kg_co2e; priced
    where each run ran, or at `grid`'s intensity."""
    rows = []
    for run in existing_runs(store, run_ids):
        readings = store.list_energy(run["id"])
        if readings:
            points = [(0.0, 0.0)] + [(r["wall_seconds"], price(r["kwh"], r["kg_co2e"], grid)) for r in readings]
            rows += [{"run": run_label(run), "role": role_of(run), "wall_seconds": t, "kg_co2e": kg}
                     for t, kg in points]
    return pd.DataFrame(rows, columns=["run", "role", "wall_seconds", "kg_co2e"])


def topic_model_reuse(store: Store, run_ids: Sequence[int]) -> list[str]:
    """A sentence for each of these runs that loaded a topic model an earlier run pretrained: whose it was,
    and that the earlier run paid for the fit, so its time and energy are not set beside a run that pretrained."""
    reused: list[tuple[dict, str]] = [(run, folder) for run in existing_runs(store, run_ids)
                                      if (folder := (run["final_metrics"] or {}).get("topic_model_fitted_by"))]
    if not reused:
        return []
    by_folder = {folder: run_id for run_id, folder in store.run_folders().items() if folder}
    sentences = []
    for run, folder in reused:
        fitter = by_folder.get(folder)
        whose = f"run #{fitter}" if fitter is not None else "an earlier run, since deleted,"
        sentences.append(f"{run_label(run)} loaded the topic model {whose} pretrained on the same documents, "
                         f"vocabulary, topics and seed: its time and energy leave out that fit, which {whose} paid.")
    return sentences


def pretraining_ends(store: Store, run_ids: Sequence[int], grid: Grid | None = None) -> pd.DataFrame:
    """Where each run's topic-model pretraining ended: run, role, wall_seconds and the cumulative kg CO2e
    then (the reading the runner took at that moment; NaN without one). Runs that pretrained nothing,
    or finished before the Studio recorded it, are left out."""
    rows = []
    for run in existing_runs(store, run_ids):
        if run.get("pretrained_seconds") is None:
            continue
        reading = next((r for r in store.list_energy(run["id"]) if r["step"] == 0), None)
        kg = price(reading["kwh"], reading["kg_co2e"], grid) if reading else None
        rows.append({"run": run_label(run), "role": role_of(run), "wall_seconds": run["pretrained_seconds"],
                     "kg_co2e": np.nan if kg is None else kg})
    return pd.DataFrame(rows, columns=["run", "role", "wall_seconds", "kg_co2e"])
