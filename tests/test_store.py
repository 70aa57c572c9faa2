"""The SQLite store: migrations, atomic claims, concurrent writers, and what each table keeps."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from topicbert.config import RunConfig
from topicbert.paths import DEFAULT_HOME, home
from topicbert.runs.store import MIGRATIONS, Store

ROOT = Path(__file__).resolve().parents[1]


def config(**changes) -> RunConfig:
    return RunConfig(corpus="tiny.csv", device="cpu").replace(**changes)


def run_processes(code: str, n: int, home_dir: Path) -> list[str]:
    """Run n Python processes on the same database, their bodies starting together."""
    env = dict(os.environ, TOPICBERT_HOME=str(home_dir), PYTHONPATH=str(ROOT))
    barrier = home_dir / "barrier"
    barrier.mkdir(parents=True, exist_ok=True)
    # a barrier after the imports, so the bodies really overlap
    start = (f"import pathlib, sys, time, topicbert.runs.store\nb = pathlib.Path({str(barrier)!r})\n"
             f"(b / sys.argv[1]).touch()\nwhile len(list(b.iterdir())) < {n}: time.sleep(0.01)\n")
    procs = [subprocess.Popen([sys.executable, "-c", start + textwrap.dedent(code), str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


def test_home_defaults_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "h"))
    assert home() == tmp_path / "h" and home().is_dir()
    with Store() as s:
        assert s.path == tmp_path / "h" / "topicbert.db"
    assert DEFAULT_HOME == Path.home() / ".topicbert"  # unset: a folder in the user's home


def test_migrations_recorded_once_and_idempotent(store):
    assert [m["id"] for m in store.applied_migrations()] == [n for n, _, _ in MIGRATIONS]
    assert store.migrate() == []
    with Store(store.path) as again:  # a second opening applies nothing
        assert len(again.applied_migrations()) == len(MIGRATIONS)
    tables = set(store.db.table_names())
    assert {"migrations", "corpora", "runs", "metrics", "energy", "topics", "workers"} <= tables
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_first_open_applies_migrations_once(tmp_path):
    run_processes("from topicbert.runs.store import Store\nStore().close()\n", 4, tmp_path / "h")
    with Store(tmp_path / "h" / "topicbert.db") as s:
        assert len(s.applied_migrations()) == len(MIGRATIONS)


def test_run_lifecycle(store):
    run_id = store.create_run(config())
    run = store.get_run(run_id)
    assert run["status"] == "queued" and run["name"] == "TopicBERT-128"
    assert RunConfig.from_dict(run["config"]) == config()
    assert run["run_dir"].endswith(f"runs/{run_id}") and run["log_path"].endswith("run.log")
    assert RunConfig.from_json((Path(run["run_dir"]) / "config.json").read_text()) == config()

    claimed = store.claim_next_run(worker_id=7, device="cpu", host="h")
    assert claimed["id"] == run_id and claimed["status"] == "running" and claimed["worker_id"] == 7
    assert store.claim_next_run(worker_id=7, device="cpu", host="h") is None
    store.set_process(run_id, 123, 123)
    store.set_progress(run_id, 5, 20)
    assert store.finish_run(run_id, "done")
    assert not store.finish_run(run_id, "failed")  # only a running run can end
    assert store.get_run(run_id)["status"] == "done"
    assert not store.requeue(run_id)  # a finished run is not resumed


def test_claim_respects_device_and_parallel_limit(store):
    cuda_run = store.create_run(config(device="cuda"))
    cpu_runs = [store.create_run(config()) for _ in range(2)]
    assert store.claim_next_run(1, "cpu", host="h")["id"] == cpu_runs[0]
    assert store.claim_next_run(1, "cpu", host="h") is None  # one run at a time on this device
    assert store.claim_next_run(1, "cpu", host="h", max_running=2)["id"] == cpu_runs[1]
    assert store.claim_next_run(2, "cpu", host="other") is None  # a cpu worker never takes a cuda run
    assert store.claim_next_run(3, "cuda", host="h")["id"] == cuda_run


def test_cancel_and_requeue(store):
    queued, running = store.create_run(config()), store.create_run(config())
    store.claim_run(running, None, "cpu")
    assert store.cancel(queued)["status"] == "queued"
    assert store.cancel(running)["status"] == "running"
    assert store.cancel(running) is None  # already cancelled
    assert store.requeue(running)
    row = store.get_run(running)
    assert row["status"] == "queued" and row["resume"] is True and row["error"] is None


def test_metrics_energy_topics_and_truncation(store):
    run_id = store.create_run(config())
    for step, f1 in [(10, 0.5), (20, 0.7), (30, 0.6)]:
        store.add_metrics(run_id, step, step / 10, step * 1.5, {"val_macro_f1": f1, "val_loss": 1 / step})
        store.add_energy(run_id, step, step / 10, step * 1.5, {"kwh": step / 1000, "kg_co2e": step / 2000,
                                                                  "codecarbon": {"duration": step}})
    assert [r["step"] for r in store.list_metrics(run_id, "val_macro_f1")] == [10, 20, 30]
    assert store.metrics_table(run_id)[1] == {"step": 20, "epoch": 2.0, "wall_seconds": 30.0,
                                              "val_loss": 1 / 20, "val_macro_f1": 0.7}
    assert store.best_evaluation(run_id)["step"] == 20
    frame = store.metrics_frame([run_id])
    assert len(frame) == 6 and set(frame["run_name"]) == {"TopicBERT-128"}
    assert store.last_energy(run_id)["codecarbon"] == {"duration": 30}
    store.set_topics(run_id, [[("goal", 1.5), ("team", 1.2)], [("bank", 2.0)]])
    assert store.get_topics(run_id) == [[("goal", 1.5), ("team", 1.2)], [("bank", 2.0)]]
    overview = store.run_overview(run_id)[0]
    assert overview["val_macro_f1"] == 0.7 and overview["kwh"] == pytest.approx(0.03)

    store.truncate_history(run_id, after_step=20)  # a resume from the step-20 checkpoint
    assert [r["step"] for r in store.list_metrics(run_id, "val_macro_f1")] == [10, 20]
    assert [r["step"] for r in store.list_energy(run_id)] == [10, 20]
    assert store.get_topics(run_id) == []
    store.add_energy(run_id, 0, 0.0, 4.0, {"kwh": 0.001, "kg_co2e": 0.0005})  # pretraining's end
    store.truncate_history(run_id, after_step=-1)  # a run that starts afresh
    assert store.list_energy(run_id) == [] and store.list_metrics(run_id) == []


def test_corpora(store):
    corpus_id = store.add_corpus("bbc", "bbc.zip", 2225, 5, {"sport": 511}, None)
    store.set_corpus_path(corpus_id, str(store.corpus_file(corpus_id)))
    row = store.get_corpus(corpus_id)
    assert row["counts"] == {"sport": 511} and row["path"].endswith(f"corpora/{corpus_id}.jsonl")
    assert store.find_corpus("bbc")["id"] == corpus_id == store.find_corpus(row["path"])["id"]
    run_id = store.create_run(config(corpus="bbc"), corpus_id)
    assert store.corpus_runs(corpus_id) == [run_id]
    assert not store.delete_corpus(corpus_id)  # a queued run still reads it
    store.cancel(run_id)
    assert store.delete_corpus(corpus_id) and not store.delete_corpus(corpus_id)
    assert store.list_corpora() == [] and store.get_run(run_id)["corpus_id"] is None
    # its id is never given again: a run of the deleted corpus never reads a newer one's file
    assert store.add_corpus("newer", "x.csv", 10, 2, {}) == corpus_id + 1


def test_deleted_runs_go_whole_and_their_ids_never_come_back(store):
    first, second = store.create_run(config()), store.create_run(config())
    store.add_metrics(second, 5, 0.5, 1.0, {"val_macro_f1": 0.5})
    store.add_energy(second, 5, 0.5, 1.0, {"kwh": 0.1})
    store.set_topics(second, [[("goal", 1.0)]])
    store.set_paired(first, second)
    assert not store.delete_run(second)  # queued: cancel it first
    store.cancel(second)
    assert store.delete_run(second) and store.get_run(second) is None
    assert store.list_metrics(second) == [] and store.list_energy(second) == [] and store.get_topics(second) == []
    assert store.get_run(first)["paired_run_id"] is None
    assert store.create_run(config()) == second + 1  # the highest id was deleted, and still not reused
    assert store.integrity_check() == "ok"


def test_workers(store):
    worker_id = store.register_worker(os.getpid(), "cpu")
    assert [w["id"] for w in store.alive_workers()] == [worker_id]
    assert store.reserve_worker_start(max_age=15) is None  # one is alive: start none
    store.update_worker(worker_id, "stopped")
    assert store.alive_workers() == []
    reserved = store.reserve_worker_start(max_age=15)
    assert reserved is not None and store.reserve_worker_start(max_age=15) is None


def test_racing_claimers_never_claim_a_run_twice(store):
    run_ids = {store.create_run(config()) for _ in range(120)}
    outputs = run_processes("""
        import json, sys, time
        from topicbert.runs.store import Store
        me = int(sys.argv[1])
        claimed = []
        with Store() as store:
            while (run := store.claim_next_run(me, "cpu", host=f"host{me}", max_running=10**6)) is not None:
                claimed.append(run["id"])
                time.sleep(0.005)  # as a worker does between claims: the others get their turn
        print(json.dumps(claimed))
    """, 4, store.path.parent)
    claims = [json.loads(out) for out in outputs]
    every = [run_id for ids in claims for run_id in ids]
    assert len(every) == len(set(every)) and set(every) == run_ids
    assert sum(1 for ids in claims if ids) >= 2  # they did race


def test_concurrent_writers_never_hit_locked(store):
    run_ids = [store.create_run(config()) for _ in range(4)]
    run_processes(f"""
        import sys
        from topicbert.runs.store import Store
        run_id = {run_ids}[int(sys.argv[1])]
        with Store() as store:
            for step in range(1, 81):
                store.add_metrics(run_id, step, step / 10, float(step), {{"val_macro_f1": 0.5, "val_loss": 1.0}})
                store.set_progress(run_id, step, 80)
                store.heartbeat_run(run_id)
                store.add_energy(run_id, step, step / 10, float(step), {{"kwh": step / 1e3}})
        print("ok")
    """, 4, store.path.parent)
    for run_id in run_ids:
        assert len(store.list_metrics(run_id)) == 160 and len(store.list_energy(run_id)) == 80
        assert store.get_run(run_id)["step"] == 80
