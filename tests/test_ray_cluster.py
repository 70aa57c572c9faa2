"""The queue on a Ray cluster.

Without a cluster: how files travel between a node and the store's machine (shipping), what the store's
service lets a node do (store_service), what a run asks Ray for, and the person's mistakes (`--ray`
without Ray, or with no cluster there); nothing of Ray is loaded on the default path.

With Ray's own multi-node test cluster on this machine, GPUs declared as resources (no real GPU), the
real `python -m topicbert worker --ray ADDRESS` and the tiny random BERT, one cluster serves the whole
story, to keep it short: a sweep spreads over the nodes with no node over its GPUs; a node killed mid-run
leaves its run interrupted with its metrics kept, and resume finishes it on another node from the
checkpoint that reached the store's machine; cancel stops a task within seconds and Ray has its GPU
back; the database is whole and every run's files are in the run folders here.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from topicbert import cli
from topicbert.config import ConfigError, RunConfig
from topicbert.runs import services
from topicbert.runs.ray_node import scratch_folder
from topicbert.runs.ray_worker import task_resources
from topicbert.runs.shipping import Outbox, Shipment, read_folder, receive
from topicbert.runs.store import hostname
from topicbert.runs.store_service import StaleAttempt, StoreService
from topicbert.training.checkpoints import Checkpoints

ROOT = Path(__file__).resolve().parents[1]
OBJECT_STORE_BYTES = 100 * 1024 ** 2  # small: three nodes share this machine's memory
EVALUATION_NAMES = {"val_macro_f1", "val_micro_f1", "val_loss", "train_loss", "val_perplexity"}


# ---------------------------------------------------------------- without a cluster

def test_a_node_sends_what_changed_and_the_checkpoint_only_with_its_step(tmp_path):
    run_dir, texts = tmp_path / "node" / "runs" / "7", tmp_path / "node" / "texts"
    (run_dir / "checkpoint").mkdir(parents=True)
    (run_dir / "config.json").write_text("{}")
    (run_dir / "run.log").write_text("from the store's machine\n")
    outbox = Outbox(run_dir, texts)
    assert not outbox.changed(with_checkpoint=True)  # what it started from counts as sent
    with (run_dir / "run.log").open("a") as log:
        log.write("step 1\n")
    (run_dir / "checkpoint" / "model.safetensors").write_bytes(b"weights")
    (run_dir / "best.tmp").mkdir()  # a folder being written is never sent
    assert outbox.changed(only=["run.log"]).run_files == {"run.log": b"from the store's machine\nstep 1\n"}
    assert outbox.changed() == Shipment()  # the checkpoint waits for its step
    assert outbox.changed(with_checkpoint=True).run_files == {"checkpoint/model.safetensors": b"weights"}
    texts.mkdir()
    (texts / "abc.json").write_text("[]")
    assert outbox.changed().texts == {"abc.json": b"[]"} and not outbox.changed()


def test_what_a_node_sends_is_written_whole_and_only_where_it_may_go(tmp_path):
    run_dir, texts = tmp_path / "runs" / "7", tmp_path / "texts"
    receive(Shipment({"checkpoint/a": b"1", "checkpoint/b": b"2", "run.log": b"log"}, {"t.json": b"[1]"}),
            run_dir, texts)
    assert read_folder(run_dir) == {"checkpoint/a": b"1", "checkpoint/b": b"2", "run.log": b"log"}
    receive(Shipment({"checkpoint/a": b"3"}, {"t.json": b"[2]"}), run_dir, texts)
    assert read_folder(run_dir / "checkpoint") == {"a": b"3"}  # replaced whole, not merged
    assert (texts / "t.json").read_bytes() == b"[1]"  # named by their content: never rewritten
    for name in ("../../evil", "/etc/evil", "config.json"):
        with pytest.raises(ValueError):
            receive(Shipment({name: b"x"}), run_dir, texts)
    assert not (tmp_path / "evil").exists()


def test_the_store_service_serves_the_current_attempt_of_a_run_alone(store, tiny_corpus_csv):
    config = RunConfig(corpus=str(tiny_corpus_csv), device="cpu")
    run_id, other = store.create_run(config), store.create_run(config)
    store.claim_run(run_id, None, services.RAY_DEVICE, host=hostname())
    service = StoreService(str(store.path))
    service.begin(run_id, "first")
    inputs = service.inputs(run_id, "first")
    assert inputs.config == config and len(inputs.corpus) == 90 and set(inputs.run_files) == {"config.json"}
    service.call(run_id, "first", "set_progress", (run_id, 3, 10), {})
    assert store.get_run(run_id)["step"] == 3
    with pytest.raises(PermissionError):
        service.call(run_id, "first", "set_progress", (other, 3, 10), {})  # another run's row
    with pytest.raises(PermissionError):
        service.call(run_id, "first", "delete_run", (run_id,), {})  # not a runner's call
    best = {"best/run_config.json": config.replace(corpus="/node/scratch/corpus.jsonl").to_json().encode()}
    service.checkpoint(run_id, "first", 6, Shipment({"checkpoint/state.json": b"{}", **best}))
    run_dir = Path(store.get_run(run_id)["run_dir"])
    assert store.get_run(run_id)["checkpoint_step"] == 6 and Checkpoints(run_dir).resumable() is not None
    # the kept model names the corpus as the store does, not the node's copy
    assert json.loads((run_dir / "best" / "run_config.json").read_text())["corpus"] == str(tiny_corpus_csv)

    service.begin(run_id, "second")  # the run started again elsewhere: the first attempt is over
    with pytest.raises(StaleAttempt):
        service.call(run_id, "first", "set_progress", (run_id, 9, 10), {})
    assert service.finish(run_id, "second", "done", None, Shipment({"run.log": b"the end"}))
    assert store.get_run(run_id)["status"] == "done" and Checkpoints(run_dir).resumable() is None
    service.end(run_id)
    with pytest.raises(StaleAttempt):
        service.heartbeat(run_id, "second", Shipment())


def test_a_node_removes_the_folders_of_attempts_whose_process_is_gone(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    killed = tmp_path / f"topicbert-run-4-pid{gone.pid}-x1"
    running = tmp_path / f"topicbert-run-5-pid{os.getpid()}-x2"
    for folder in (killed, running):
        (folder / "runs").mkdir(parents=True)
    mine = scratch_folder(6, tmp_path)
    assert not killed.exists() and running.exists() and mine.name.startswith(f"topicbert-run-6-pid{os.getpid()}-")


def test_what_a_run_asks_ray_for():
    run = RunConfig(corpus="c.csv", batch_size=8)
    assert task_resources(run, cluster_gpus=4, cpus_per_run=2) == {"num_cpus": 2, "num_gpus": 1}
    assert task_resources(run, cluster_gpus=0, cpus_per_run=1) == {"num_cpus": 1, "num_gpus": 0}
    assert task_resources(run.replace(device="cpu"), cluster_gpus=4, cpus_per_run=1)["num_gpus"] == 0
    assert task_resources(run.replace(variant="tfidf"), cluster_gpus=4, cpus_per_run=1)["num_gpus"] == 0
    with pytest.raises(ConfigError, match="has no GPU"):
        task_resources(run.replace(device="cuda"), cluster_gpus=0, cpus_per_run=1)
    with pytest.raises(ConfigError, match="trains on one machine"):
        task_resources(run.replace(nproc=2), cluster_gpus=4, cpus_per_run=1)


def test_nothing_of_ray_is_loaded_on_the_default_path():
    code = ("import sys, topicbert.cli, topicbert.runs.worker, topicbert.runs.services, topicbert.studio.frames; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)


def test_ray_mistakes_are_said_in_one_line_and_nothing_is_written(store, monkeypatch, capsys):
    began = time.monotonic()
    assert cli.main(["worker", "--ray", "127.0.0.1:9"]) == 2  # nothing listens on port 9
    assert "no Ray cluster answers at" in capsys.readouterr().err and time.monotonic() - began < 30
    assert cli.main(["worker", "--ray", "--gpus", "0"]) == 2
    assert "on Ray each run asks the cluster for its GPUs" in capsys.readouterr().err
    monkeypatch.delitem(sys.modules, "topicbert.runs.ray_worker")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert cli.main(["worker", "--ray"]) == 2
    assert "--ray needs Ray, which is not installed here" in capsys.readouterr().err
    assert store.alive_workers() == [] and store.list_runs() == []


# ---------------------------------------------------------------- on a test cluster

def wait_for(condition, what: str, worker: subprocess.Popen, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert worker.poll() is None, f"the worker ended (code {worker.returncode}) while waiting for {what}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def overlapping(runs: list[dict]) -> int:
    """The most of these runs that ran at one moment."""
    moments = sorted([(run["started_at"], 1) for run in runs] + [(run["finished_at"], -1) for run in runs],
                     key=lambda moment: (moment[0], moment[1]))
    most = running = 0
    for _, change in moments:
        running += change
        most = max(most, running)
    return most


def evaluation_steps(run: dict, every: int) -> list[int]:
    """The steps an unbroken run evaluates at: every `every` steps and at each epoch's end."""
    total, epochs = run["total_steps"], run["config"]["epochs"]
    per_epoch = total // epochs
    return sorted(set(range(every, total + 1, every)) | set(range(per_epoch, total + 1, per_epoch)))


def check_files_arrived(run: dict) -> None:
    """What the pages read is in the run folder on the store's machine, and no resumable checkpoint."""
    run_dir = Path(run["run_dir"])
    assert (run_dir / "best" / "head.safetensors").is_file() and (run_dir / "test_predictions.npz").is_file()
    assert json.loads((run_dir / "best" / "run_config.json").read_text())["corpus"] == run["config"]["corpus"]
    assert f"on Ray node {run['node']}" in (run_dir / "run.log").read_text()  # the node's log, sent home
    assert Checkpoints(run_dir).resumable() is None


@pytest.mark.slow
def test_a_sweep_a_dead_node_a_resume_and_a_cancel_on_a_ray_cluster(store, tiny_config, tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "num_gpus": 0, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
    # more CPUs than GPUs: only the runs' GPU requests keep a node to its GPU count
    two, one = (cluster.add_node(num_cpus=3, num_gpus=gpus, object_store_memory=OBJECT_STORE_BYTES) for gpus in (2, 1))
    nodes, gpus_of = {two.node_id: two, one.node_id: one}, {two.node_id: 2, one.node_id: 1}
    cluster.wait_for_nodes()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    worker = subprocess.Popen([sys.executable, "-m", "topicbert", "worker", "--ray", cluster.address, "--poll", "0.2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "wb"))
    config = tiny_config.replace(device="auto")  # auto: a GPU where the cluster has them
    try:
        # a sweep of three seeds, each asking for a GPU, on three GPUs
        sweep = [services.submit_run(store, config.replace(seed=seed))[0] for seed in (1, 2, 3)]
        wait_for(lambda: all(store.get_run(i)["status"] not in ("queued", "running") for i in sweep),
                 "the sweep", worker)
        runs = [store.get_run(i) for i in sweep]
        assert [run["status"] for run in runs] == ["done"] * 3, [run["error"] for run in runs]
        assert {run["node"] for run in runs} == set(nodes)  # spread over both nodes
        for node_id, gpus in gpus_of.items():
            on_node = [run for run in runs if run["node"] == node_id]
            assert overlapping(on_node) <= gpus
            assert len({run["gpus"] for run in on_node}) == len(on_node)  # each its own GPU
        for run in runs:
            assert run["gpus"] and run["final_metrics"]["test_macro_f1"] >= 0 and len(store.get_topics(run["id"])) == 5
            check_files_arrived(run)

        # a node dies in the middle of a run
        long = services.submit_run(store, config.replace(seed=4, epochs=6, eval_every_steps=3))[0]
        first = wait_for(lambda: (run := store.get_run(long))["checkpoint_step"]
                         and run["checkpoint_step"] >= 6 and run,
                         "the long run's second checkpoint", worker)
        cluster.remove_node(nodes[first["node"]])
        interrupted = wait_for(lambda: (run := store.get_run(long))["status"] != "running" and run, "the interruption",
                               worker, timeout=60)
        assert interrupted["status"] == "interrupted", interrupted["error"]
        assert f"its Ray node {first['node'][:8]} on {first['host']} died or left" in interrupted["error"]
        table = store.metrics_table(long)
        assert table and all(EVALUATION_NAMES <= set(row) for row in table)  # the metrics up to then are kept
        assert max(row["step"] for row in table) >= interrupted["checkpoint_step"] >= 6
        state = Checkpoints(Path(interrupted["run_dir"])).resumable() / "state.json"
        assert json.loads(state.read_text())["step"] >= interrupted["checkpoint_step"]  # reached this machine

        assert services.resume_run(store, long)
        wait_for(lambda: store.get_run(long)["status"] not in ("queued", "running"), "the resumed run", worker)
        resumed = store.get_run(long)
        assert resumed["status"] == "done", resumed["error"]
        assert resumed["node"] != first["node"]
        assert [row["step"] for row in store.metrics_table(long)] == evaluation_steps(resumed, 3)
        energy = store.list_energy(long)
        assert all(a["kwh"] <= b["kwh"] for a, b in zip(energy, energy[1:]))  # cumulative over both attempts
        check_files_arrived(resumed)

        # cancel stops the task within seconds, and Ray has its GPU back
        ray.init(address=cluster.address, logging_level="ERROR")
        cancelled = services.submit_run(store, config.replace(seed=5, epochs=20))[0]
        wait_for(lambda: store.get_run(cancelled)["step"] > 0, "the run to be cancelled to step", worker)
        assert ray.available_resources().get("GPU", 0) < ray.cluster_resources()["GPU"]
        began = time.monotonic()
        assert services.cancel_run(store, cancelled)
        wait_for(lambda: ray.available_resources().get("GPU", 0) == ray.cluster_resources()["GPU"], "the GPU back",
                 worker, timeout=15)
        assert time.monotonic() - began < 15
        step = store.get_run(cancelled)["step"]
        time.sleep(2)
        assert store.get_run(cancelled)["status"] == "cancelled" and store.get_run(cancelled)["step"] == step

        assert store.integrity_check() == "ok"
        assert store.list_runs("running") == [] and len(store.list_runs()) == 5  # nothing lost
        assert all(store.get_run(i)["status"] == "done" and store.metrics_table(i) for i in sweep)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        finally:
            worker.kill()
            ray.shutdown()
            cluster.shutdown()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()[-3000:]
