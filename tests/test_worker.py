"""The queue: worker, runner callbacks, cancel, recovery, resume, and the services around them."""
from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pandas as pd
import psutil
import pytest

from topicbert.training.checkpoints import Checkpoints
from topicbert.training.loop import train
from topicbert import cli
from topicbert.runs import processes, runner, services, worker
from topicbert.config import RunConfig
from topicbert.runs.store import Store, hostname
from topicbert.studio import frames

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TOPICBERT_DEVICE", "cpu")  # no torch import to find the device
    with Store() as s:
        yield s


def config(**changes) -> RunConfig:
    return RunConfig(corpus="tiny.csv", device="cpu").replace(**changes)


def wait_for(condition, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def group_alive(pgid: int) -> list[psutil.Process]:
    return processes._group_members({pgid})


# ---------------------------------------------------------------- cancel

def test_cancel_kills_the_whole_process_group(store):
    run_id = store.create_run(config())
    store.claim_next_run(None, "cpu", hostname())
    # a leader, two children, and one that ignores SIGTERM (it needs the SIGKILL)
    script = ("sleep 300 & sleep 300 & "
              f"{sys.executable} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "time.sleep(300)' & wait")
    leader = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    store.set_process(run_id, leader.pid, leader.pid)
    wait_for(lambda: len(group_alive(leader.pid)) == 4)

    began = time.monotonic()
    assert services.cancel_run(store, run_id, grace=1.0)
    assert group_alive(leader.pid) == []
    assert time.monotonic() - began < 6.0
    leader.wait(timeout=5)
    assert store.get_run(run_id)["status"] == "cancelled"
    assert not services.cancel_run(store, run_id)  # nothing left to cancel


def test_cancel_of_a_queued_run_and_resume(store):
    run_id = store.create_run(config())
    assert services.cancel_run(store, run_id)
    assert store.get_run(run_id)["status"] == "cancelled"
    assert services.resume_run(store, run_id)
    assert store.get_run(run_id)["status"] == "queued" and store.get_run(run_id)["resume"]
    assert not services.resume_run(store, run_id)  # queued already


# ---------------------------------------------------------------- worker

def fake_runner(monkeypatch, code: str) -> None:
    monkeypatch.setattr(worker, "runner_command", lambda run_id, nproc: [sys.executable, "-c", code])


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


def test_worker_kills_a_run_cancelled_elsewhere(store, monkeypatch):
    fake_runner(monkeypatch, "import time; time.sleep(300)")
    run_id = store.create_run(config())
    w = worker.Worker(store, device="cpu")
    w.claim()
    pid = store.get_run(run_id)["pid"]
    store.cancel(run_id)  # as another host would: status only
    w.enforce_cancels()
    w.reap()
    assert not processes.process_alive(pid) and w.children == {}
    assert store.get_run(run_id)["status"] == "cancelled"


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


# ---------------------------------------------------------------- runner callbacks (fake training)

def fake_result(cfg: RunConfig, topics=None):
    summary = {"name": cfg.name, "test_macro_f1": 0.8, "val_macro_f1": 0.75}
    details = dict(summary, per_class={"a": {"f1": 0.8}}, confusion=[[1]], classes=["a"])
    return types.SimpleNamespace(config=cfg, summary=lambda: dict(summary), details=lambda: dict(details),
                                 topics=topics, topic_quality=None, train_seconds=40.0)


def fake_training(monkeypatch, plan):
    """Replace the runner's train() with one that replays `plan(callbacks, resume)`; no corpus is read."""
    monkeypatch.setattr(runner, "cache_word_pieces", lambda cfg: None)
    monkeypatch.setattr(runner, "train",
                        lambda cfg, run_dir, callbacks=(), resume=False: plan(cfg, list(callbacks), resume))


def evaluate(callbacks, step, f1, spe=10):
    for cb in callbacks:
        cb.on_step(step, 20)
        cb.on_evaluate(step, step / spe, step * 2.0, {"val_macro_f1": f1, "val_micro_f1": f1, "val_loss": 1.0,
                                                      "train_loss": 1.0})
        cb.on_checkpoint(step, step / spe, Path("checkpoint"))


def end(callbacks, result, n_test=20, classify_seconds=0.0):
    """What the loop does once the steps are over: training ends, the test documents are classified
    (`classify_seconds` long), the end."""
    for cb in callbacks:
        cb.on_trained(result.train_seconds)
    time.sleep(classify_seconds)
    for cb in callbacks:
        cb.on_tested(n_test)
        cb.on_end(result)


def start(callbacks, start_step):
    for cb in callbacks:
        cb.on_start({"device": "cpu", "start_step": start_step, "total_steps": 20, "steps_per_epoch": 10,
                     "start_epoch": start_step / 10, "classes": ["a"], "n_train": 1, "n_val": 1, "n_test": 1})


def claim(store, run_id):
    assert store.claim_next_run(None, "cpu", hostname())["id"] == run_id


def test_runner_records_progress_metrics_energy_topics_and_end(store, monkeypatch):
    def plan(cfg, callbacks, resume):
        start(callbacks, 0)
        for cb in callbacks:
            cb.on_pretrained(3.5)
        evaluate(callbacks, 10, 0.6)
        evaluate(callbacks, 20, 0.7)
        result = fake_result(cfg, topics=[[("goal", 2.0), ("team", 1.0)]])
        end(callbacks, result, classify_seconds=0.2)
        return result
    fake_training(monkeypatch, plan)
    run_id = store.create_run(config())
    claim(store, run_id)
    assert runner.execute(store, run_id, config(), Path(store.get_run(run_id)["run_dir"]), resume=False) == 0
    run = store.get_run(run_id)
    assert run["status"] == "done" and run["step"] == 20 and run["total_steps"] == 20
    assert run["best_metrics"]["step"] == 20 and run["final_metrics"]["test_macro_f1"] == 0.8
    assert run["checkpoint_step"] == 20 and "measured" in run["energy_info"]
    assert [r["step"] for r in store.list_metrics(run_id, "val_macro_f1")] == [10, 20]
    energy = store.list_energy(run_id)
    # pretraining's end, each evaluation, then the end of training (before the test pass)
    assert [(e["step"], e["wall_seconds"]) for e in energy] == [(0, 3.5), (10, 20.0), (20, 40.0), (20, 40.0)]
    assert all(a["kwh"] <= b["kwh"] for a, b in zip(energy, energy[1:]))
    assert run["pretrained_seconds"] == 3.5
    assert store.get_topics(run_id) == [[("goal", 2.0), ("team", 1.0)]]
    # what classifying cost, metered from the end of training; how busy the machine was meanwhile
    assert run["inference"]["documents"] == 20 and run["inference"]["seconds"] >= 0.2
    assert run["inference"]["kwh"] > 0 and run["inference"]["kg_co2e"] > 0
    load = run["machine_load"]
    assert load["samples"] >= 1 and load["cores"] >= 1 and load["others_mean"] >= 0 and load["own_mean"] >= 0


def test_runner_records_a_raising_run_as_failed(store, monkeypatch):
    def plan(cfg, callbacks, resume):
        start(callbacks, 0)
        raise ValueError("no column 'label' in tiny.csv")
    fake_training(monkeypatch, plan)
    run_id = store.create_run(config())
    claim(store, run_id)
    assert runner.execute(store, run_id, config(), Path(store.get_run(run_id)["run_dir"]), resume=False) == 1
    run = store.get_run(run_id)
    assert run["status"] == "failed" and "ValueError: no column 'label' in tiny.csv" in run["error"]
    assert "Traceback" in run["error"]


def test_resumed_run_continues_its_curves(store, monkeypatch):
    def first(cfg, callbacks, resume):
        start(callbacks, 0)
        evaluate(callbacks, 5, 0.5)
        evaluate(callbacks, 10, 0.6)
        for cb in callbacks:  # evaluated at 15, then died before the checkpoint
            cb.on_evaluate(15, 1.5, 30.0, {"val_macro_f1": 0.9, "val_micro_f1": 0.9, "val_loss": 1.0,
                                           "train_loss": 1.0})
        raise RuntimeError("killed")
    fake_training(monkeypatch, first)
    run_id = store.create_run(config())
    claim(store, run_id)
    assert runner.execute(store, run_id, config(), Path(store.get_run(run_id)["run_dir"]), resume=False) == 1
    assert services.resume_run(store, run_id)

    def second(cfg, callbacks, resume):
        assert resume
        start(callbacks, 10)  # the checkpoint's step
        evaluate(callbacks, 15, 0.65)
        evaluate(callbacks, 20, 0.7)
        result = fake_result(cfg)
        end(callbacks, result)
    fake_training(monkeypatch, second)
    claim(store, run_id)
    run = store.get_run(run_id)
    assert runner.execute(store, run_id, config(), Path(run["run_dir"]), resume=run["resume"]) == 0
    f1 = store.list_metrics(run_id, "val_macro_f1")
    assert [(m["step"], m["value"]) for m in f1] == [(5, 0.5), (10, 0.6), (15, 0.65), (20, 0.7)]
    assert store.get_run(run_id)["best_metrics"]["step"] == 20  # the lost 0.9 at step 15 is forgotten
    energy = store.list_energy(run_id)
    assert [e["step"] for e in energy] == [5, 10, 15, 20, 20]
    assert all(a["kwh"] <= b["kwh"] for a, b in zip(energy, energy[1:]))  # cumulative over both attempts
    # a test pass quicker than the meter's resolution: its time, and no energy rather than 0 kWh
    inference = store.get_run(run_id)["inference"]
    assert inference["seconds"] < 0.05 and inference["kwh"] is None


# ---------------------------------------------------------------- services and the command line

def test_submit_pairs_a_bert_512_baseline(store):
    cfg = config(max_len=128, limit_train=50, split_col="split", seed=7, epochs=2, model="tiny")
    tb_id, base_id = services.submit_run(store, cfg, pair_baseline=True)
    assert store.get_run(tb_id)["paired_run_id"] == base_id
    baseline = RunConfig.from_dict(store.get_run(base_id)["config"])
    assert baseline == cfg.replace(variant="bert", max_len=512, mode="truncate")
    assert baseline.name == "BERT-512"
    assert services.submit_run(store, cfg) == [base_id + 1]
    with pytest.raises(ValueError):
        services.submit_run(store, baseline, pair_baseline=True)


def test_submit_several_seeds_each_with_its_baselines(store, capsys):
    assert cli.main(["submit", "--corpus", "tiny.csv", "--seed", "7", "--seeds", "3", "--pair-baseline",
                     "--device", "cpu"]) == 0
    runs = sorted(store.list_runs(), key=lambda run: run["id"])
    assert [(run["name"], run["config"]["seed"]) for run in runs] == [
        ("TopicBERT-128", 7), ("BERT-512", 7), ("TopicBERT-128", 8), ("BERT-512", 8), ("TopicBERT-128", 9),
        ("BERT-512", 9)]
    assert all(runs[i]["paired_run_id"] == runs[i + 1]["id"] for i in (0, 2, 4))
    assert cli.main(["submit", "--corpus", "tiny.csv", "--seeds", "0"]) == 2
    assert "seeds must be at least 1" in capsys.readouterr().err and len(store.list_runs()) == 6


def test_submit_with_baselines_queues_bert_512_and_the_tfidf_reference(store):
    cfg = config(max_len=128, limit_train=50, seed=7, model="tiny")
    assert services.baselines_for(cfg) == {"pair_baseline": True, "tfidf_reference": True}
    run_id, base_id, tfidf_id = services.submit_run(store, cfg, **services.baselines_for(cfg))
    tfidf = store.get_run(tfidf_id)
    assert tfidf["name"] == "TF-IDF" and tfidf["paired_run_id"] == base_id == store.get_run(run_id)["paired_run_id"]
    assert RunConfig.from_dict(tfidf["config"]).test_set == cfg.test_set  # tested on the same documents
    # BERT-512 itself gets only the reference; the reference gets nothing; without a baseline it joins the run
    bert512 = cfg.replace(variant="bert", max_len=512)
    assert services.baselines_for(bert512) == {"pair_baseline": False, "tfidf_reference": True}
    assert services.baselines_for(cfg.replace(variant="tfidf")) == {"pair_baseline": False, "tfidf_reference": False}
    alone, reference = services.submit_run(store, bert512, tfidf_reference=True)
    assert store.get_run(reference)["paired_run_id"] == alone
    with pytest.raises(ValueError, match="already the TF-IDF reference"):
        services.submit_run(store, cfg.replace(variant="tfidf"), tfidf_reference=True)


def test_export_writes_metrics_and_codecarbon_columns(store, tmp_path):
    from codecarbon.output_methods.emissions_data import EmissionsData
    import dataclasses

    run_id = store.create_run(config())
    store.add_metrics(run_id, 10, 1.0, 20.0, {"val_macro_f1": 0.6, "val_loss": 0.9})
    store.add_energy(run_id, 10, 1.0, 20.0, {"duration_s": 25.0, "kwh": 0.002, "kg_co2e": 0.001, "cpu_kwh": 0.001,
                                             "gpu_kwh": 0.0, "ram_kwh": 0.001, "cpu_power_w": 5.0,
                                             "gpu_power_w": 0.0, "ram_power_w": 3.0, "country": "USA",
                                             "country_name": "United States", "codecarbon": {"os": "Linux"}})
    metrics_path, emissions_path = services.export_run(store, run_id, tmp_path / "out")
    with metrics_path.open() as f:
        assert list(csv.DictReader(f)) == [{"step": "10", "epoch": "1.0", "wall_seconds": "20.0",
                                            "val_loss": "0.9", "val_macro_f1": "0.6"}]
    with emissions_path.open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == [field.name for field in dataclasses.fields(EmissionsData)]
    assert rows[0]["energy_consumed"] == "0.002" and rows[0]["emissions_rate"] == str(0.001 / 25.0)
    assert rows[0]["country_iso_code"] == "USA" and rows[0]["run_id"] == str(run_id) and rows[0]["os"] == "Linux"


def test_status_line_starts_with_the_id(store):
    run_id = store.create_run(config())
    store.set_progress(run_id, 5, 20)
    store.add_metrics(run_id, 5, 0.5, 3.0, {"val_macro_f1": 0.61234})
    line = services.format_status(store.run_overview(run_id)[0])
    assert line.split()[:3] == [str(run_id), "queued", "TopicBERT-128"]
    assert "step 5/20 (25%)" in line and "0.6123" in line


def test_queue_commands_parse():
    parser = cli.build_parser()
    args = parser.parse_args(["submit", "--corpus", "x.csv", "--pair-baseline", "--max-len", "256"])
    assert args.handler is cli.cmd_submit and args.pair_baseline and args.max_len == 256 and not args.tfidf_reference
    args = parser.parse_args(["submit", "--corpus", "x.csv", "--variant", "tfidf", "--patience", "2"])
    assert cli.config_from_args(args).name == "TF-IDF" and cli.config_from_args(args).early_stopping_patience == 2
    assert parser.parse_args(["worker", "--exit-when-idle"]).exit_when_idle
    assert parser.parse_args(["status"]).run_id is None
    assert parser.parse_args(["cancel", "3"]).run_id == 3
    assert parser.parse_args(["export", "3", "--out", "d"]).out == "d"
    assert parser.parse_args(["runner", "7", "--resume"]).handler is cli.cmd_runner


def test_command_line_round_trip(store, capsys, tmp_path):
    assert cli.cmd_submit(_submit_args(tmp_path)) == 0
    out = capsys.readouterr().out.split("\n")
    run_id = int(out[0].split("\t")[0])
    assert cli.cmd_status(argparse.Namespace(run_id=None, limit=10)) == 0
    assert capsys.readouterr().out.startswith(f"{run_id + 1:>4}  queued")  # newest first: the baseline
    assert cli.cmd_cancel(argparse.Namespace(run_id=run_id)) == 0
    assert cli.cmd_cancel(argparse.Namespace(run_id=run_id)) == 2
    assert cli.cmd_resume(argparse.Namespace(run_id=run_id)) == 0
    assert cli.cmd_export(argparse.Namespace(run_id=run_id, out=str(tmp_path / "x"))) == 0
    assert cli.cmd_status(argparse.Namespace(run_id=999, limit=10)) == 2


def test_submit_stores_a_relative_corpus_path_as_absolute(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the runner starts in the run's folder, not here
    args = cli.build_parser().parse_args(["submit", "--corpus", "data/c.csv", "--device", "cpu"])
    assert cli.cmd_submit(args) == 0
    (run,) = store.list_runs()
    assert RunConfig.from_dict(run["config"]).corpus == str(tmp_path / "data" / "c.csv")


def _submit_args(tmp_path):
    return cli.build_parser().parse_args(["submit", "--corpus", str(tmp_path / "c.csv"), "--pair-baseline", "--device", "cpu"])


# ---------------------------------------------------------------- real training (tiny BERT)

def start_worker(*options: str, wait: bool = False):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "topicbert", "worker", "--poll", "0.2", *options]
    if wait:
        return subprocess.run(command, env=env, timeout=500, capture_output=True, text=True)
    return subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def whole_evaluations(table: list[dict]) -> bool:
    names = {"val_macro_f1", "val_micro_f1", "val_loss", "train_loss", "val_perplexity"}
    steps = [row["step"] for row in table]
    return all(names <= set(row) for row in table) and steps == sorted(set(steps))


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
    assert all(a["kwh"] <= b["kwh"] and a["kg_co2e"] <= b["kg_co2e"] for a, b in zip(energy, energy[1:]))
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


def test_status_line_says_why_a_run_failed(store):
    run_id = store.create_run(config())
    store.claim_next_run(None, "cpu", hostname())
    store.finish_run(run_id, "failed", "Traceback (most recent call last):\n  ...\nCorpusError: no file tiny.csv\n")
    assert services.format_status(store.run_overview(run_id)[0]).endswith("(CorpusError: no file tiny.csv)")


# ---------------------------------------------------------------- faults the issue found

def test_a_meter_that_cannot_be_made_never_fails_the_run(store, monkeypatch):
    def plan(cfg, callbacks, resume):
        start(callbacks, 0)
        evaluate(callbacks, 10, 0.6)
        result = fake_result(cfg)
        end(callbacks, result)
        return result
    fake_training(monkeypatch, plan)

    def no_table(country):
        raise OSError("codecarbon's data folder is missing")
    monkeypatch.setattr("topicbert.energy.meter.carbon_intensity", no_table)
    first = store.create_run(config())
    claim(store, first)
    assert runner.execute(store, first, config(), Path(store.get_run(first)["run_dir"]), resume=False) == 0
    assert store.get_run(first)["status"] == "done"
    assert "not metered" in store.get_run(first)["energy_info"]["measured"]

    def broken_meter(**settings):
        raise RuntimeError("NVML exploded")
    monkeypatch.setattr(runner, "EnergyMeter", broken_meter)
    second = store.create_run(config())
    claim(store, second)
    assert runner.execute(store, second, config(), Path(store.get_run(second)["run_dir"]), resume=False) == 0
    run = store.get_run(second)
    assert run["status"] == "done" and store.list_energy(second) == []
    assert "not metered" in run["energy_info"]["measured"]


def test_a_meter_that_never_started_is_not_metered_and_shows_no_energy(store, monkeypatch):
    """codecarbon's start can fail and say so only by its return value: the run is then "not metered", with
    the reason, and no kWh or CO2 shows as if it were zero."""
    def plan(cfg, callbacks, resume):
        start(callbacks, 0)
        evaluate(callbacks, 10, 0.6)
        result = fake_result(cfg)
        end(callbacks, result, classify_seconds=0.1)
        return result
    fake_training(monkeypatch, plan)

    class SilentlyFailingTracker:
        """codecarbon's tracker when its start fails: it logs, swallows the error and never sets its start time."""
        def __init__(self, **settings):
            self._start_time = None

        def start(self):
            pass
    monkeypatch.setattr("codecarbon.OfflineEmissionsTracker", SilentlyFailingTracker)
    run_id = store.create_run(config())
    claim(store, run_id)
    assert runner.execute(store, run_id, config(), Path(store.get_run(run_id)["run_dir"]), resume=False) == 0
    run = store.get_run(run_id)
    assert run["status"] == "done" and store.list_energy(run_id) == []
    badge = frames.run_badge(store, run)
    assert badge.label == "not metered" and "did not start (codecarbon's tracker did not start" in badge.reason
    row = frames.runs_frame(store).iloc[0]
    assert row["energy"] == "not metered" and pd.isna(row["kWh"]) and pd.isna(row["g CO2e"])
    assert run["inference"]["kwh"] is None


@pytest.mark.slow
def test_a_pair_on_a_fresh_token_cache_pays_alike(store, tiny_config, monkeypatch):
    """Tokenising is shared by the runs of a pair (the token cache): it comes before each run's clock and meter,
    so the run that happens to go first is not charged for it. Made slow here, it would show in that run."""
    from topicbert.data import token_cache

    slow, real = 4.0, token_cache.tokenize
    calls = []
    monkeypatch.setattr(token_cache, "tokenize",
                        lambda tokenizer, texts: (calls.append(1), time.sleep(slow), real(tokenizer, texts))[2])
    ids = services.submit_run(store, tiny_config, pair_baseline=True)
    for run_id in ids:
        claim(store, run_id)
        run = store.get_run(run_id)
        assert runner.execute(store, run_id, RunConfig.from_dict(run["config"]), Path(run["run_dir"]), False) == 0
    assert len(calls) == 3  # the three splits, tokenised once for both runs
    first, second = (store.get_run(i) for i in ids)
    for run in (first, second):
        assert run["final_metrics"]["train_seconds"] < 3 * slow
        assert store.last_energy(run["id"])["duration_s"] < 3 * slow


@pytest.mark.parametrize("command", ["submit", "train"])
def test_a_run_that_would_train_no_step_is_refused_up_front(command, store, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr(cli, "train", lambda *a, **k: trained.append(1))
    argv = [command, "--corpus", "tiny.csv", "--batch-size", "1", "--nproc", "2", "--device", "cpu"]
    assert cli.main(argv) == 2
    assert "batch_size (1) must be at least nproc (2)" in capsys.readouterr().err
    assert store.list_runs() == [] and trained == []


def test_status_on_an_empty_store_says_how_to_queue_a_run(store, capsys):
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "No runs yet" in out and "python -m topicbert submit --corpus" in out


def test_a_finished_run_keeps_no_resumable_checkpoint(store, monkeypatch):
    def plan(cfg, callbacks, resume):
        start(callbacks, 0)
        evaluate(callbacks, 10, 0.6)
        Checkpoints(run_dir).resume.write(lambda folder: (folder / "state.json").write_text("{}"))
        result = fake_result(cfg)
        end(callbacks, result)
        return result
    fake_training(monkeypatch, plan)
    run_id = store.create_run(config())
    run_dir = Path(store.get_run(run_id)["run_dir"])
    claim(store, run_id)
    assert runner.execute(store, run_id, config(), run_dir, resume=False) == 0
    assert store.get_run(run_id)["status"] == "done"
    assert Checkpoints(run_dir).resumable() is None and (run_dir / "config.json").exists()
