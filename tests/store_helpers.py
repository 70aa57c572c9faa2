"""Runs made by hand in a store for the tests of what pages show: a finished run with one evaluation and one
energy reading an epoch, its readings estimated as on a machine without energy counters."""
from __future__ import annotations

from topicbert.config import RunConfig
from topicbert.runs.store import Store

ESTIMATED = {"cpu_measured": False, "gpu_measured": None, "ram_measured": False,
             "measured": "cpu estimated (cpu_load, 85 W TDP); ram estimated; gpu not used"}


def reading(kwh: float, intensity: float = 400.0) -> dict:
    """A cumulative energy row priced in a country of `intensity` g CO2e/kWh."""
    return {"kwh": kwh, "kg_co2e": kwh * intensity / 1000, "country": "USA", "country_name": "United States",
            "carbon_intensity": intensity, **ESTIMATED}


def run_with_curve(store: Store, config: RunConfig, f1s: list[float], kwh_per_epoch: float,
                   pretrained: float | None = None, paired: int | None = None) -> int:
    """A finished run with one evaluation an epoch (60 s each), a reading at each, and its end."""
    run_id = store.create_run(config, paired_run_id=paired)
    store.claim_run(run_id, None, "cpu", host="here")
    start = 0.0
    if pretrained is not None:
        store.set_pretrained(run_id, pretrained)
        store.add_energy(run_id, 0, 0.0, pretrained, reading(kwh_per_epoch / 4))
        start = pretrained
    for epoch, f1 in enumerate(f1s, 1):
        seconds = start + 60.0 * epoch
        store.add_metrics(run_id, 10 * epoch, float(epoch), seconds, {"val_macro_f1": f1})
        store.add_energy(run_id, 10 * epoch, float(epoch), seconds, reading(kwh_per_epoch * epoch))
    store.set_final_metrics(run_id, {"test_macro_f1": max(f1s), "train_seconds": start + 60.0 * len(f1s)})
    store.finish_run(run_id, "done")
    return run_id
