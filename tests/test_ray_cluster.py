"""The queue on a Ray cluster.

Without a cluster: how files travel between a node and the store's machine (shipping), what the store's
service lets a node do (store_service), what a run asks Ray for, and the person's mistakes (`--ray`
without Ray, or with no cluster there); nothing of Ray is loaded on the default path.

With Ray's own multi-node test cluster on this machine, GPUs declared as resources (no real GPU), the
real `python -m topicbert worker --ray ADDRESS` and the tiny random BERT, one cluster serves the whole
story, to keep it short: a sweep spreads over the nodes with no node over its GPUs; a node killed mid-run
leaves its run interrupted with its metrics kept, and resume finishes it on another node from the
checkpoint that reached the store's machine; cancel stops a task within seconds and Ray has its GPU
back; the database is whole and every run's files are in the run folders here. The cluster requires a
token, and a driver without it is refused; a worker refuses a cluster that does not (unless --insecure).
A second cluster takes one run through the faults in turn (cancel and resume in one poll, the store's
service killed, the worker's SIGTERM and SIGKILL, the GCS killed): BENCHMARKS.md's "Faults survived".
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import helpers
import psutil
import pytest
import ray
from ray.cluster_utils import Cluster

from topicbert import cli
from topicbert.config import ConfigError, RunConfig
from topicbert.data.shared_texts import texts_digest
from topicbert.data.splits import load_run_corpus
from topicbert.data.vocabulary import TopicVocabulary
from topicbert.runs import services
from topicbert.runs.processes import child_environment
from topicbert.runs.ray import cluster as ray_cluster
from topicbert.runs.ray import launcher as ray_launcher
from topicbert.runs.ray.cluster import task_environment
from topicbert.runs.ray.launcher import task_resources
from topicbert.runs.ray.node import scratch_folder
from topicbert.runs.ray.shipping import Outbox, Shipment, read_folder, receive
from topicbert.runs.ray.store_service import StaleAttempt, StoreService
from topicbert.runs.references import reference_inputs
from topicbert.runs.store import hostname
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
    named = f"{texts_digest(['a text'])}.json"
    receive(Shipment({"checkpoint/a": b"1", "checkpoint/b": b"2", "run.log": b"log"}, {named: b'["a text"]'}),
            run_dir, texts)
    assert read_folder(run_dir) == {"checkpoint/a": b"1", "checkpoint/b": b"2", "run.log": b"log"}
    receive(Shipment({"checkpoint/a": b"3"}, {named: b'[ "a text" ]'}), run_dir, texts)
    assert read_folder(run_dir / "checkpoint") == {"a": b"3"}  # replaced whole, not merged
    assert (texts / named).read_bytes() == b'["a text"]'  # named by their content: never rewritten
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


def test_texts_a_node_sends_are_kept_only_under_their_own_digest(tmp_path):
    run_dir, texts = tmp_path / "runs" / "7", tmp_path / "texts"
    honest = ["one text", "another"]
    name = f"{texts_digest(honest)}.json"
    lie = ["what another run tests on"]
    for shipped in ({name: json.dumps(lie).encode()}, {"0123abcd.json": json.dumps(honest).encode()},
                    {name: b"\xff not json"}, {name: b'{"not": "a list"}'}):
        with pytest.raises(ValueError, match="texts sent as"):
            receive(Shipment({"run.log": b"log"}, shipped), run_dir, texts)
    assert not run_dir.exists() and not texts.exists()  # nothing of a refused shipment is written
    receive(Shipment({}, {name: json.dumps(honest).encode()}), run_dir, texts)
    assert json.loads((texts / name).read_text()) == honest


def test_a_topic_reference_is_filed_under_the_key_the_store_computes(store, tiny_corpus_csv):
    config = RunConfig(corpus=str(tiny_corpus_csv), device="cpu", n_topics=3)
    run_id = store.create_run(config)
    store.claim_run(run_id, None, services.RAY_DEVICE, host=hostname())
    run_dir = Path(store.get_run(run_id)["run_dir"])
    inputs = load_run_corpus(config)
    TopicVocabulary.fit([inputs.texts[i] for i in inputs.indices("train")], min_df=1).save(run_dir / "vocab.json")
    key = reference_inputs(config, run_dir).key()
    service = StoreService(str(store.path))
    service.begin(run_id, "a")
    entry = (3, 0.1, 0.9, [["w"]] * 3, 1.0)
    for forged in ("another run's key", key[::-1]):
        with pytest.raises(PermissionError, match="its documents and vocabulary give another"):
            service.call(run_id, "a", "add_topic_reference", (forged, *entry), {})
        with pytest.raises(PermissionError, match="its documents and vocabulary give another"):
            service.call(run_id, "a", "set_run_topic_reference", (run_id, forged), {})
    assert store.get_topic_reference(key[::-1]) is None and store.get_run(run_id)["topic_reference"] is None
    service.call(run_id, "a", "add_topic_reference", (key, *entry), {})
    service.call(run_id, "a", "set_run_topic_reference", (run_id, key), {})
    assert store.get_topic_reference(key)["n_topics"] == 3 and store.get_run(run_id)["topic_reference"] == key


def test_every_run_numbers_gpus_as_nvidia_smi_does(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
    assert child_environment(tmp_path / "topicbert.db", ["1"])["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    monkeypatch.setenv("TOPICBERT_COUNTRY", "FRA")
    assert task_environment() == {"TOPICBERT_COUNTRY": "FRA", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


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


def test_a_cluster_whose_answer_says_neither_open_nor_closed_is_refused(monkeypatch):
    monkeypatch.setattr(ray_cluster, "STRANGER", "import sys; print('GCS timed out', file=sys.stderr); sys.exit(1)")
    with pytest.raises(ConfigError, match=r"could not ask the cluster whether it requires a token \(GCS timed out\)"):
        ray_cluster.refuses_strangers("10.0.0.1:6379")
    monkeypatch.setattr(ray_cluster, "STRANGER", "import os, sys; sys.exit(3 if 'RAY_AUTH_TOKEN' not in os.environ "
                                                "and os.environ['RAY_AUTH_MODE'] == 'disabled' else 0)")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "the worker's own")
    assert ray_cluster.refuses_strangers("10.0.0.1:6379")  # asked with no token, whatever the worker holds


def test_a_ray_worker_that_loses_the_head_marks_its_runs_interrupted_then_exits(store, monkeypatch, tiny_corpus_csv):
    run_id = store.create_run(RunConfig(corpus=str(tiny_corpus_csv), device="cpu"))
    store.claim_run(run_id, None, services.RAY_DEVICE, host=hostname())
    launcher = ray_launcher.RayLauncher.__new__(ray_launcher.RayLauncher)  # no cluster: what watch_head reads, alone
    launcher.gcs, launcher.head_silent_since, launcher.children = ("127.0.0.1", 9), None, {run_id: None}
    worker_id = store.register_worker(os.getpid(), services.RAY_DEVICE)
    exits = []
    monkeypatch.setattr(ray_launcher.os, "_exit", exits.append)
    monkeypatch.setattr(ray_launcher.logging, "shutdown", lambda: None)
    launcher.watch_head(store, worker_id)  # nothing listens on port 9: silent, not yet for long
    assert exits == [] and store.get_run(run_id)["status"] == "running"
    launcher.head_silent_since -= ray_launcher.HEAD_LOST_SECONDS
    launcher.watch_head(store, worker_id)
    assert exits == [1] and store.get_worker(worker_id)["state"] == "stopped"
    run = store.get_run(run_id)
    assert run["status"] == "interrupted" and "(GCS at 127.0.0.1:9) stopped answering" in run["error"]


def test_nothing_of_ray_is_loaded_on_the_default_path():
    code = ("import sys, topicbert.cli, topicbert.runs.worker, topicbert.runs.launchers, topicbert.runs.ray, "
            "topicbert.runs.services, topicbert.studio.runs_table; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)


def test_ray_mistakes_are_said_in_one_line_and_nothing_is_written(store, monkeypatch, capsys):
    began = time.monotonic()
    assert cli.main(["worker", "--ray", "127.0.0.1:9"]) == 2  # nothing listens on port 9
    assert "no Ray cluster answers at" in capsys.readouterr().err and time.monotonic() - began < 30
    assert cli.main(["worker", "--ray", "--gpus", "0"]) == 2
    assert "on Ray each run asks the cluster for its GPUs" in capsys.readouterr().err
    monkeypatch.delitem(sys.modules, "topicbert.runs.ray.launcher")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert cli.main(["worker", "--ray"]) == 2
    assert "--ray needs Ray, which is not installed here" in capsys.readouterr().err
    assert store.alive_workers() == [] and store.list_runs() == []


# ---------------------------------------------------------------- on a test cluster

TOKEN_SETTINGS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
# a driver without the token tries what the ShadowRay attacks did: run code on the cluster, read the store
STRANGER = ("import sys, ray\n"
            "try:\n"
            "    ray.init(address=sys.argv[1], logging_level='ERROR')\n"
            "except (ConnectionError, ray.exceptions.AuthenticationError) as error:\n"
            "    print(type(error).__name__, error)\n"
            "    sys.exit(3)\n"
            "print(ray.get(ray.remote(lambda path: open(path, 'rb').read(16)).remote(sys.argv[2])))\n")


def reset_ray_auth() -> None:
    """Ray reads its authentication settings once per process: read them anew."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture
def ray_token():
    """Token authentication on, as the README starts a cluster: for this process and for every node and
    worker it starts (they inherit the environment)."""
    saved = {name: os.environ.get(name) for name in TOKEN_SETTINGS}
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    reset_ray_auth()
    try:
        yield os.environ["RAY_AUTH_TOKEN"]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_ray_auth()


def as_stranger(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that has no token (nor a ~/.ray/auth_token)."""
    env = {name: value for name, value in os.environ.items() if name not in TOKEN_SETTINGS}
    (tmp_path / "stranger").mkdir(exist_ok=True)
    # one try to reach the GCS, not Ray's 20 (about a second each): it is refused at the first
    return dict(env, RAY_AUTH_MODE="disabled", HOME=str(tmp_path / "stranger"), PYTHONPATH=str(ROOT),
                RAY_gcs_server_port_wait_time_s="1")

@pytest.mark.slow
def test_a_worker_refuses_a_cluster_that_asks_for_no_token_unless_told_insecure(store, tmp_path, capsys):
    port = helpers.free_port()
    env = as_stranger(tmp_path)  # a head started as the README's used to be: no token
    head = subprocess.Popen(["ray", "start", "--head", "--block", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard", "false", "--disable-usage-stats"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        helpers.wait_for(lambda: helpers.listening(port), "the head to listen", timeout=60, every=0.2,
                         give_up=helpers.ended(head, "the head"))
        assert cli.main(["worker", "--ray", f"127.0.0.1:{port}", "--exit-when-idle"]) == 2
        error = capsys.readouterr().err
        assert "lets anyone who reaches it run code (no token authentication)" in error
        assert "RAY_AUTH_MODE=token" in error and "--insecure" in error and len(error.strip().splitlines()) == 1
        assert store.alive_workers() == [] and not ray.is_initialized()
        home = dict(env, TOPICBERT_HOME=str(store.path.parent))
        insecure = subprocess.run([sys.executable, "-m", "topicbert", "worker", "--ray", f"127.0.0.1:{port}",
                                   "--insecure", "--exit-when-idle"], env=home, capture_output=True, text=True,
                                  timeout=180)
        assert insecure.returncode == 0, insecure.stderr[-3000:]
        assert "asks for no token: anyone who reaches its ports can run code" in insecure.stderr
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops the node's processes as it ends
        head.wait(timeout=60)
    assert cli.main(["worker", "--insecure"]) == 2 and "--insecure is for --ray" in capsys.readouterr().err


def wait_for(condition, what: str, worker: subprocess.Popen, timeout: float = 240.0):
    """helpers.wait_for, failing at once if the worker ends meanwhile."""
    return helpers.wait_for(condition, what, timeout, every=0.2, give_up=helpers.ended(worker, "the worker"))


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
def test_a_sweep_a_dead_node_a_resume_and_a_cancel_on_a_ray_cluster(store, tiny_config, tmp_path, ray_token):
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "num_gpus": 0, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
    # more CPUs than GPUs: only the runs' GPU requests keep a node to its GPU count
    two, one = (cluster.add_node(num_cpus=3, num_gpus=gpus, object_store_memory=OBJECT_STORE_BYTES) for gpus in (2, 1))
    nodes, gpus_of = {two.node_id: two, one.node_id: one}, {two.node_id: 2, one.node_id: 1}
    cluster.wait_for_nodes()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    with open(tmp_path / "worker.log", "wb") as log:  # the worker writes to its own copy of the descriptor
        worker = subprocess.Popen([sys.executable, "-m", "topicbert", "worker", "--ray", cluster.address, "--poll",
                                   "0.2"], env=env, stdout=subprocess.DEVNULL, stderr=log)
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
        # each one's LDA reference, filed under the key the head computed
        assert all(run["topic_reference"] and store.get_topic_reference(run["topic_reference"]) for run in runs)

        # a driver without the token runs nothing and reads nothing
        began = time.monotonic()
        stranger = subprocess.run([sys.executable, "-c", STRANGER, cluster.address, str(store.path)],
                                  env=as_stranger(tmp_path), capture_output=True, text=True, timeout=120)
        assert stranger.returncode == 3, stranger.stdout + stranger.stderr[-2000:]
        assert "Unauthenticated" in stranger.stderr  # turned away for want of the token, not for lack of a cluster
        print(f"a driver without the token refused in {time.monotonic() - began:.1f} s: {stranger.stdout[:200]}")

        # a node dies in the middle of a run
        long = services.submit_run(store, config.replace(seed=4, epochs=6, eval_every_steps=3))[0]
        first = wait_for(lambda: (run := store.get_run(long))["checkpoint_step"]
                         and run["checkpoint_step"] >= 6 and run,
                         "the long run's second checkpoint", worker)
        evaluations = len(store.metrics_table(long))
        cluster.remove_node(nodes[first["node"]])
        began = time.monotonic()
        interrupted = wait_for(lambda: (run := store.get_run(long))["status"] != "running" and run, "the interruption",
                               worker, timeout=60)
        print(f"node killed: the run interrupted {time.monotonic() - began:.1f} s later, "
              f"{len(store.metrics_table(long))} of {evaluations} evaluations kept")
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
        assert all(a["kwh"] <= b["kwh"] for a, b in pairwise(energy))  # cumulative over both attempts
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


def store_service_process(cluster: Cluster) -> psutil.Process:
    """The StoreService actor's process: a worker process of one of this cluster's raylets."""
    raylets = [node.all_processes["raylet"][0].process.pid for node in [cluster.head_node, *cluster.worker_nodes]]
    for raylet in raylets:
        for process in psutil.Process(raylet).children(recursive=True):
            if " ".join(process.cmdline()).startswith("ray::StoreService"):
                return process
    raise AssertionError("no StoreService process in this cluster")


def start_ray_worker(address: str, log: Path, poll: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "topicbert", "worker", "--ray", address, "--poll", str(poll)],
                            env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"),
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))


@pytest.mark.slow
def test_faults_on_a_ray_cluster_leave_runs_interrupted_and_resumable(store, tiny_config, tmp_path, ray_token):
    """One run, long enough to be in flight through each fault in turn, on a one-GPU node: cancel and
    resume within one look at the queue, the store's service killed, the worker stopped with SIGTERM, then
    SIGKILLed, the head's GCS killed. After each the store tells the truth within seconds, and every
    evaluation it recorded is kept (printed: BENCHMARKS.md's "Faults survived")."""
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "num_gpus": 0, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
    cluster.add_node(num_cpus=2, num_gpus=1, object_store_memory=OBJECT_STORE_BYTES)
    cluster.wait_for_nodes()
    log = tmp_path / "worker.log"
    worker = start_ray_worker(cluster.address, log, poll=2.0)  # a long poll: cancel and resume fit inside one
    run_id = services.submit_run(store, tiny_config.replace(device="auto", epochs=3000, eval_every_steps=50))[0]
    found = {}

    def stepping(since: float):
        """The run's attempt that began after `since` is stepping."""
        return lambda: (run := store.get_run(run_id))["status"] == "running" and (
            run["attempt_started_at"] or 0) > since and run["step"] > (run["attempt_step"] or 0)

    def interrupted():
        return store.get_run(run_id)["status"] == "interrupted"

    def record(fault: str, began: float, evaluations: int, why: str) -> None:
        """Seconds from `began` (time.time()) to now; the run's error says `why`; every evaluation kept."""
        run = store.get_run(run_id)
        assert run["status"] == "interrupted" and why in run["error"], run["error"]
        kept = len(store.metrics_table(run_id))
        assert kept >= evaluations
        found[fault] = {"seconds": round(time.time() - began, 1), "evaluations before": evaluations, "after": kept}

    def resume() -> None:
        began = time.time()
        assert services.resume_run(store, run_id)
        wait_for(stepping(began), "the run to step again", worker, timeout=120)

    try:
        wait_for(stepping(0), "the run to step", worker)
        # cancel, then resume, between two looks at the queue: the old task goes before the new one is sent
        began = time.time()
        assert services.cancel_run(store, run_id) and services.resume_run(store, run_id)
        wait_for(stepping(began), "the resumed attempt to step on the one GPU", worker, timeout=60)
        found["cancel and resume"] = {"seconds to the new attempt's first steps": round(time.time() - began, 1)}
        assert "run 1: its task cancelled (the run is queued)" in log.read_text()

        # the store's service killed: the run in flight ends interrupted, a new service serves the next attempt
        wait_for(lambda: store.get_run(run_id)["checkpoint_step"], "a checkpoint", worker)
        evaluations, began = len(store.metrics_table(run_id)), time.time()
        store_service_process(cluster).kill()
        wait_for(interrupted, "the run interrupted with the service", worker, timeout=60)
        record("store service killed", began, evaluations, "the store's service on the head died")
        resume()

        # the worker stopped with SIGTERM: it marks its run interrupted as it goes
        evaluations, began = len(store.metrics_table(run_id)), time.time()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        record("worker SIGTERM", began, evaluations, "the Ray worker stopped")
        worker = start_ray_worker(cluster.address, log, poll=0.5)
        resume()

        # the worker SIGKILLed: the next worker's first look tells its run interrupted
        evaluations = len(store.metrics_table(run_id))
        worker.kill()
        worker.wait()
        worker = start_ray_worker(cluster.address, log, poll=0.5)
        wait_for(interrupted, "the dead worker's run interrupted", worker, timeout=120)
        # from the new worker's start (its row: Ray joined, recovery about to look) to the truth in the store
        record("worker SIGKILL", max(row["started_at"] for row in store.alive_workers()), evaluations,
               "its Ray worker stopped")
        assert found["worker SIGKILL"]["seconds"] < 10, found
        resume()

        # the head's GCS killed: the worker marks its run interrupted, then exits, before Ray would end it
        evaluations, began = len(store.metrics_table(run_id)), time.time()
        cluster.head_node.kill_gcs_server()
        assert worker.wait(timeout=45) == 1
        record("GCS killed", began, evaluations, "stopped answering")
        assert store.integrity_check() == "ok" and store.list_runs("running") == []
        print("faults survived:", json.dumps(found))
    finally:
        worker.kill()
        worker.wait()
        cluster.shutdown()
