"""Compare's summary: one row per group of runs that differ only by seed, with what it scored (test macro-F1
and its interval), the verdict against the reference, what training it cost (time, time to the target, energy,
CO2) and what using its model costs. The verdict card (verdict_card.py) reads its figures from these rows.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..energy.grid import Grid
from ..runs.store import Store
from ..stats.time_to_accuracy import DEFAULT_TARGET, first_reaching, target_f1
from .compare_choices import SeedGroup, seed_groups, seed_of
from .figures import TFIDF_ROLE
from .run_cost import run_cost
from .run_identity import encoder_name, existing_runs, role_of, test_set_of
from .trust import EnergyBasis, energy_difference_words
from .uncertainty import (
    OTHER_DOCUMENTS,
    RunScores,
    compare_over_seeds,
    covers_words,
    difference_words,
    f1_over_seeds,
    interval_text,
)
from .units import format_duration, in_grams


def _ratio(value: float | None, reference: float | None) -> float:
    if value is None or not reference:
        return float("nan")
    return value / reference


def _mean(values: Sequence[float | None]) -> float | None:
    """The mean of the figures known; None if none is."""
    known = [value for value in values if value is not None]
    return float(np.mean(known)) if known else None


def _mean_cost(costs: Sequence[dict]) -> dict:
    """What runs of one group cost and scored on average (each figure over the runs that have it); the energy's
    badges and reasons once each; estimated if any run's energy is."""
    figures = ("f1", "seconds", "kwh", "kg", "infer seconds", "infer kwh")
    return {**{key: _mean([c[key] for c in costs]) for key in figures},
            "priced at": costs[0]["priced at"], "intensity": costs[0]["intensity"],
            "energy": " / ".join(dict.fromkeys(c["energy"] for c in costs)),
            "metering": " | ".join(dict.fromkeys(c["metering"] for c in costs)),
            "estimated": any(c["estimated"] for c in costs),
            "basis": EnergyBasis.combined([c["basis"] for c in costs])}


# the summary's columns: what a group of runs scored, what training it cost, what using it costs (three tables)
# the verdict first (it is what a person came for), then the figures it rests on
SCORE_COLUMNS = ["run", "against the reference", "F1 difference", "difference 95% interval", "seeds",
                 "test macro-F1", "95% interval", "F1 retained (%)", "retained 95% interval", "detectable (±)",
                 "verdict covers", "role"]
COST_COLUMNS = ["run", "energy", "train time (s)", "speedup (x)", "time to target", "speedup to target (x)",
                "energy saved (%)", "energy saved, read as", "kWh", "g CO2e"]
# what using the finished model costs (classifying 1,000 documents: its test pass), and where CO2 was priced
USE_COLUMNS = ["run", "s per 1k docs", "kWh per 1k docs", "g CO2e/kWh", "priced at"]
# in the CSV and the verdict card, not the tables: which row is the reference, the runs' name, ids and encoder,
# and the topic-model pretraining each row's time includes
SUMMARY_COLUMNS = [*SCORE_COLUMNS, *COST_COLUMNS[1:], *USE_COLUMNS[1:], "metering", "reference", "name",
                   "run ids", "encoder", "pretraining (s)"]


def summary_frame(store: Store, run_ids: Sequence[int], baseline_id: int | None,
                  scores: Mapping[int, RunScores | None] | None = None,
                  grid: Grid | None = None, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """One row per group of runs that differ only by seed (seed_groups; most often a single run): mean test
    macro-F1 with its 95% interval (over the seeds and their test documents; one seed: its test documents), and
    against the reference (the group holding the baseline run) on the seeds both ran: the share of its F1 kept
    (paired interval), the difference's verdict, train time and speedup, kWh, g CO2e (priced where each run
    ran, or at `grid`'s intensity) and energy saved (and whether that is within the error of estimated energy),
    what classifying 1,000 documents with the finished model costs, and how far to trust the energy (badge
    and reason). Time to accuracy: the seconds until the validation macro-F1 first reached `target` times the
    reference's best on the same seed, and the speedup to that point.

    Ratios and verdicts need runs of each seed tested on the same documents: a group on other documents gets
    none and says so. `scores`: each run's uncertainty.run_scores, for the intervals; without them the
    interval columns stay empty.
    """
    scores = scores or {}
    runs = existing_runs(store, run_ids)
    chosen = {run["id"] for run in runs}
    base_run = store.get_run(baseline_id) if baseline_id is not None else None
    if base_run is not None and base_run["id"] not in chosen:
        runs.append(base_run)
    energies = store.last_energies([run["id"] for run in runs])  # one query, not one a run
    costs = {run["id"]: run_cost(run, energies.get(run["id"]), grid) for run in runs}
    groups = seed_groups(runs)
    reference = next((g for g in groups if baseline_id in g.ids), None)
    curves = store.validation_curves([run["id"] for run in runs])
    # the baseline's group takes part in the ratios even when its run was not chosen, but gets a row only if it was
    rows = [{**_summary_row(group, reference, costs, scores), **_to_target(group, reference, curves, target)}
            for group in groups if set(group.ids) & chosen]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _seed_pairs(group: SeedGroup, reference: SeedGroup) -> list[tuple[dict, dict]]:
    """(run, reference run) for each seed both ran on the same test documents."""
    by_seed = {seed_of(run): run for run in reference.runs}
    return [(run, by_seed[seed_of(run)]) for run in group.runs
            if seed_of(run) in by_seed and test_set_of(run) == test_set_of(by_seed[seed_of(run)])]


def _summary_row(group: SeedGroup, reference: SeedGroup | None, costs: Mapping[int, dict],
                 scores: Mapping[int, RunScores | None]) -> dict:
    cost = _mean_cost([costs[i] for i in group.ids])
    own = [score for i in group.ids if (score := scores.get(i)) is not None]
    f1 = f1_over_seeds(own) if len(own) == len(group.ids) else None
    is_reference = group is reference
    pairs = [(run, run) for run in group.runs] if is_reference else \
        _seed_pairs(group, reference) if reference is not None else []
    mine = _mean_cost([costs[run["id"]] for run, _ in pairs]) if pairs else {}
    theirs = _mean_cost([costs[ref["id"]] for _, ref in pairs]) if pairs else {}
    paired_scores = [(a, b) for run, ref in pairs
                     if (a := scores.get(run["id"])) is not None and (b := scores.get(ref["id"])) is not None]
    comparison = (compare_over_seeds(paired_scores) if pairs and not is_reference
                  and len(paired_scores) == len(pairs) else None)
    if reference is None or is_reference:
        against = ""
    else:
        against = difference_words(comparison.difference if comparison else None) if pairs else OTHER_DOCUMENTS
    return {
        "run": group.label, "role": role_of(group.runs[0]), "seeds": len(group.runs),
        "test macro-F1": cost["f1"], "95% interval": interval_text(f1.interval if f1 else None),
        "F1 retained (%)": 100 * (comparison.retained.value if comparison
                                  else _ratio(mine.get("f1"), theirs.get("f1"))),
        "retained 95% interval": interval_text(comparison.retained.interval, 100, 1) if comparison else "",
        "against the reference": against,
        "F1 difference": comparison.difference.value if comparison else float("nan"),
        "difference 95% interval": interval_text(comparison.difference.interval, digits=4, signed=True)
        if comparison else "",
        # how large a difference these seeds and documents show 4 times in 5: what "within noise" leaves open
        "detectable (±)": comparison.difference.smallest_detectable() if comparison else float("nan"),
        "verdict covers": covers_words(comparison.difference if comparison else None),
        "train time (s)": cost["seconds"],
        "speedup (x)": _ratio(theirs.get("seconds"), mine.get("seconds")),
        "kWh": cost["kwh"], "g CO2e": in_grams(cost["kg"]),
        "energy saved (%)": 100 * (1 - _ratio(mine.get("kwh"), theirs.get("kwh"))),
        "energy saved, read as": "" if is_reference or not pairs else _saving_words(mine, theirs),
        "s per 1k docs": cost["infer seconds"], "kWh per 1k docs": cost["infer kwh"],
        "g CO2e/kWh": cost["intensity"], "energy": cost["energy"], "priced at": cost["priced at"],
        "metering": cost["metering"], "reference": is_reference, "name": group.runs[0]["name"],
        "run ids": group.ids,
        "encoder": encoder_name(group.runs[0]["config"]["model"]) if role_of(group.runs[0]) != TFIDF_ROLE else "",
        "pretraining (s)": _mean([run.get("pretrained_seconds") for run in group.runs])}


def _to_target(group: SeedGroup, reference: SeedGroup | None, curves: Mapping[int, list], target: float) -> dict:
    """Time to accuracy on the seeds both ran: mean seconds to `target` of the reference's best validation F1
    (or on how many seeds it was not reached), and the speedup to that point."""
    if reference is None:
        return {"time to target": "", "speedup to target (x)": float("nan")}
    pairs = [(run, run) for run in group.runs] if group is reference else _seed_pairs(group, reference)
    reached = [(first_reaching(curves.get(run["id"], []), goal), first_reaching(curves.get(ref["id"], []), goal))
               for run, ref in pairs if (goal := target_f1(curves.get(ref["id"], []), target)) is not None]
    missed = sum(mine is None for mine, _ in reached)
    if not reached:
        return {"time to target": "", "speedup to target (x)": float("nan")}
    if missed:
        return {"time to target": f"not reached ({missed} of {len(reached)} seeds)" if len(reached) > 1
                else "not reached", "speedup to target (x)": float("nan")}
    # none missed, and the reference reaches its target: a share of its own best
    mine = float(np.mean([m[0] for m, _ in reached if m is not None]))
    theirs = float(np.mean([t[0] for _, t in reached if t is not None]))
    return {"time to target": format_duration(mine), "speedup to target (x)": theirs / mine if mine else float("nan")}


def _saving_words(cost: dict, reference: dict) -> str:
    """Whether the energy saved can be read as real: measured, or within or beyond the estimates' error
    (trust.saving_judgement)."""
    saved = 1 - _ratio(cost.get("kwh"), reference.get("kwh"))
    if not np.isfinite(saved):
        return ""
    return energy_difference_words(saved, cost["basis"], reference["basis"])

