"""The run lifecycle under kill -9: the worker and its run killed together, at a random moment of
NVDM pretraining, of a training step, of an evaluation or of a checkpoint save, over and over.

Each trial starts a real worker (runs.worker.serve, what `python -m topicbert worker` runs, without
the command line's imports) that starts the run's real runner with the tiny random BERT;
tests/fault_hook/sitecustomize.py, on the workers' PYTHONPATH, makes the runner send both processes
SIGKILL at a random moment inside the trial's phase: within a window as long as the phase took in an
unbroken run of the same settings, measured first. After each kill a
new worker marks the run interrupted; the database is whole; no run stays running; the metrics up
to the last evaluation are intact and in step order; the run is resumed. A chain of trials on one
run ends with a worker that finishes it: as many evaluations, at the same steps, as an unbroken run.
Two chains go at once (each in a store of its own) to keep the test short.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest
from helpers import wait_for

from topicbert.runs import processes, services, worker
from topicbert.runs.store import Store
from topicbert.training import loop, topic_model_cache
from topicbert.training.callbacks import Callback
from topicbert.training.checkpoints import Checkpoints
from topicbert.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
HOOK = Path(__file__).resolve().parent / "fault_hook"
CHAINS = 4                 # runs; each is killed KILLS_PER_CHAIN times, then finished
KILLS_PER_CHAIN = 5        # 4 x 5 = 20 trials
LANES = 2
# a trial kills in one of the next few occurrences of its phase, so every run has evaluations left
# for each of its trials
NEXT_OCCURRENCES = {"step": 6, "evaluation": 2, "checkpoint": 2}
EVALUATION_NAMES = {"val_macro_f1", "val_micro_f1", "val_loss", "train_loss", "val_perplexity"}
ATTEMPT_SECONDS = 240
SERVE = "import sys; from topicbert.runs.worker import serve; sys.exit(serve(poll_seconds=0.1, exit_when_idle={}))"


class Timed(Callback):
    """The evaluation steps of an unbroken run, and how long each phase took in it (seconds)."""

    def __init__(self, monkeypatch):
        self.steps, self.seconds, self._last = [], {"pretraining": [], "step": [], "evaluation": [],
                                                    "checkpoint": []}, None
        for module, name, phase in ((topic_model_cache, "pretrain_topic_model", "pretraining"),
                                    (loop, "evaluate", "evaluation"),
                                    (Checkpoints, "save_resumable", "checkpoint")):
            monkeypatch.setattr(module, name, self._timing(getattr(module, name), phase))

    def _timing(self, function, phase):
        def timed(*args, **kwargs):
            began = time.perf_counter()
            result = function(*args, **kwargs)
            self.seconds[phase].append(time.perf_counter() - began)
            return result
        return timed

    def on_step(self, step, total_steps):
        now = time.perf_counter()
        if self._last is not None and step - 1 not in self.steps:  # not counting an evaluation before it
            self.seconds["step"].append(now - self._last)
        self._last = now

    def on_evaluate(self, step, epoch, wall_seconds, metrics):
        self.steps.append(step)

    def windows(self) -> dict[str, float]:
        return {phase: sorted(times)[len(times) // 2] for phase, times in self.seconds.items()}


def start_worker(home: Path, plan: dict | None, exit_when_idle: bool = False) -> subprocess.Popen:
    env = dict(os.environ, TOPICBERT_HOME=str(home), TOPICBERT_DEVICE="cpu", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(HOOK), str(ROOT)]))
    env.pop("TOPICBERT_FAULT", None)
    if plan is not None:
        env["TOPICBERT_FAULT"] = json.dumps(plan)
    return subprocess.Popen([sys.executable, "-c", SERVE.format(exit_when_idle)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def resume_step(run: dict) -> int:
    """The step a new attempt of this run starts from: its whole checkpoint's, else 0."""
    folder = Checkpoints(Path(run["run_dir"])).resumable()
    return json.loads((folder / "state.json").read_text())["step"] if folder else 0


def wait_until_gone(pgid: int) -> None:
    wait_for(lambda: not processes._group_members({pgid}), f"process group {pgid} to end after its SIGKILL",
             every=0.05)


def check_after_kill(store: Store, run_id: int, evaluation_steps: list[int], log: str) -> None:
    new_worker = worker.Worker(store, device="cpu")  # what a worker that starts now does first
    assert new_worker.recover() == [run_id], log
    store.update_worker(new_worker.worker_id, "stopped")
    assert store.integrity_check() == "ok"
    assert store.list_runs("running") == []
    run = store.get_run(run_id)
    assert run["status"] == "interrupted" and "is gone" in run["error"]
    table = store.metrics_table(run_id)
    steps = [row["step"] for row in table]
    assert steps == evaluation_steps[:len(steps)], (steps, log)  # every evaluation up to the last, in order
    assert all(EVALUATION_NAMES <= set(row) for row in table), table  # each one whole
    for key in ("epoch", "wall_seconds"):
        assert [row[key] for row in table] == sorted(row[key] for row in table)
    energy = store.list_energy(run_id)
    assert {e["step"] for e in energy} <= {0, *steps}  # at the end of pretraining (step 0) and at evaluations
    assert all(a["kwh"] <= b["kwh"] for a, b in pairwise(energy))
    if run["checkpoint_step"]:  # the checkpoint the store names is on disk, whole (or a later one is)
        assert resume_step(run) >= run["checkpoint_step"]


def run_chain(home: Path, config, evaluation_steps: list[int], windows: dict[str, float], seed: int) -> list[dict]:
    """One run killed KILLS_PER_CHAIN times, then finished; returns where each kill landed."""
    rng = random.Random(seed)
    phases = ["pretraining"] + rng.sample(["step", "evaluation", "checkpoint"], 3) + [
        rng.choice(["step", "evaluation", "checkpoint"])]
    kills = []
    with Store(home / "topicbert.db") as store:
        run_id = services.submit_run(store, config)[0]
        total = evaluation_steps[-1]
        for trial, phase in enumerate(phases[:KILLS_PER_CHAIN]):
            start = resume_step(store.get_run(run_id))
            later = [s for s in evaluation_steps if s > start]
            left = {"pretraining": 1, "step": total - start, "evaluation": len(later), "checkpoint": len(later)}
            occurrence = rng.randint(1, min(left[phase], NEXT_OCCURRENCES.get(phase, 1)))
            log = home / f"kill-{trial}.jsonl"
            plan = {"phase": phase, "occurrence": occurrence, "window": windows[phase], "seed": rng.randrange(2**31),
                    "log": str(log)}
            first = start_worker(home, plan)
            try:
                first.wait(timeout=ATTEMPT_SECONDS)  # killed by its runner
            except subprocess.TimeoutExpired:
                first.kill()
                raise
            run = store.get_run(run_id)
            run_log = processes.log_tail(run["log_path"])
            assert log.exists(), f"trial {trial} ({plan}) never killed: {run_log}"
            kills.append(json.loads(log.read_text().splitlines()[-1]))
            wait_until_gone(run["pgid"])
            check_after_kill(store, run_id, evaluation_steps, run_log)
            assert services.resume_run(store, run_id)
        finishing = start_worker(home, None, exit_when_idle=True)
        assert finishing.wait(timeout=ATTEMPT_SECONDS) == 0
        run = store.get_run(run_id)
        assert run["status"] == "done", processes.log_tail(run["log_path"])
        assert [row["step"] for row in store.metrics_table(run_id)] == evaluation_steps  # as an unbroken run
        assert run["final_metrics"]["test_macro_f1"] >= 0 and len(store.get_topics(run_id)) == config.n_topics
        assert Checkpoints(Path(run["run_dir"])).resumable() is None
        energy = store.list_energy(run_id)
        assert all(a["kwh"] <= b["kwh"] and a["kg_co2e"] <= b["kg_co2e"] for a, b in pairwise(energy))
        assert store.integrity_check() == "ok"
    return kills


@pytest.mark.slow
def test_kill_9_at_random_moments_of_every_phase_then_resume(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "unbroken-home"))
    config = tiny_config.replace(epochs=3, eval_every_steps=3, tm_pretrain_epochs=30, tm_patience=30)
    with monkeypatch.context() as timing:
        unbroken = Timed(timing)
        train(config, tmp_path / "unbroken", [unbroken])
    windows = unbroken.windows()
    homes = [tmp_path / f"home-{chain}" for chain in range(CHAINS)]
    with ThreadPoolExecutor(LANES) as lanes:
        chains = list(lanes.map(lambda chain: run_chain(homes[chain], config, unbroken.steps, windows, seed=chain),
                                range(CHAINS)))
    kills = [kill for chain in chains for kill in chain]
    assert len(kills) >= 20
    by_phase = {phase: [k for k in kills if k["phase"] == phase] for phase in windows}
    assert all(by_phase.values()), {phase: len(k) for phase, k in by_phase.items()}
    print("phase windows (s):", {phase: round(seconds, 3) for phase, seconds in windows.items()})
    print("kills by phase (inside it / at its end):",
          {phase: (sum(not k["at_end"] for k in ks), sum(k["at_end"] for k in ks)) for phase, ks in by_phase.items()})
