"""What the pages and the command line call: submit a run (or a pair), cancel, resume (runs and prediction
jobs), export, a run's status line, and make sure a worker is alive."""
from __future__ import annotations

import csv
import dataclasses
import subprocess
import time
from datetime import datetime
from pathlib import Path

from ..config import ConfigError, RunConfig
from .processes import KILL_GRACE_SECONDS, child_environment, kill_process_group, process_alive, worker_command
from .ray import RAY_DEVICE
from .store import Store, hostname
from .worker import WORKER_MAX_AGE, worker_alive

BASELINE_MAX_LEN = 512
PROJECT_NAME = "topicbert"


def is_bert512(config: RunConfig) -> bool:
    return (config.variant == "bert" and config.max_len == BASELINE_MAX_LEN and config.mode == "truncate"
            and not config.tfidf_fusion)


def baseline_config(config: RunConfig) -> RunConfig:
    """The paper's reference for a run: BERT-512, truncated, all else equal (corpus, splits,
    limits, seed, epochs, model, optimiser), so the comparison is fair."""
    if is_bert512(config):
        raise ConfigError("this run is already the BERT-512 baseline: there is nothing to pair it with")
    return config.replace(variant="bert", max_len=BASELINE_MAX_LEN, mode="truncate", tfidf_fusion=False,
                          partition_budget=max(config.partition_budget, BASELINE_MAX_LEN))


def tfidf_config(config: RunConfig) -> RunConfig:
    """The classical reference for a run: TF-IDF and a linear classifier on the same corpus, split,
    limits and seed, so it is tested on the same documents."""
    if not config.uses_encoder:
        raise ConfigError("this run is already the TF-IDF reference")
    return config.replace(variant="tfidf", tfidf_fusion=False)


def baselines_for(config: RunConfig) -> dict[str, bool]:
    """What "Queue with baselines" adds to a run: BERT-512 unless it is BERT-512, and the TF-IDF
    reference unless it is TF-IDF (submit_run's flags)."""
    return {"pair_baseline": config.uses_encoder and not is_bert512(config), "tfidf_reference": config.uses_encoder}


def reference_configs(config: RunConfig, pair_baseline: bool = False, tfidf_reference: bool = False) -> list[RunConfig]:
    """The runs queued beside `config`: its BERT-512 baseline, then its TF-IDF reference, as asked."""
    return ([baseline_config(config)] if pair_baseline else []) + ([tfidf_config(config)] if tfidf_reference else [])


def submit_run(store: Store, config: RunConfig, pair_baseline: bool = False,
               tfidf_reference: bool = False) -> list[int]:
    """Queue a run and, if asked, its BERT-512 baseline and its TF-IDF reference; returns their ids.

    The run and the reference are linked to the baseline (paired_run_id), or the reference to the
    run when there is no baseline: Compare finds the three together.
    """
    corpus = store.find_corpus(config.corpus)
    corpus_id = corpus["id"] if corpus else None
    references = reference_configs(config, pair_baseline, tfidf_reference)  # refuse before queueing anything
    ids = [store.create_run(config, corpus_id)]
    if pair_baseline:
        ids.append(store.create_run(references.pop(0), corpus_id))
        store.set_paired(ids[0], ids[1])
    if tfidf_reference:
        ids.append(store.create_run(references.pop(0), corpus_id, paired_run_id=ids[-1]))
    return ids


def submit_seeds(store: Store, config: RunConfig, seeds: int = 1, pair_baseline: bool = False,
                 tfidf_reference: bool = False) -> list[int]:
    """submit_run for `seeds` seeds from config.seed on, each with its baselines: runs that differ only by seed,
    which Compare takes together (its verdicts then cover the seeds as well as the test documents)."""
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, not {seeds}")
    return [run_id for k in range(seeds)
            for run_id in submit_run(store, config.replace(seed=config.seed + k), pair_baseline, tfidf_reference)]


def ensure_worker(store: Store, max_age: float = WORKER_MAX_AGE) -> bool:
    """Start a detached worker if none is alive; True if one was started. A worker of this host whose
    process is gone is stopped in the store first: its fresh heartbeat no longer holds off a new one."""
    here, now = hostname(), time.time()
    alive = store.alive_workers(max_age)  # the usual case, and a read: no write lock taken
    for worker in alive:
        if not worker_alive(worker, here, now):
            store.update_worker(worker["id"], "stopped")
    if any(worker_alive(worker, here, now) for worker in alive):
        return False
    worker_id = store.reserve_worker_start(max_age)
    if worker_id is None:
        return False
    logs = store.path.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "worker.log", "ab") as out:
        popen = subprocess.Popen(
            worker_command(worker_id), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=store.path.parent, env=child_environment(store.path), start_new_session=True)  # outlives the app
    store.update_worker(worker_id, "starting", pid=popen.pid)
    return True


def cancel_run(store: Store, run_id: int, grace: float = KILL_GRACE_SECONDS) -> bool:
    """Cancel a queued or running run; a running one's processes are gone within seconds.
    False if the run was not queued or running."""
    return _stop(store.cancel(run_id), grace)


def _stop(before: dict | None, grace: float) -> bool:
    """After a cancel (`before`: the run's or job's row as it was, None if it was not queued or running): on this
    host its process group is killed now; a worker elsewhere sees the status and kills its own child."""
    if before is None:
        return False
    if (before["status"] == "running" and before["host"] == hostname() and before["pgid"]
            and process_alive(before["pid"], before["started_at"])):
        kill_process_group(before["pgid"], grace)
    return True


def resume_run(store: Store, run_id: int) -> bool:
    """Queue an interrupted, cancelled or failed run again; it continues from its checkpoint."""
    return store.requeue(run_id, resume=True)


def cancel_job(store: Store, job_id: int, grace: float = KILL_GRACE_SECONDS) -> bool:
    """Cancel a queued or running prediction job as a run is; the chunks it finished are kept for a resume."""
    return _stop(store.cancel_job(job_id), grace)


def resume_job(store: Store, job_id: int) -> bool:
    """Queue an interrupted, cancelled or failed prediction job again; it starts at its first chunk not done."""
    return store.requeue_job(job_id)


# ---------------------------------------------------------------- export

def _codecarbon_columns() -> list[str]:
    """The columns of codecarbon's emissions.csv, in its order, from the installed package."""
    from codecarbon.output_methods.emissions_data import EmissionsData
    return [f.name for f in dataclasses.fields(EmissionsData)]


def emissions_rows(store: Store, run_id: int) -> list[dict]:
    """One codecarbon-shaped row per energy reading: cumulative over the whole run."""
    run = store.get_run(run_id)
    if run is None:  # deleted: its readings went with it
        return []
    columns = _codecarbon_columns()
    rows = []
    for reading in store.list_energy(run_id):
        row = {column: reading["codecarbon"].get(column, "") for column in columns}
        duration = reading["duration_s"] or 0.0
        row.update(
            timestamp=datetime.fromtimestamp(reading["created_at"]).strftime("%Y-%m-%dT%H:%M:%S"),
            project_name=PROJECT_NAME, run_id=str(run_id), experiment_id=run["name"], duration=duration,
            emissions=reading["kg_co2e"], emissions_rate=reading["kg_co2e"] / duration if duration else 0.0,
            cpu_power=reading["cpu_power_w"], gpu_power=reading["gpu_power_w"], ram_power=reading["ram_power_w"],
            cpu_energy=reading["cpu_kwh"], gpu_energy=reading["gpu_kwh"], ram_energy=reading["ram_kwh"],
            energy_consumed=reading["kwh"], country_name=reading["country_name"],
            country_iso_code=reading["country"])
        rows.append({column: row[column] for column in columns})
    return rows


def export_run(store: Store, run_id: int, out_dir: Path) -> list[Path]:
    """Write the run's metrics (one row per evaluation) and its energy readings (codecarbon's
    emissions.csv columns) as CSV; returns the two paths."""
    if store.get_run(run_id) is None:
        raise KeyError(f"no run {run_id}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = store.metrics_table(run_id)
    names = sorted({key for row in table for key in row} - {"step", "epoch", "wall_seconds"})
    metrics_path = out_dir / f"run-{run_id}-metrics.csv"
    with metrics_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["step", "epoch", "wall_seconds", *names])
        writer.writeheader()
        writer.writerows(table)
    emissions_path = out_dir / f"run-{run_id}-emissions.csv"
    with emissions_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_codecarbon_columns())
        writer.writeheader()
        writer.writerows(emissions_rows(store, run_id))
    return [metrics_path, emissions_path]


# ---------------------------------------------------------------- status

def placement_text(row: dict, node_id: bool = True) -> str:
    """Where a run trains or trained: its device, its GPUs as nvidia-smi numbers them ("cuda:2",
    "cuda:0,1") and, when Ray placed it, its node's host and, with `node_id`, the node's id as Ray's own
    tools show it ("cuda:1 on gpu-2 (node 3f9a01c2)"); "" before it starts."""
    device, gpus, node = row["device"] or "", row.get("gpus"), row.get("node")
    if device == RAY_DEVICE:
        if not node:
            return "waiting for a Ray node"
        device = "cuda" if gpus else ""  # placed; its runner has not named its device yet
    where = device
    if gpus:
        # a run that held GPUs but computes on the CPU (a CPU build of torch) says so
        where = f"cuda:{gpus}" if device.startswith("cuda") else f"{device} (GPU {gpus} held)"
    if node:
        where = f"{where} on {row['host']}" + (f" (node {node[:8]})" if node_id else "")
    return where.strip()


def format_status(row: dict) -> str:
    """One line: id, status, name, progress, where it trains, the kept (best) val macro-F1, kWh, CO2."""
    total = row["total_steps"]
    progress = f"step {row['step']}/{total} ({100 * row['step'] // total}%)" if total else "step -"
    f1 = f"{row['val_macro_f1']:.4f}" if row["val_macro_f1"] is not None else "-"
    kwh = f"{row['kwh']:.6f}" if row["kwh"] is not None else "-"
    co2 = f"{1000 * row['kg_co2e']:.3f}" if row["kg_co2e"] is not None else "-"
    pair = f"  baseline #{row['paired_run_id']}" if row["paired_run_id"] else ""
    lines = [line for line in (row["error"] or "").splitlines() if line.strip()]
    why = f"  ({lines[-1].strip()[:120]})" if lines and row["status"] in ("failed", "interrupted") else ""
    where = placement_text(row) or "-"
    return (f"{row['id']:>4}  {row['status']:<11}  {row['name']:<24}  {progress:<22}  {where:<8}  "
            f"best val macro-F1 {f1}  {kwh} kWh  {co2} g CO2e{pair}{why}")
