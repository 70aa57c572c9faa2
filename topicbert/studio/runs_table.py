"""The runs table (Home and the Runs page): one row per run with its progress, ETA, scores, energy and where
it trains; how far to trust a run's energy; and the workers alive, in one line."""
from __future__ import annotations

import time

import pandas as pd

from ..energy.estimate import precision_name
from ..runs.services import placement_text
from ..runs.store import ACTIVE, Store
from .storage_tables import DISK_COLUMN
from .trust import Badge, measurement_badge
from .units import format_duration, in_grams, in_megabytes

# where a run trains next to its status: on a cluster the first thing asked, and a wide cell that the page's
# width would otherwise cut at the table's right edge
RUN_COLUMNS = ["id", "run", "status", "device", "progress", "ETA", "val macro-F1", "kWh", "g CO2e", "energy",
               "baseline"]


def eta_seconds(run: dict, now: float) -> float | None:
    """Time left for a running run, at the pace of this attempt's steps: a resumed run's steps
    before its checkpoint took no time of this attempt (None if unknown)."""
    step, total = run.get("step") or 0, run.get("total_steps")
    first, began = run.get("attempt_step"), run.get("attempt_started_at")
    if run["status"] != "running" or not total or began is None or first is None or step <= first:
        return None
    return (now - began) / (step - first) * max(total - step, 0)


def _progress(run: dict) -> float:
    if run["status"] == "done":
        return 1.0
    total = run.get("total_steps")
    return min(1.0, (run.get("step") or 0) / total) if total else 0.0


def runs_frame(store: Store, limit: int = 50, now: float | None = None,
               disk: dict[int, int] | None = None) -> pd.DataFrame:
    """One row per run, newest first: status, progress (0-1), ETA, the kept (best) val macro-F1, kWh, g CO2e,
    and with `disk` (run id -> bytes, storage.run_disk_use) each run's disk use in MB."""
    now = time.time() if now is None else now
    rows = [{"id": run["id"], "run": run["name"], "status": run["status"], "progress": _progress(run),
             "ETA": format_duration(eta_seconds(run, now)), "val macro-F1": run["val_macro_f1"],
             "kWh": run["kwh"], "g CO2e": in_grams(run["kg_co2e"]),
             "energy": measurement_badge(run["energy_info"] or _reading_flags(run), run["machine_load"],
                                         active=run["status"] in ACTIVE).label,
             "device": _device_text(run),
             "baseline": f"#{run['paired_run_id']}" if run["paired_run_id"] else "",
             DISK_COLUMN: in_megabytes(disk.get(run["id"])) if disk is not None else None}
            for run in store.run_overview(limit=limit)]
    return pd.DataFrame(rows, columns=RUN_COLUMNS + ([DISK_COLUMN] if disk is not None else []))


def _device_text(row: dict) -> str:
    """Where a run_overview row ran (its GPUs, its Ray node's host; the run's own view names the node) and,
    once it finished, in which precision: a bf16 run's time and energy do not compare like for like with a
    float32 run's."""
    where = placement_text(row, node_id=False)
    return where if row["bf16"] is None else f"{where}, {precision_name(row['bf16'])}"


def run_badge(store: Store, run: dict) -> Badge:
    """How far to trust a run's energy: from its energy_info, or for runs without one its last reading."""
    return measurement_badge(run.get("energy_info") or store.last_energy(run["id"]), run.get("machine_load"),
                             active=run["status"] in ACTIVE)


def _reading_flags(row: dict) -> dict | None:
    """What a run_overview row says of its last reading: for runs without energy_info (made by hand)."""
    if row.get("kwh") is None:
        return None
    return {key: row.get(key) for key in ("cpu_measured", "gpu_measured", "ram_measured", "measured")}


def worker_summary(store: Store, max_age: float) -> str:
    """The workers alive now, in one line."""
    alive = store.alive_workers(max_age)
    if not alive:
        return "No worker is alive."
    now = time.time()
    return "; ".join(f"worker {w['id']} on {w['host']} ({w['device'] or 'device not known yet'}): {w['state']}, "
                     f"heard from {format_duration(now - w['heartbeat_at'])} ago" for w in alive)
