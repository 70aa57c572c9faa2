"""Fault injection for tests/test_fault_injection.py: Python loads this file at the start of every
process whose PYTHONPATH holds this folder (the test's workers, and the runners they start). It does
nothing unless $TOPICBERT_FAULT holds a plan (JSON):

    {"phase": "pretraining" | "step" | "evaluation" | "checkpoint", "occurrence": n, "window": seconds,
     "seed": s, "log": path}

On entering the n-th occurrence of the phase, the runner starts a timer; after a random delay within
`window` it kills the runner's worker (its parent) and the runner's own process group with SIGKILL.
Should the phase end before the timer fires, the runner waits there for the kill: the kill always
lands inside the phase, at a random moment of it (`at_end` in the log says which kills waited).

Phases: pretraining is NVDM's pretraining; a step runs from the forward pass's autocast to the
step's callbacks; an evaluation from the validation pass to the start of the checkpoint save
(metrics, best model and energy reading included); a checkpoint is the resumable save.
"""
import importlib.abc
import importlib.machinery
import json
import os
import random
import signal
import sys
import threading
import time

PLAN = json.loads(os.environ["TOPICBERT_FAULT"]) if os.environ.get("TOPICBERT_FAULT") else None


class Fault:
    def __init__(self, plan: dict) -> None:
        self.plan = plan
        self.delay = random.Random(plan["seed"]).uniform(0, plan["window"])
        self.calls = 0
        self.armed = False
        self.at_end = False

    def enter(self, phase: str) -> None:
        if phase != self.plan["phase"] or self.armed:
            return
        self.calls += 1
        if self.calls == self.plan["occurrence"]:
            self.armed = True
            threading.Timer(self.delay, self.kill).start()

    def leave(self, phase: str) -> None:
        if phase == self.plan["phase"] and self.armed:
            self.at_end = True
            while True:  # the kill is on its way
                time.sleep(1)

    def kill(self) -> None:
        with open(self.plan["log"], "a") as log:
            log.write(json.dumps({"phase": self.plan["phase"], "at_end": self.at_end, "delay": self.delay}) + "\n")
        os.kill(os.getppid(), signal.SIGKILL)  # the worker that started this runner
        os.killpg(0, signal.SIGKILL)           # this runner's group: this process and any child


def _around(function, fault: Fault, enter: str = "", leave: str = "", leave_first: str = ""):
    def wrapped(*args, **kwargs):
        if leave_first:
            fault.leave(leave_first)
        if enter:
            fault.enter(enter)
        result = function(*args, **kwargs)
        if leave:
            fault.leave(leave)
        return result
    return wrapped


def _patch() -> None:
    from topicbert.runs.runner import StoreReporter
    from topicbert.training import loop, topic_model_cache
    from topicbert.training.checkpoints import Checkpoints

    fault = Fault(PLAN)
    topic_model_cache.pretrain_topic_model = _around(topic_model_cache.pretrain_topic_model, fault,
                                                     enter="pretraining", leave="pretraining")
    loop.autocast = _around(loop.autocast, fault, enter="step")  # the loop uses it for the forward pass alone
    StoreReporter.on_step = _around(StoreReporter.on_step, fault, leave_first="step")
    loop.evaluate = _around(loop.evaluate, fault, enter="evaluation")
    Checkpoints.save_resumable = _around(Checkpoints.save_resumable, fault, leave_first="evaluation",
                                         enter="checkpoint", leave="checkpoint")


class _PatchTheRunner(importlib.abc.MetaPathFinder):
    """Patches once topicbert.runs.runner (and with it the loop and the checkpoints) is loaded."""

    def find_spec(self, name, path, target=None):
        if name != "topicbert.runs.runner":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _patch()
        spec.loader.exec_module = exec_module
        return spec


if PLAN is not None:
    sys.meta_path.insert(0, _PatchTheRunner())
