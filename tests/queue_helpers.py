"""What the queue's tests share: a run config whose corpus no test reads, a run's process group, a fake
training that replays a plan through the runner's callbacks, and a worker started as a command (waiting for a
condition is in helpers.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import psutil

from topicbert.config import RunConfig
from topicbert.runs import processes, runner
from topicbert.runs.store import hostname

ROOT = Path(__file__).resolve().parents[1]


def config(**changes) -> RunConfig:
    return RunConfig(corpus="tiny.csv", device="cpu").replace(**changes)


def group_alive(pgid: int) -> list[psutil.Process]:
    return processes._group_members({pgid})


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


def claim_and_execute(store, run_id: int) -> int:
    """Claim the queued run as a worker does and train it in this process (its config and resume flag as the store
    holds them): the runner's exit code, 0 done, 1 failed."""
    claim(store, run_id)
    run = store.get_run(run_id)
    return runner.execute(store, run_id, RunConfig.from_dict(run["config"]), Path(run["run_dir"]), run["resume"])


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
