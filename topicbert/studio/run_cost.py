"""What a finished run cost and scored, as Compare's summary and Pareto front set runs side by side: its test
macro-F1, training time, energy and CO2 (priced where it ran or at a chosen grid), how far to trust that energy,
and what classifying 1,000 documents with its model costs."""
from __future__ import annotations

from ..energy.grid import CO2, Grid, price
from .trust import EnergyBasis, measurement_badge


def per_thousand(inference: dict | None, key: str) -> float | None:
    """An inference cost (runner's on_tested) per 1,000 documents classified."""
    if not inference or inference.get(key) is None or not inference.get("documents"):
        return None
    return inference[key] / inference["documents"] * 1000


def run_cost(run: dict, energy: dict | None, grid: Grid | None = None) -> dict:
    """What a run cost and scored; `energy`: its last reading; CO2 priced where it ran or at `grid`."""
    final = run["final_metrics"] or {}
    info = run.get("energy_info") or energy
    badge = measurement_badge(info, run.get("machine_load"))
    where = grid or (Grid(energy["country"], energy["country_name"], energy["carbon_intensity"])
                     if energy and energy.get("carbon_intensity") is not None else None)
    return {"f1": final.get("test_macro_f1"), "seconds": final.get("train_seconds"),
            "kwh": energy["kwh"] if energy else None,
            "kg": price(energy["kwh"], energy["kg_co2e"], grid) if energy else None,
            "priced at": "" if where is None else where.name + (" (CO2 only)" if where.gas == CO2 else ""),
            "intensity": None if where is None else where.g_per_kwh,
            "energy": badge.label, "metering": badge.reason, "estimated": badge.estimated,
            "basis": EnergyBasis.of(info, run.get("machine_load"), run.get("host")),
            "infer seconds": per_thousand(run.get("inference"), "seconds"),
            "infer kwh": per_thousand(run.get("inference"), "kwh")}
