"""Early-stop replay: from a run's stored curves, what stopping after each evaluation would have given
(validation macro-F1, g CO2e, minutes), the knee of its curve, and the marginal g CO2e per extra point
of F1 after it, in one sentence per run for Compare; in g CO2 where the price counts CO2 alone.

The knee is Kneedle's (Satopää et al. 2011) on validation F1 against cumulative CO2 (wall time where
a run has no energy reading), up to the run's best evaluation: the evaluation furthest above the
straight line from the first evaluation to the best, both axes scaled to [0, 1]. As in Kneedle (its
sensitivity 1), a bend counts only when it lies above that line by more than the mean step between
evaluations: a curve that flattens and then climbs again has no knee. Where none counts (two
evaluations, a straight line, F1 that grows faster late), the knee is the best evaluation itself.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..energy.grid import CO2E, Grid, price
from ..runs.store import Store
from .run_identity import existing_runs, role_of, run_label

REPLAY_COLUMNS = ["run", "role", "epoch", "minutes", "val_macro_f1", "kg_co2e", "knee"]


def knee_index(costs: Sequence[float], f1s: Sequence[float]) -> int:
    """The knee of F1 against cost (both in the evaluations' order, costs rising): see the module's words."""
    f1 = np.asarray(f1s, dtype=float)
    cost = np.asarray(costs, dtype=float)
    best = int(np.argmax(f1))  # the earliest best
    if best == 0:
        return 0
    span_cost, span_f1 = cost[best] - cost[0], f1[best] - f1[0]
    scaled_cost = (cost[:best + 1] - cost[0]) / span_cost if span_cost > 0 else np.zeros(best + 1)
    scaled_f1 = (f1[:best + 1] - f1[0]) / span_f1
    above = scaled_f1 - scaled_cost
    threshold = float(np.mean(np.diff(scaled_cost))) if best > 0 else 0.0
    return int(np.argmax(above)) if above.max() > max(threshold, 1e-12) else best


def replay_frame(store: Store, run_ids: Sequence[int], grid: Grid | None = None) -> pd.DataFrame:
    """One row per evaluation of each run: epoch, minutes, validation macro-F1, cumulative kg CO2e then
    (priced where the run ran or at `grid`; NaN without a reading at that step), and whether it is the
    run's knee."""
    frames = []
    for run in existing_runs(store, run_ids):
        table = [row for row in store.metrics_table(run["id"]) if row.get("val_macro_f1") is not None]
        if not table:
            continue
        readings = {r["step"]: r for r in store.list_energy(run["id"])}  # the last reading of a step wins
        kg = [price(readings[row["step"]]["kwh"], readings[row["step"]]["kg_co2e"], grid)
              if row["step"] in readings else None for row in table]
        frame = pd.DataFrame({"run": run_label(run), "role": role_of(run),
                              "epoch": [row["epoch"] for row in table],
                              "minutes": [row["wall_seconds"] / 60 for row in table],
                              "val_macro_f1": [row["val_macro_f1"] for row in table],
                              "kg_co2e": [np.nan if v is None else v for v in kg]})
        costs = frame["kg_co2e"] if frame["kg_co2e"].notna().all() else frame["minutes"]
        frame["knee"] = np.arange(len(frame)) == knee_index(costs, frame["val_macro_f1"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REPLAY_COLUMNS)


def _minutes(minutes: float) -> str:
    return f"{minutes:.0f}" if minutes >= 10 else f"{minutes:.1f}" if minutes >= 0.1 else f"{minutes:.2g}"


def _cost_words(grams: float, minutes: float, gas: str) -> str:
    return (f"{grams:.3g} g {gas}" if np.isfinite(grams) else "no energy reading") + f" and {_minutes(minutes)} minutes"


def _marginal(d_grams: float, d_points: float, gas: str) -> str:
    if d_points <= 0:
        return ": no extra F1 for it"
    return f": {d_grams / d_points:.3g} g {gas} per extra point of F1" if np.isfinite(d_grams) else ""


@dataclass(frozen=True)
class Replay:
    run: str
    sentence: str
    grams_per_point: float | None   # from the knee to the model kept (or into the knee, when it is kept)


def _step(rows: pd.DataFrame, grams: np.ndarray, start: int, end: int, gas: str) -> tuple[float, float, str]:
    """(grams, points of F1, words) of going on from evaluation `start` to `end`."""
    since = grams[end] - grams[start]
    points = 100 * (rows.iloc[end]["val_macro_f1"] - rows.iloc[start]["val_macro_f1"])
    minutes = rows.iloc[end]["minutes"] - rows.iloc[start]["minutes"]
    return since, points, f"{points:+.1f} points for {_cost_words(since, minutes, gas)}{_marginal(since, points, gas)}"


def replay(rows: pd.DataFrame, gas: str = CO2E) -> Replay:
    """One run's replay (its rows of replay_frame, in order): the knee, set against the model the run kept (its
    best evaluation, the earliest of equals, as training keeps it), and what training past the kept model cost;
    carbon in grams of `gas` (CO2e, or CO2 where the price counts CO2 alone)."""
    rows = rows.reset_index(drop=True)
    k = int(np.flatnonzero(rows["knee"].to_numpy())[0])
    kept = int(np.argmax(rows["val_macro_f1"].to_numpy()))
    last = len(rows) - 1
    knee = rows.iloc[k]
    grams = rows["kg_co2e"].to_numpy(dtype=float) * 1000
    # fewer than three points have no bend to find: the knee is then the best evaluation, and the replay says so
    few = len(rows) < 3
    sentence = (f"{knee['run']}: stopping after epoch {knee['epoch']:g} would have given validation macro-F1 "
                f"{knee['val_macro_f1']:.3f}, for {_cost_words(grams[k], knee['minutes'], gas)} "
                + ("(its best evaluation)." if few else "(the knee of its curve)."))
    since = points = float("nan")
    if k < kept:
        since, points, words = _step(rows, grams, k, kept, gas)
        sentence += (f" The model kept is epoch {rows.iloc[kept]['epoch']:g}'s (its best validation macro-F1, "
                     f"{rows.iloc[kept]['val_macro_f1']:.3f}): going on from the knee to it changed F1 by {words}.")
    elif k > 0:  # the knee is the model kept: what the step into it cost
        since, points, words = _step(rows, grams, k - 1, k, gas)
        sentence += (f" It is the model kept (the run's best evaluation); going on to it from epoch "
                     f"{rows.iloc[k - 1]['epoch']:g} changed F1 by {words}.")
    else:
        sentence += " It is the model kept (the run's first evaluation and its best)."
    if kept < last:
        after = grams[last] - grams[kept]
        sentence += (f" Training went on to epoch {rows.iloc[last]['epoch']:g} for "
                     f"{_cost_words(after, rows.iloc[last]['minutes'] - rows.iloc[kept]['minutes'], gas)} more without "
                     f"beating it.")
    if few:
        sentence += (f" With {len(rows)} evaluation{'s' if len(rows) > 1 else ''}, a curve has no bend to find: this "
                     f"tells what each evaluation cost and which was best, not where more training stopped paying for "
                     f"its {gas}; three evaluations or more (more epochs) would.")
    per_point = since / points if np.isfinite(since) and np.isfinite(points) and points > 0 else None
    return Replay(str(knee["run"]), sentence, per_point)


def replays(frame: pd.DataFrame, gas: str = CO2E) -> list[Replay]:
    """Each run's replay, in the frame's order of runs."""
    return [replay(rows, gas) for _, rows in frame.groupby("run", sort=False)]
