"""The runner: what training reports reaches the store (progress, metrics, energy, topics, the end), a
resumed run's curves, the energy meter's faults, and what each run of a pair pays for."""
from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
from queue_helpers import (
    claim_and_execute,
    config,
    end,
    evaluate,
    fake_result,
    fake_training,
    start,
)

from topicbert.runs import runner, services
from topicbert.studio import runs_table
from topicbert.training.checkpoints import Checkpoints


def new_run(store, monkeypatch, plan) -> tuple[int, int]:
    """A queued run of config() trained by the runner through `plan` (fake_training): its id, the exit code."""
    fake_training(monkeypatch, plan)
    run_id = store.create_run(config())
    return run_id, claim_and_execute(store, run_id)


def one_evaluation(classify_seconds: float = 0.0):
    """A plan that evaluates once (macro-F1 0.6 at step 10), then classifies the test documents in
    `classify_seconds` and ends."""
    def plan(cfg, callbacks, resume):
        start(callbacks, 0)
        evaluate(callbacks, 10, 0.6)
        result = fake_result(cfg)
        end(callbacks, result, classify_seconds=classify_seconds)
        return result
    return plan


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
    run_id, code = new_run(store, monkeypatch, plan)
    assert code == 0
    run = store.get_run(run_id)
    assert run["status"] == "done" and run["step"] == 20 and run["total_steps"] == 20
    assert run["best_metrics"]["step"] == 20 and run["final_metrics"]["test_macro_f1"] == 0.8
    assert run["checkpoint_step"] == 20 and "measured" in run["energy_info"]
    assert [r["step"] for r in store.list_metrics(run_id, "val_macro_f1")] == [10, 20]
    energy = store.list_energy(run_id)
    # pretraining's end, each evaluation, then the end of training (before the test pass)
    assert [(e["step"], e["wall_seconds"]) for e in energy] == [(0, 3.5), (10, 20.0), (20, 40.0), (20, 40.0)]
    assert all(a["kwh"] <= b["kwh"] for a, b in pairwise(energy))
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
    run_id, code = new_run(store, monkeypatch, plan)
    assert code == 1
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
    run_id, code = new_run(store, monkeypatch, first)
    assert code == 1
    assert services.resume_run(store, run_id)

    def second(cfg, callbacks, resume):
        assert resume
        start(callbacks, 10)  # the checkpoint's step
        evaluate(callbacks, 15, 0.65)
        evaluate(callbacks, 20, 0.7)
        result = fake_result(cfg)
        end(callbacks, result)
    fake_training(monkeypatch, second)
    assert claim_and_execute(store, run_id) == 0  # resumed: the store's flag says so
    f1 = store.list_metrics(run_id, "val_macro_f1")
    assert [(m["step"], m["value"]) for m in f1] == [(5, 0.5), (10, 0.6), (15, 0.65), (20, 0.7)]
    assert store.get_run(run_id)["best_metrics"]["step"] == 20  # the lost 0.9 at step 15 is forgotten
    energy = store.list_energy(run_id)
    assert [e["step"] for e in energy] == [5, 10, 15, 20, 20]
    assert all(a["kwh"] <= b["kwh"] for a, b in pairwise(energy))  # cumulative over both attempts
    # a test pass quicker than the meter's resolution: its time, and no energy rather than 0 kWh
    inference = store.get_run(run_id)["inference"]
    assert inference["seconds"] < 0.05 and inference["kwh"] is None


def test_a_meter_that_cannot_be_made_never_fails_the_run(store, monkeypatch):
    def no_table(country):
        raise OSError("codecarbon's data folder is missing")
    monkeypatch.setattr("topicbert.energy.meter.carbon_intensity", no_table)
    first, code = new_run(store, monkeypatch, one_evaluation())
    assert code == 0
    assert store.get_run(first)["status"] == "done"
    assert "not metered" in store.get_run(first)["energy_info"]["measured"]

    def broken_meter(**settings):
        raise RuntimeError("NVML exploded")
    monkeypatch.setattr(runner, "EnergyMeter", broken_meter)
    second, code = new_run(store, monkeypatch, one_evaluation())
    assert code == 0
    run = store.get_run(second)
    assert run["status"] == "done" and store.list_energy(second) == []
    assert "not metered" in run["energy_info"]["measured"]


def test_a_meter_that_never_started_is_not_metered_and_shows_no_energy(store, monkeypatch):
    """codecarbon's start can fail and say so only by its return value: the run is then "not metered", with
    the reason, and no kWh or CO2 shows as if it were zero."""
    class SilentlyFailingTracker:
        """codecarbon's tracker when its start fails: it logs, swallows the error and never sets its start time."""
        def __init__(self, **settings):
            self._start_time = None

        def start(self):
            pass
    monkeypatch.setattr("codecarbon.OfflineEmissionsTracker", SilentlyFailingTracker)
    run_id, code = new_run(store, monkeypatch, one_evaluation(classify_seconds=0.1))
    assert code == 0
    run = store.get_run(run_id)
    assert run["status"] == "done" and store.list_energy(run_id) == []
    badge = runs_table.run_badge(store, run)
    assert badge.label == "not metered" and "did not start (codecarbon's tracker did not start" in badge.reason
    row = runs_table.runs_frame(store).iloc[0]
    assert row["energy"] == "not metered" and pd.isna(row["kWh"]) and pd.isna(row["g CO2e"])
    assert run["inference"]["kwh"] is None


@pytest.mark.slow
def test_a_pair_on_a_fresh_token_cache_pays_alike(store, tiny_config, monkeypatch):
    """Tokenising is shared by the runs of a pair (the token cache): it comes before each run's clock and meter,
    so the run that happens to go first is not charged for it. Made slow here, it would show in that run."""
    from topicbert.data import batching

    slow, real = 4.0, batching.tokenize
    calls = []
    monkeypatch.setattr(batching, "tokenize",
                        lambda tokenizer, texts: (calls.append(1), time.sleep(slow), real(tokenizer, texts))[2])
    ids = services.submit_run(store, tiny_config, pair_baseline=True)
    for run_id in ids:
        assert claim_and_execute(store, run_id) == 0
    assert len(calls) == 3  # the three splits, tokenised once for both runs
    first, second = (store.get_run(i) for i in ids)
    for run in (first, second):
        assert run["final_metrics"]["train_seconds"] < 3 * slow
        assert store.last_energy(run["id"])["duration_s"] < 3 * slow


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
    assert claim_and_execute(store, run_id) == 0
    assert store.get_run(run_id)["status"] == "done"
    assert Checkpoints(run_dir).resumable() is None and (run_dir / "config.json").exists()
