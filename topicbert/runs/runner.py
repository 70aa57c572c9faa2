"""One queued run, start to end: `python -m topicbert runner RUN_ID [--resume]`.

The worker starts it (through torchrun when the run asks for several processes). It
trains with callbacks that write progress, metrics, energy, topics and final results to
the store, samples how busy other processes keep the machine meanwhile (the latest attempt's),
and records the run's end itself. Under torchrun only rank 0 writes.
A run still `queued` is claimed here, so torchrun can also be launched by hand.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..data.splits import load_run_corpus, tokenize_splits
from ..energy.meter import DEFAULT_TRACKING_MODE, MIN_READING_SECONDS, EnergyMeter, EnergyReading, gpu_ids_for
from ..model.encoders import load_tokenizer
from ..training.callbacks import Callback
from ..training.checkpoints import Checkpoints
from ..training.device import choose_device, world
from ..training.loop import train
from .machine_load import MachineLoadSampler
from .periodic import Periodic
from .references import attach_lda_reference
from .run_store import RunStore
from .store import Store, run_folder

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
HEARTBEAT_SECONDS = 10.0


class StoreReporter(Callback):
    """Writes what training reports to the store (rank 0 only): progress, each evaluation with an energy
    reading, where pretraining ended, what training cost (the reading at on_trained, the same scope as the
    benchmark: the test pass is not in it), what classifying the test documents cost, the results."""

    def __init__(self, store: RunStore, run_id: int, meter: EnergyMeter | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.meter = meter
        self.best: dict | None = None
        self.step = 0
        self.total_steps = 0
        self.steps_per_epoch = 1
        self._last_progress = 0.0
        self._trained: tuple[float, EnergyReading | None] | None = None  # (clock, reading) at on_trained

    def on_start(self, info: dict[str, Any]) -> None:
        self.step, self.total_steps = info["start_step"], info["total_steps"]
        self.steps_per_epoch = max(info["steps_per_epoch"], 1)
        # a resumed run restarts at its checkpoint: what came after it is recorded again; a run that
        # starts afresh forgets everything, the reading at the end of its pretraining (step 0) too
        self.store.truncate_history(self.run_id, after_step=self.step if self.step else -1)
        if self.meter is not None:
            self.meter.base = self.store.last_energy(self.run_id)
        self.best = self.store.best_evaluation(self.run_id)
        self.store.set_best_metrics(self.run_id, self.best)
        self.store.set_device(self.run_id, info["device"])
        self.store.set_attempt_start(self.run_id, self.step)
        self._progress(force=True)

    def on_pretrained(self, wall_seconds: float) -> None:
        # the fixed cost before the first step: Compare marks it on the run's curves
        self.store.set_pretrained(self.run_id, wall_seconds)
        self._energy(0, 0.0, wall_seconds)

    def on_step(self, step: int, total_steps: int) -> None:
        self.step, self.total_steps = step, total_steps
        self._progress()

    def on_evaluate(self, step: int, epoch: float, wall_seconds: float, metrics: dict[str, float]) -> None:
        self.store.add_metrics(self.run_id, step, epoch, wall_seconds, metrics)
        if self.best is None or metrics["val_macro_f1"] > self.best["val_macro_f1"]:
            self.best = {"step": step, "epoch": epoch, "wall_seconds": wall_seconds, **metrics}
            self.store.set_best_metrics(self.run_id, self.best)
        self._energy(step, epoch, wall_seconds)
        self._progress(force=True)

    def on_checkpoint(self, step: int, epoch: float, path: Path) -> None:
        self.store.set_checkpoint(self.run_id, step)

    def on_trained(self, wall_seconds: float) -> None:
        reading = self._energy(self.step, self.step / self.steps_per_epoch, wall_seconds)
        self._trained = (time.perf_counter(), reading)

    def on_tested(self, n_docs: int) -> None:
        """The cost of using the model: its test pass, metered from the end of training (as the bench does)."""
        if self._trained is None or not n_docs:
            return
        began, before = self._trained
        seconds = time.perf_counter() - began
        after = self.meter.read() if self.meter is not None else None
        # a pass quicker than the meter can tell apart gets its time but no energy
        kwh: float | None = None
        kg_co2e: float | None = None
        if before is not None and after is not None and seconds >= MIN_READING_SECONDS:
            kwh, kg_co2e = after.kwh - before.kwh, after.kg_co2e - before.kg_co2e
        self.store.set_inference(self.run_id, {"documents": n_docs, "seconds": seconds, "kwh": kwh,
                                               "kg_co2e": kg_co2e})

    def on_end(self, result: Any) -> None:
        if result.topics:
            self.store.set_topics(self.run_id, result.topics,
                                  result.topic_quality.npmi if result.topic_quality else None)
        self.store.set_final_metrics(self.run_id, result.details())

    def _energy(self, step: int, epoch: float, wall_seconds: float) -> EnergyReading | None:
        reading = self.meter.read() if self.meter is not None else None
        if reading is not None:
            self.store.add_energy(self.run_id, step, epoch, wall_seconds, reading.to_row())
        return reading

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_EVERY_SECONDS:
            self.store.set_progress(self.run_id, self.step, self.total_steps)
            self._last_progress = now


def heartbeat(store: RunStore, run_id: int, every: float = HEARTBEAT_SECONDS) -> Periodic[RunStore]:
    """Says the run's process is alive every `every` seconds, even in long evaluations."""
    return Periodic(store.another_connection, every, lambda own: own.heartbeat_run(run_id))


def start_meter(config: RunConfig) -> tuple[EnergyMeter | None, dict]:
    """The run's energy meter, started, and what the store records of it (energy_info). A meter that cannot be
    made or started is None, its info saying "not metered" and why (logged): tracking never stops the job."""
    try:
        _, world_size = world()
        meter = EnergyMeter(
            gpu_ids=gpu_ids_for(str(choose_device(config.device)), int(os.environ.get("LOCAL_WORLD_SIZE", 1))),
            # the ranks are siblings, not children: only the machine view counts them all
            tracking_mode="machine" if world_size > 1 else DEFAULT_TRACKING_MODE)
    except Exception as error:
        log.exception("energy tracking is off for this run")
        return None, {"measured": f"not metered: the energy tracker could not be set up ({error!r})"}
    return (meter if meter.start() else None), meter.info()


def cache_word_pieces(config: RunConfig) -> None:
    """The run's word pieces in the token cache before its meter starts, as before train()'s clock: the runs
    queued together share them, and the first would otherwise pay for the rest."""
    if config.uses_encoder:
        tokenize_splits(config, load_tokenizer(config.model), load_run_corpus(config))


def execute(store: RunStore, run_id: int, config: RunConfig, run_dir: Path, resume: bool) -> int:
    """Train rank 0's part of a claimed run and record its end. 0 done, 1 failed."""
    meter = None
    try:
        with heartbeat(store, run_id):
            cache_word_pieces(config)
            meter, energy_info = start_meter(config)
            store.set_energy_info(run_id, energy_info)
            with MachineLoadSampler(store.another_connection, run_id):
                train(config, run_dir, [StoreReporter(store, run_id, meter)], resume=resume)
    except Exception:
        log.exception("run %s failed", run_id)
        store.finish_run(run_id, "failed", traceback.format_exc())
        return 1
    finally:
        if meter is not None:
            meter.stop()
    if config.use_topics:  # after the meter: the reference is not the run's cost
        with heartbeat(store, run_id):
            _attach_reference(store, run_id, config, run_dir)
    if store.finish_run(run_id, "done"):
        # recorded done first: killed before this line, the checkpoint is left for gc, never missed by a resume
        Checkpoints(run_dir).remove_resumable()
    return 0


def _attach_reference(store: RunStore, run_id: int, config: RunConfig, run_dir: Path) -> None:
    """The LDA reference helps read the topics; failing to fit it never fails the run (logged)."""
    try:
        attach_lda_reference(store, run_id, config, run_dir)
    except Exception:
        log.exception("run %s: the LDA reference for its topics could not be made", run_id)


def follow(run_id: int, resume: bool) -> int:
    """A torchrun rank other than 0: trains its share, never opens the store (it may be
    on another node, where only the run folder is shared)."""
    run_dir = run_folder(run_id)
    config = RunConfig.from_json((run_dir / "config.json").read_text())
    # a run folder holds a checkpoint only if an earlier attempt made one: rank 0 resumes then too
    train(config, run_dir, resume=resume or Checkpoints(run_dir).resumable() is not None)
    return 0


def run_one(run_id: int, resume: bool = False) -> int:
    """The runner's entry point (`python -m topicbert runner RUN_ID`): 0 done, 1 failed, 2 refused."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s runner %(levelname)s %(message)s")
    if world()[0] != 0:
        return follow(run_id, resume)
    with Store() as store:
        run = store.get_run(run_id)
        if run is None:
            print(f"error: no run {run_id} in {store.path}", file=sys.stderr)
            return 2
        config = RunConfig.from_dict(run["config"])
        # train() continues from the checkpoint if there is one, else starts afresh
        resume = resume or run["resume"]
        if run["status"] == "queued":
            if not store.claim_run(run_id, None, choose_device(config.device).type, pid=os.getpid()):
                print(f"error: run {run_id} was just claimed by another process", file=sys.stderr)
                return 2
        elif run["status"] != "running":
            print(f"error: run {run_id} is {run['status']}; resume it to run it again", file=sys.stderr)
            return 2
        return execute(store, run_id, config, Path(run["run_dir"]), resume)
