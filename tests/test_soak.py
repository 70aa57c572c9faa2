"""A soak of the queue, bounded in time: four processes submit and cancel runs at once against two
workers (real processes; each run a real runner training the tiny random BERT). Every run ends in
a final state, nothing meets "database is locked", and no process is left behind (by pid)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from topicbert.runs import processes
from topicbert.runs.store import ACTIVE, Store

ROOT = Path(__file__).resolve().parents[1]
SUBMITTERS = 4
SUBMITS_EACH = 4
CANCEL_SHARE = 0.75       # most submits are followed by a cancel of some queued or running run
DEADLINE_SECONDS = 240    # the whole soak, the last run included

SUBMITTER = f"""
import json, random, sys, time
from pathlib import Path
from topicbert.config import RunConfig
from topicbert.runs import services
from topicbert.runs.store import Store

seed, config, barrier, n = int(sys.argv[1]), RunConfig.from_json(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
(barrier / str(seed)).touch()
while len(list(barrier.iterdir())) < n:  # every submitter starts at once
    time.sleep(0.01)
rng = random.Random(seed)
submitted, cancelled = [], []
with Store() as store:
    for _ in range({SUBMITS_EACH}):
        submitted += services.submit_run(store, config)
        time.sleep(rng.uniform(0, 1.0))
        if rng.random() < {CANCEL_SHARE}:
            active = store.run_choices()
            active = [run["id"] for run in active if run["status"] in ("queued", "running")]
            if active:
                victim = rng.choice(active)
                if services.cancel_run(store, victim):
                    cancelled.append(victim)
print(json.dumps({{"submitted": submitted, "cancelled": cancelled}}))
"""
WORKER = "import sys; from topicbert.runs.worker import serve; sys.exit(serve(max_parallel=2, poll_seconds=0.2))"


@pytest.mark.slow
def test_submitters_and_cancellers_against_two_workers(tiny_config, tmp_path):
    home = tmp_path / "home"
    env = dict(os.environ, TOPICBERT_HOME=str(home), TOPICBERT_DEVICE="cpu", OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    config = tiny_config.replace(variant="bert", epochs=1)
    Store(home / "topicbert.db").close()  # the schema, before anyone races for it
    began = time.monotonic()
    workers = []
    for i in range(2):
        with open(tmp_path / f"worker-{i}.log", "w") as log:  # the worker writes to its own copy of the descriptor
            workers.append(subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    submitters = [subprocess.Popen([sys.executable, "-c", SUBMITTER, str(seed), config.to_json(), str(barrier),
                                    str(SUBMITTERS)],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for seed in range(SUBMITTERS)]
    pids = {worker.pid: time.time() for worker in workers}
    try:
        outputs = [submitter.communicate(timeout=DEADLINE_SECONDS) for submitter in submitters]
        for submitter, (_, err) in zip(submitters, outputs, strict=True):
            assert submitter.returncode == 0, err[-3000:]
            assert "locked" not in err
        with Store(home / "topicbert.db") as store:
            # the runs nobody cancelled run to their end, and each worker has seen its children exit
            while store.list_runs(ACTIVE) or any(w["state"] != "idle" for w in store.alive_workers(max_age=60)):
                assert time.monotonic() - began < DEADLINE_SECONDS, [r["status"] for r in store.list_runs()]
                time.sleep(0.5)
            runs = store.list_runs()
            assert store.integrity_check() == "ok"
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)  # a worker stops its loop; no run is left running by now
        for worker in workers:
            worker.wait(timeout=60)

    submitted = sorted(i for out, _ in outputs for i in json.loads(out)["submitted"])
    assert [run["id"] for run in runs][::-1] == submitted == list(range(1, SUBMITTERS * SUBMITS_EACH + 1))
    statuses = {run["id"]: run["status"] for run in runs}
    assert set(statuses.values()) <= {"done", "cancelled"}, {i: (s, store_error(runs, i)) for i, s in statuses.items()}
    assert "done" in statuses.values() and "cancelled" in statuses.values()
    texts = [(tmp_path / f"worker-{i}.log").read_text() for i in range(2)]
    texts += [Path(run["log_path"]).read_text(errors="replace") for run in runs if Path(run["log_path"]).exists()]
    assert not any("database is locked" in text for text in texts)
    # no orphan: neither worker nor any run's process (the leader torchrun or the runner) is alive
    pids.update({run["pid"]: run["started_at"] for run in runs if run["pid"]})
    alive = {pid: psutil.Process(pid).cmdline() for pid, born in pids.items() if processes.process_alive(pid, born)}
    assert alive == {}


def store_error(runs: list[dict], run_id: int) -> str:
    return next((run["error"] or "")[-500:] for run in runs if run["id"] == run_id)
