"""Every GPU of one machine: which queued run gets which GPUs, the child's CUDA_VISIBLE_DEVICES and the
GPUs its meter reads, what the store records and the status line shows; with a fake list of four GPUs."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from helpers import wait_for

from topicbert import cli
from topicbert.config import ConfigError, RunConfig
from topicbert.runs import launchers, processes, services, worker
from topicbert.runs.gpus import QueuedRun, choose_gpus, free_slots, plan_launches
from topicbert.runs.store import Store, hostname

FOUR = ["0", "1", "2", "3"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    with Store() as s:
        yield s


# ---------------------------------------------------------------- the assignment (a pure function)

def test_each_run_gets_gpus_of_its_own_in_queue_order():
    queue = [QueuedRun(1, 1), QueuedRun(2, 2), QueuedRun(3, 1), QueuedRun(4, 0), QueuedRun(5, 1)]
    plan = plan_launches(queue, free_slots(FOUR, 1, held=[]), room=10)
    # the fifth run waits: four GPUs, four taken; the CPU run goes beside them
    assert plan == [(1, ("0",)), (2, ("1", "2")), (3, ("3",)), (4, ())]
    assert plan_launches(queue, free_slots(FOUR, 1, held=[]), room=2) == plan[:2]


def test_a_busy_gpu_is_skipped_and_a_run_that_does_not_fit_holds_the_gpu_runs_behind_it():
    free = free_slots(FOUR, 1, held=["0", "2", "3"])  # only GPU 1 is free
    assert plan_launches([QueuedRun(7, 1)], free, room=4) == [(7, ("1",))]
    # the two-GPU run waits, and the one-GPU run behind it does not overtake it; a CPU run still goes
    assert plan_launches([QueuedRun(7, 2), QueuedRun(8, 1), QueuedRun(9, 0)], free, room=4) == [(9, ())]
    assert plan_launches([QueuedRun(7, 1)], free_slots(FOUR, 1, held=FOUR), room=4) == []


def test_runs_share_a_gpu_only_when_asked():
    assert free_slots(["0", "1"], 2, held=["0"]) == {"0": 1, "1": 2}
    queue = [QueuedRun(1, 1), QueuedRun(2, 1), QueuedRun(3, 1), QueuedRun(4, 1)]
    # the emptiest GPU first: 1 (two places), then 0 and 1 (one each, the first in the pool first)
    assert plan_launches(queue, free_slots(["0", "1"], 2, held=["0"]), room=10) == [
        (1, ("1",)), (2, ("0",)), (3, ("1",))]
    assert plan_launches(queue, free_slots(["0", "1"], 1, held=[]), room=10) == [(1, ("0",)), (2, ("1",))]


def test_gpus_are_checked_against_what_the_machine_shows():
    assert choose_gpus(None, FOUR) == FOUR
    assert choose_gpus("0,1,3", FOUR) == ["0", "1", "3"]
    with pytest.raises(ConfigError, match=r"--gpus 7: no GPU 7 here; this machine shows GPUs 0, 1, 2, 3"):
        choose_gpus("7", FOUR)
    with pytest.raises(ConfigError, match="named twice"):
        choose_gpus("1,1", FOUR)
    with pytest.raises(ConfigError, match="shows no GPU"):
        choose_gpus("0", [])


def test_worker_gpus_7_on_a_four_gpu_machine_says_what_is_wrong_and_writes_nothing(store, monkeypatch, capsys):
    monkeypatch.setattr(worker, "visible_gpus", lambda: FOUR)
    assert cli.main(["worker", "--device", "cuda", "--gpus", "7"]) == 2
    assert "no GPU 7 here; this machine shows GPUs 0, 1, 2, 3" in capsys.readouterr().err
    assert store.alive_workers() == []  # no worker registered
    monkeypatch.setattr(worker, "visible_gpus", lambda: [])
    assert cli.main(["worker", "--device", "cpu", "--gpus", "0"]) == 2
    assert "this machine shows no GPU" in capsys.readouterr().err


def test_the_child_sees_its_gpus_alone(tmp_path):
    db = tmp_path / "topicbert.db"
    assert processes.child_environment(db, ["2"])["CUDA_VISIBLE_DEVICES"] == "2"
    assert processes.child_environment(db, ["1", "3"])["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert processes.child_environment(db, ())["CUDA_VISIBLE_DEVICES"] == ""  # a CPU run touches no GPU
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    assert "CUDA_VISIBLE_DEVICES" not in processes.child_environment(db)  # no GPUs handed out: as it is


def test_the_store_refuses_a_claim_on_a_gpu_that_is_full(store):
    cfg = RunConfig(corpus="c.csv")
    first, second, third = (store.create_run(cfg) for _ in range(3))
    assert store.claim_run(first, None, "cuda", host="h", gpus=("2",))
    assert not store.claim_run(second, None, "cuda", host="h", gpus=("1", "2"))  # another worker took 2
    assert store.get_run(second)["status"] == "queued"
    assert store.claim_run(second, None, "cuda", host="h", gpus=("2",), runs_per_gpu=2)  # shared, as asked
    assert store.claim_run(third, None, "cuda", host="other", gpus=("2",))  # another machine's GPU 2
    assert sorted(store.gpus_held("h")) == ["2", "2"] and store.gpus_held("other") == ["2"]
    store.finish_run(first, "done")
    assert store.gpus_held("h") == ["2"]


# ---------------------------------------------------------------- the worker, with four fake GPUs

# what each fake runner writes in its log: the GPUs it sees and the ones its energy meter would read
FAKE_RUNNER = ("import os, time, pathlib; from topicbert.energy.meter import gpu_ids_for; "
               "print('visible', os.environ['CUDA_VISIBLE_DEVICES'], 'metered', "
               "gpu_ids_for('cuda:0', {nproc}) if os.environ['CUDA_VISIBLE_DEVICES'] else [], flush=True); "
               "release = pathlib.Path({release!r}); deadline = time.time() + 60\n"
               "while not release.exists() and time.time() < deadline: time.sleep(0.05)")


def log_line(store: Store, run_id: int) -> str:
    path = Path(store.get_run(run_id)["log_path"])

    def metered_line() -> str | None:
        text = path.read_text() if path.exists() else ""
        return text.strip().splitlines()[-1] if "metered" in text else None
    return wait_for(metered_line, f"run {run_id}'s line", every=0.05)


def test_worker_hands_each_run_its_own_gpus_and_a_run_waits_while_none_is_free(store, monkeypatch, tmp_path):
    release = tmp_path / "release"
    monkeypatch.setattr(launchers, "runner_command", lambda run_id, nproc: [
        sys.executable, "-c", FAKE_RUNNER.format(nproc=nproc, release=str(release / str(run_id)))])
    release.mkdir()
    cfg = RunConfig(corpus="c.csv", batch_size=8)
    # the TF-IDF reference trains on the CPU, as does a run that asks for it
    one, two, three, tfidf, on_cpu, waiting = (store.create_run(cfg.replace(**changes)) for changes in (
        {}, {"nproc": 2}, {}, {"variant": "tfidf"}, {"device": "cpu"}, {}))
    w = worker.Worker(store, device="cuda", gpus=FOUR, max_parallel=10, poll_seconds=0.05)
    w.claim()
    assert sorted(w.children) == [one, two, three, tfidf, on_cpu]  # the last waits for a GPU
    assert {run_id: store.get_run(run_id)["gpus"] for run_id in (one, two, three, tfidf, on_cpu, waiting)} == {
        one: "0", two: "1,2", three: "3", tfidf: None, on_cpu: None, waiting: None}
    assert log_line(store, one) == "visible 0 metered [0]"
    assert log_line(store, two) == "visible 1,2 metered [1, 2]"  # two ranks, each its GPU, both metered
    assert log_line(store, three) == "visible 3 metered [3]"
    assert log_line(store, tfidf) == log_line(store, on_cpu) == "visible  metered []"
    assert "  cuda:3  " in services.format_status(store.run_overview(three)[0])
    store.set_device(three, "cuda:0")  # what its runner records: the first GPU it sees, GPU 3 of the machine
    assert "  cuda:3  " in services.format_status(store.run_overview(three)[0])

    (release / str(one)).touch()

    def waiting_launched() -> bool:
        w.reap()
        w.claim()
        return waiting in w.children
    wait_for(waiting_launched, "the waiting run to get the freed GPU", every=0.05)
    assert store.get_run(waiting)["gpus"] == "0" and log_line(store, waiting) == "visible 0 metered [0]"
    for run_id in (two, three, tfidf, on_cpu, waiting):
        (release / str(run_id)).touch()
    w.run(exit_when_idle=True)
    assert store.list_runs("running") == []


def test_a_run_that_needs_more_gpus_than_the_worker_has_fails_with_a_reason(store):
    big = store.create_run(RunConfig(corpus="c.csv", nproc=8, batch_size=8))
    w = worker.Worker(store, device="cuda", gpus=FOUR)
    assert w.claim_one() is None
    run = store.get_run(big)
    assert run["status"] == "failed" and "needs 8 GPUs and this worker has 4 (GPUs 0,1,2,3)" in run["error"]


def test_where_a_run_trained_is_said_in_words():
    row = {"device": "cuda:0", "gpus": "2", "node": None, "host": hostname()}
    assert services.placement_text(row) == "cuda:2"
    assert services.placement_text(dict(row, gpus="0,1")) == "cuda:0,1"
    assert services.placement_text(dict(row, device="cpu", gpus=None)) == "cpu"
    ray_run = {"device": "cuda:0", "gpus": "1", "node": "3f9a01c2aa55", "host": "gpu-2"}
    assert services.placement_text(ray_run) == "cuda:1 on gpu-2 (node 3f9a01c2)"
    assert services.placement_text(dict(ray_run, device=services.RAY_DEVICE, node=None, gpus=None)) == \
        "waiting for a Ray node"
    assert services.placement_text(dict(ray_run, device=services.RAY_DEVICE)) == "cuda:1 on gpu-2 (node 3f9a01c2)"
