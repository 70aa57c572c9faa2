"""What the pages and the command line call: submit a run (or a pair), cancel, resume,
export, status, and make sure a worker is alive. Also the queue's subcommands."""
from __future__ import annotations

import argparse
import csv
import dataclasses
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable

from .cli_options import add_run_options, config_from_args
from .config import ConfigError, RunConfig
from .store import Store, hostname
from .worker import (KILL_GRACE_SECONDS, WORKER_MAX_AGE, add_worker_options, child_environment, cmd_worker,
                     kill_process_group, process_alive)

BASELINE_MAX_LEN = 512
PROJECT_NAME = "topicbert"


def baseline_config(config: RunConfig) -> RunConfig:
    """The paper's reference for a run: BERT-512, truncated, all else equal (corpus, splits,
    limits, seed, epochs, model, optimiser), so the comparison is fair."""
    if config.variant == "bert" and config.max_len == BASELINE_MAX_LEN and config.mode == "truncate":
        raise ConfigError("this run is already the BERT-512 baseline: there is nothing to pair it with")
    return config.replace(variant="bert", max_len=BASELINE_MAX_LEN, mode="truncate",
                          partition_budget=max(config.partition_budget, BASELINE_MAX_LEN))


def submit_run(store: Store, config: RunConfig, pair_baseline: bool = False) -> list[int]:
    """Queue a run (and its BERT-512 baseline, linked as its paired run); returns their ids."""
    corpus = store.find_corpus(config.corpus)
    corpus_id = corpus["id"] if corpus else None
    baseline = baseline_config(config) if pair_baseline else None  # refuse before queueing anything
    ids = [store.create_run(config, corpus_id)]
    if baseline is not None:
        ids.append(store.create_run(baseline, corpus_id))
        store.set_paired(ids[0], ids[1])
    return ids


def ensure_worker(store: Store, max_age: float = WORKER_MAX_AGE) -> bool:
    """Start a detached worker if none has a fresh heartbeat; True if one was started."""
    if store.alive_workers(max_age):  # the usual case, and a read: no write lock taken
        return False
    worker_id = store.reserve_worker_start(max_age)
    if worker_id is None:
        return False
    logs = store.path.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "worker.log", "ab") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "topicbert.worker", "--worker-id", str(worker_id)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=store.path.parent,
            env=child_environment(store), start_new_session=True)  # outlives the app's process
    store.update_worker(worker_id, "starting", pid=popen.pid)
    return True


def cancel_run(store: Store, run_id: int, grace: float = KILL_GRACE_SECONDS) -> bool:
    """Cancel a queued or running run; a running one's processes are gone within seconds.
    False if the run was not queued or running."""
    before = store.cancel(run_id)
    if before is None:
        return False
    # on this host kill it now; a worker elsewhere sees the status and kills its own child
    if (before["status"] == "running" and before["host"] == hostname() and before["pgid"]
            and process_alive(before["pid"], before["started_at"])):
        kill_process_group(before["pgid"], grace)
    return True


def resume_run(store: Store, run_id: int) -> bool:
    """Queue an interrupted, cancelled or failed run again; it continues from its checkpoint."""
    return store.requeue(run_id, resume=True)


# ---------------------------------------------------------------- export

def _codecarbon_columns() -> list[str]:
    """The columns of codecarbon's emissions.csv, in its order, from the installed package."""
    from codecarbon.output_methods.emissions_data import EmissionsData
    return [f.name for f in dataclasses.fields(EmissionsData)]


def emissions_rows(store: Store, run_id: int) -> list[dict]:
    """One codecarbon-shaped row per energy reading: cumulative over the whole run."""
    run = store.get_run(run_id)
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

def format_status(row: dict) -> str:
    """One line: id, status, name, progress, latest val macro-F1, kWh, CO2."""
    total = row["total_steps"]
    progress = f"step {row['step']}/{total} ({100 * row['step'] // total}%)" if total else "step -"
    f1 = f"{row['val_macro_f1']:.4f}" if row["val_macro_f1"] is not None else "-"
    kwh = f"{row['kwh']:.6f}" if row["kwh"] is not None else "-"
    co2 = f"{1000 * row['kg_co2e']:.3f}" if row["kg_co2e"] is not None else "-"
    pair = f"  baseline #{row['paired_run_id']}" if row["paired_run_id"] else ""
    lines = [line for line in (row["error"] or "").splitlines() if line.strip()]
    why = f"  ({lines[-1].strip()[:120]})" if lines and row["status"] in ("failed", "interrupted") else ""
    return (f"{row['id']:>4}  {row['status']:<11}  {row['name']:<24}  {progress:<22}  val macro-F1 {f1}  "
            f"{kwh} kWh  {co2} g CO2e{pair}{why}")


# ---------------------------------------------------------------- command line

def cmd_submit(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with Store() as store:
        ids = submit_run(store, config, args.pair_baseline)
        for run_id in ids:
            print(f"{run_id}\tqueued\t{store.get_run(run_id)['name']}")
        if args.start_worker:
            ensure_worker(store)
        elif not store.alive_workers(WORKER_MAX_AGE):
            print("no worker is running: start one with `python -m topicbert worker`", file=sys.stderr)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with Store() as store:
        rows = store.run_overview(args.run_id, limit=args.limit)
        if args.run_id is not None and not rows:
            print(f"error: no run {args.run_id}", file=sys.stderr)
            return 2
        for row in rows:
            print(format_status(row))
    return 0


def _act_on_run(run_id: int, act: Callable[[Store, int], bool], done: Callable[[dict], str],
                refusal: str) -> int:
    """Run `act(store, run_id)`; print `done(run)`, or why the run refused."""
    with Store() as store:
        if act(store, run_id):
            print(done(store.get_run(run_id)))
            return 0
        run = store.get_run(run_id)
        print(f"error: run {run_id} " + (f"is {run['status']}: {refusal}" if run else "does not exist"),
              file=sys.stderr)
        return 2


def cmd_cancel(args: argparse.Namespace) -> int:
    return _act_on_run(args.run_id, cancel_run, lambda run: f"{run['id']}\tcancelled", "nothing to cancel")


def cmd_resume(args: argparse.Namespace) -> int:
    return _act_on_run(args.run_id, resume_run,
                       lambda run: f"{run['id']}\tqueued (resumes from step {run['checkpoint_step'] or 0})",
                       "only an interrupted, cancelled or failed run can be resumed")


def cmd_export(args: argparse.Namespace) -> int:
    with Store() as store:
        if store.get_run(args.run_id) is None:
            print(f"error: no run {args.run_id}", file=sys.stderr)
            return 2
        for path in export_run(store, args.run_id, Path(args.out)):
            print(path)
    return 0


def register_cli(commands: argparse._SubParsersAction) -> None:
    """The queue's subcommands: submit, worker, status, cancel, resume, export."""
    submit = commands.add_parser("submit", help="queue a run for the background worker")
    add_run_options(submit)
    submit.add_argument("--pair-baseline", action="store_true", help="also queue the matching BERT-512 baseline")
    submit.add_argument("--start-worker", action="store_true", help="start a background worker if none is alive")
    submit.set_defaults(handler=cmd_submit)

    worker = commands.add_parser("worker", help="run queued runs, one process group each")
    add_worker_options(worker)
    worker.set_defaults(handler=cmd_worker)

    status = commands.add_parser("status", help="one line per run: status, progress, F1, energy")
    status.add_argument("run_id", type=int, nargs="?", default=None)
    status.add_argument("--limit", type=int, default=50, help="newest runs shown")
    status.set_defaults(handler=cmd_status)

    for name, handler, text in (("cancel", cmd_cancel, "stop a queued or running run"),
                                ("resume", cmd_resume, "queue an interrupted or cancelled run again")):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("run_id", type=int)
        parser.set_defaults(handler=handler)

    export = commands.add_parser("export", help="write a run's metrics and emissions as CSV")
    export.add_argument("run_id", type=int)
    export.add_argument("--out", required=True, help="folder for the CSV files")
    export.set_defaults(handler=cmd_export)
