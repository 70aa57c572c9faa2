"""Seconds from queueing a run to its first step: the local worker's against a Ray worker's whose run
trains on another node of Ray's multi-node test cluster (on this machine, so no network is in it).

    python -m benchmarks.queue_to_first_step --runs 5

Each mode gets a fresh TOPICBERT_HOME and a worker already serving (`python -m topicbert worker`, or
`... worker --ray ADDRESS` with a head node that trains nothing and one node that does). Runs are
queued one at a time: the time is the store's, from the run's queued_at to the moment its runner
began stepping (attempt_started_at: after loading, tokenising and any topic-model pretraining), and
the run is cancelled there. The first run of each mode is shown apart (cold caches, fresh processes).
Prints a table for BENCHMARKS.md with the command that made it.
"""
from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import script_parser, stored_run
from topicbert.config import RunConfig
from topicbert.data.corpus import builtin_corpus_path
from topicbert.runs import services
from topicbert.runs.store import Store

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

OBJECT_STORE_BYTES = 100 * 1024 ** 2
WAIT_SECONDS = 600


def wait_for(condition: Callable[[], T], what: str, worker: subprocess.Popen[Any]) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker.poll() is not None:
            raise SystemExit(f"the worker ended (code {worker.returncode}) while waiting for {what}")
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def to_first_step(store: Store, config: RunConfig, worker: subprocess.Popen[Any]) -> float:
    """Queue one run; seconds from its queueing to its first step. It is cancelled then."""
    run_id = services.submit_run(store, config)[0]
    run = wait_for(lambda: (row := stored_run(store, run_id))["attempt_started_at"] and row,
                   f"run {run_id}'s first step", worker)
    if run["status"] != "running":
        raise SystemExit(f"run {run_id} is {run['status']}: {run['error']}")
    services.cancel_run(store, run_id)
    wait_for(lambda: stored_run(store, run_id)["status"] == "cancelled", f"run {run_id} cancelled", worker)
    return run["attempt_started_at"] - run["queued_at"]


def measure(home: Path, worker_args: list[str], config: RunConfig, runs: int) -> list[float]:
    """Queue `runs` runs one at a time on a worker started with `worker_args`; seconds to each one's first step."""
    env = dict(os.environ, TOPICBERT_HOME=str(home), PYTHONPATH=str(ROOT))
    os.environ["TOPICBERT_HOME"] = str(home)
    with open(home / "worker.log", "wb") as log:  # the worker writes to its own copy of the descriptor
        worker = subprocess.Popen([sys.executable, "-m", "topicbert", "worker", *worker_args], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with Store(home / "topicbert.db") as store:
            wait_for(lambda: store.alive_workers(), "the worker to serve", worker)
            seconds = [to_first_step(store, config.replace(seed=seed), worker) for seed in range(runs)]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return seconds


def describe(seconds: list[float]) -> tuple[str, str]:
    later = seconds[1:]
    return f"{seconds[0]:.1f}", (f"{statistics.median(later):.1f} (range {min(later):.1f}-{max(later):.1f})"
                                 if later else "-")


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--runs", type=int, default=5, help="runs queued one after another in each mode")
    parser.add_argument("--corpus", default=None, help="default: the built-in BBC News sample")
    parser.add_argument("--model", default="default")
    parser.add_argument("--variant", default="bert", help="bert: no topic-model pretraining before the first step")
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--limit-train", type=int, default=200)
    args = parser.parse_args(argv)
    corpus = args.corpus or str(builtin_corpus_path())
    config = RunConfig(corpus=os.path.abspath(corpus), model=args.model, variant=args.variant, max_len=args.max_len,
                       epochs=1, limit_train=args.limit_train, limit_eval=50, device="cpu")

    from ray.cluster_utils import Cluster  # the Ray mode alone needs it

    results = {}
    with tempfile.TemporaryDirectory(prefix="queue-to-first-step-") as scratch:
        homes = {mode: Path(scratch) / mode for mode in ("local", "ray")}
        for home in homes.values():
            home.mkdir()
        results["local worker (`worker`)"] = measure(homes["local"], [], config, args.runs)
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
        try:
            cluster.add_node(num_cpus=2, object_store_memory=OBJECT_STORE_BYTES)  # the node the runs go to
            cluster.wait_for_nodes()
            results["remote Ray node (`worker --ray`)"] = measure(homes["ray"], ["--ray", cluster.address], config,
                                                                   args.runs)
        finally:
            cluster.shutdown()

    command = " ".join(["python -m benchmarks.queue_to_first_step", *map(shlex.quote, argv or sys.argv[1:])])
    corpus_name = Path(args.corpus).name if args.corpus else "the built-in BBC News sample"
    print(f"`{command}`: {config.name} on {corpus_name}, {args.limit_train} training documents, CPU, "
          f"{args.runs} runs queued one after another per mode; seconds from queueing to the first step\n")
    print("| where the run trains | first run (s) | later runs, median (s) |")
    print("| --- | --- | --- |")
    for mode, seconds in results.items():
        first, later = describe(seconds)
        print(f"| {mode} | {first} | {later} |")
    print("\nevery run (s): " + "; ".join(f"{mode}: {', '.join(f'{s:.1f}' for s in seconds)}"
                                          for mode, seconds in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
