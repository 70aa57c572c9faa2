"""The worker: runs in queue order in process groups of their own, their ends recorded, recovery of runs
whose process is gone, the detached worker the app starts, and kill -9 of worker and run with a resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from itertools import pairwise

import pytest
from helpers import wait_for
from queue_helpers import (
    config,
    group_alive,
    start_worker,
    whole_evaluations,
)

from topicbert.runs import launchers, processes, services, worker
from topicbert.runs.store import hostname
from topicbert.training.loop import train


def fake_runner(monkeypatch, code: str) -> None:
    monkeypatch.setattr(launchers, "runner_command", lambda run_id, nproc: [sys.executable, "-c", code])


def test_run_that_raises_becomes_failed_with_its_error(store, monkeypatch):
    fake_runner(monkeypatch, "raise RuntimeError('boom from the run')")
    run_id = store.create_run(config())
    assert worker.Worker(store, device="cpu", poll_seconds=0.05).run(exit_when_idle=True) == 0
    run = store.get_run(run_id)
    assert run["status"] == "failed"
    assert "exited with code 1" in run["error"] and "RuntimeError: boom from the run" in run["error"]


def test_run_killed_by_a_signal_becomes_interrupted(store, monkeypatch):
    fake_runner(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    run_id = store.create_run(config())
    worker.Worker(store, device="cpu", poll_seconds=0.05).run(exit_when_idle=True)
    run = store.get_run(run_id)
    assert run["status"] == "interrupted" and "signal 9" in run["error"]


def test_worker_runs_queue_in_order_one_at_a_time(store, monkeypatch):
    fake_runner(monkeypatch, "import time; time.sleep(0.3)")  # exits 0 without recording: failed
    ids = [store.create_run(config()) for _ in range(3)]
    w = worker.Worker(store, device="cpu", poll_seconds=0.05)
    w.claim()
    assert list(w.children) == [ids[0]]  # max_parallel 1
    w.run(exit_when_idle=True)
    runs = [store.get_run(i) for i in ids]
    assert [r["status"] for r in runs] == ["failed"] * 3 and "without recording" in runs[0]["error"]
    assert runs[0]["started_at"] < runs[1]["started_at"] < runs[2]["started_at"]
    assert store.get_worker(w.worker_id)["state"] == "stopped"


def test_a_run_this_machine_fails_to_start_stays_queued(store, monkeypatch):
    monkeypatch.setattr(launchers, "runner_command", lambda run_id, nproc: ["/nonexistent/python"])
    run_id = store.create_run(config())
    w = worker.Worker(store, device="cpu", poll_seconds=0.05)
    assert not w.claim() and w.children == {}
    run = store.get_run(run_id)
    assert run["status"] == "queued" and "waiting: the last try to start it failed" in run["error"]
    monkeypatch.setattr(launchers, "runner_command", lambda run_id, nproc: [sys.executable, "-c", "pass"])
    assert w.claim() and list(w.children) == [run_id]  # the machine is fine again: it starts


@pytest.mark.parametrize("then_deleted", [False, True])
def test_worker_kills_a_run_cancelled_elsewhere(store, monkeypatch, then_deleted):
    """As another host's page would: the row's status alone, and maybe the row gone before the worker looks."""
    fake_runner(monkeypatch, "import time; time.sleep(300)")
    run_id = store.create_run(config())
    w = worker.Worker(store, device="cpu")
    w.claim()
    pid = store.get_run(run_id)["pid"]
    store.cancel(run_id)
    if then_deleted:
        assert store.delete_run(run_id)
    w.enforce_cancels()
    w.reap()
    assert not processes.process_alive(pid) and w.children == {}
    assert store.get_run(run_id) is None if then_deleted else store.get_run(run_id)["status"] == "cancelled"


def test_a_run_cancelled_and_resumed_elsewhere_between_two_looks_is_not_run_twice(store, monkeypatch):
    fake_runner(monkeypatch, "import time; time.sleep(300)")
    run_id = store.create_run(config())
    w = worker.Worker(store, device="cpu", poll_seconds=0.05)
    w.claim()
    old = store.get_run(run_id)["pid"]
    store.cancel(run_id)  # as another host would: status only ...
    assert store.requeue(run_id)  # ... and resumed before this worker looked again
    w.enforce_cancels()
    w.reap()
    w.claim()
    assert not processes.process_alive(old) and list(w.children) == [run_id]
    assert w.children[run_id].popen.pid != old and store.get_run(run_id)["status"] == "running"
    w.enforce_cancels()  # running again: left alone
    assert processes.process_alive(store.get_run(run_id)["pid"])
    processes.kill_process_group(store.get_run(run_id)["pgid"])


def test_recover_marks_runs_whose_process_is_gone(store):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead, alive, far_stale, far_fresh = (store.create_run(config()) for _ in range(4))
    for run_id in (dead, alive):
        store.claim_run(run_id, None, "cpu", host=hostname())
    store.set_process(dead, gone.pid, gone.pid)
    store.set_process(alive, os.getpid(), os.getpgid(0))  # this test process: alive, born before the claim
    for run_id in (far_stale, far_fresh):
        store.claim_run(run_id, None, "cpu", host="another-host")
    store.db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time() - 3600, far_stale))

    lost = worker.Worker(store, device="cpu").recover()
    assert sorted(lost) == sorted([dead, far_stale])
    assert store.get_run(dead)["status"] == "interrupted" and "is gone" in store.get_run(dead)["error"]
    assert store.get_run(alive)["status"] == "running" and store.get_run(far_fresh)["status"] == "running"


def test_recover_spares_a_run_its_live_worker_is_starting(store):
    run_id = store.create_run(config())
    claimer = store.register_worker(os.getpid(), "cpu")
    store.claim_next_run(claimer, "cpu", hostname())  # no pid yet
    assert worker.Worker(store, device="cpu").recover() == []
    store.update_worker(claimer, "stopped")
    assert worker.Worker(store, device="cpu").recover() == [run_id]


def test_recover_tells_a_killed_worker_by_its_process_not_its_fresh_heartbeat(store):
    """A worker SIGKILLed a moment ago (its heartbeat fresh): the runs it claimed (a Ray task's, or one not
    yet launched) are interrupted by the next worker's first pass; another host's worker keeps its lease."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    killed, elsewhere = store.register_worker(gone.pid, "ray"), store.register_worker(gone.pid, "ray", host="far")
    mine, theirs = store.create_run(config()), store.create_run(config())
    store.claim_run(mine, killed, "ray", host=hostname())
    store.set_placement(mine, "3f9a01c2", "gpu-node-2", ["0"])  # a Ray task: no pid the store knows
    store.claim_run(theirs, elsewhere, "ray", host="far")
    began = time.monotonic()
    assert worker.Worker(store, device="cpu").recover() == [mine]
    assert time.monotonic() - began < 10
    assert "its Ray worker stopped" in store.get_run(mine)["error"]
    assert store.get_run(theirs)["status"] == "running"


def test_process_alive_rejects_reused_pids():
    assert processes.process_alive(os.getpid())
    assert not processes.process_alive(os.getpid(), started_at=time.time() - 3600 * 24 * 365)
    assert not processes.process_alive(None)


def test_ensure_worker_starts_one_detached_worker(store):
    assert services.ensure_worker(store)
    assert not services.ensure_worker(store)  # reserved: a second caller starts none
    row = wait_for(lambda: next((w for w in store.alive_workers() if w["state"] == "idle"), None))
    assert row["pid"] and row["device"] == "cpu"
    os.kill(row["pid"], signal.SIGTERM)
    wait_for(lambda: store.get_worker(row["id"])["state"] == "stopped")


def test_a_worker_killed_a_moment_ago_does_not_hold_off_a_new_one(store):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    killed = store.register_worker(gone.pid, "cpu")  # SIGKILLed: its heartbeat is still fresh
    assert services.ensure_worker(store)
    assert store.get_worker(killed)["state"] == "stopped"
    row = wait_for(lambda: next((w for w in store.alive_workers() if w["state"] == "idle"), None))
    os.kill(row["pid"], signal.SIGTERM)
    wait_for(lambda: store.get_worker(row["id"])["state"] == "stopped")


@pytest.mark.slow
def test_kill_9_of_worker_and_run_then_resume_finishes(store, tiny_config):
    run_id = services.submit_run(store, tiny_config.replace(epochs=6, eval_every_steps=3))[0]
    first = start_worker()
    wait_for(lambda: (store.get_run(run_id)["checkpoint_step"] or 0) >= 6, timeout=300, every=0.2)
    pgid = store.get_run(run_id)["pgid"]
    os.kill(first.pid, signal.SIGKILL)
    os.killpg(pgid, signal.SIGKILL)
    first.wait()
    wait_for(lambda: not group_alive(pgid))

    # consistent: every evaluation recorded whole, energy only at evaluations and at pretraining's end
    run = store.get_run(run_id)
    table = store.metrics_table(run_id)
    assert run["status"] == "running" and whole_evaluations(table)
    assert {e["step"] for e in store.list_energy(run_id)} <= {0} | {row["step"] for row in table}
    assert max(row["step"] for row in table) >= run["checkpoint_step"] >= 6

    assert worker.Worker(store, device="cpu").recover() == [run_id]  # what a new worker does first
    assert services.resume_run(store, run_id)
    done = start_worker("--exit-when-idle", wait=True)
    run = store.get_run(run_id)
    assert run["status"] == "done", (run["error"], done.stderr[-2000:])
    table = store.metrics_table(run_id)
    assert whole_evaluations(table) and table[-1]["step"] == run["total_steps"]
    walls = [row["wall_seconds"] for row in table]
    assert walls == sorted(walls)  # the resumed curve continues the first one
    energy = store.list_energy(run_id)
    assert all(a["kwh"] <= b["kwh"] and a["kg_co2e"] <= b["kg_co2e"] for a, b in pairwise(energy))
    assert run["final_metrics"]["test_macro_f1"] >= 0 and len(store.get_topics(run_id)) == 5


@pytest.mark.slow
def test_two_process_torchrun_run_reaches_single_process_f1(store, tiny_config, tmp_path):
    # rates at which the tiny model learns the synthetic classes in a few epochs, alone or in DDP
    learnable = tiny_config.replace(epochs=4, lr=3e-3, head_lr=1e-2, dropout=0.0)
    single = train(learnable, tmp_path / "single")
    run_id = services.submit_run(store, learnable.replace(nproc=2))[0]
    done = start_worker("--exit-when-idle", wait=True)
    run = store.get_run(run_id)
    assert run["status"] == "done", (run["error"], done.stderr[-2000:])
    assert whole_evaluations(store.metrics_table(run_id))
    assert run["energy_info"]["tracking_mode"] == "machine"  # the ranks are metered together
    # each rank takes half the batches of an epoch: half the steps, the same data
    assert run["final_metrics"]["test_macro_f1"] >= single.test_macro_f1 - 0.1, single.summary()
