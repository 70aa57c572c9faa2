"""`python -m topicbert worker --ray [ADDRESS]`: the queue served on a Ray cluster.

Each queued run becomes a Ray task that asks for its GPUs and CPUs (task_resources); Ray places it on a
node, where it trains (ray_node.py). One store, one writer: the task's store calls and files come back
to this machine through a StoreService actor on this machine's node, beside the SQLite file. The code
travels with the tasks (Ray's py_modules), so nodes need the packages of requirements.txt and no copy of
the project, its corpora or its store. A run lives as long as its task: a node that dies or leaves
leaves its runs interrupted, resumable on another node from the last checkpoint that reached this
machine; cancel kills the task and Ray has its GPUs back at once; and Ray ends the tasks with this
worker, which marks them interrupted as it stops. Only `--ray` imports this module.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray._private.services import canonicalize_bootstrap_address_or_die  # how ray.init reads 'auto'; ray is pinned
from ray.exceptions import NodeDiedError, RayError, RayTaskError, TaskCancelledError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ..config import ConfigError, RunConfig
from .gpus import gpus_needed
from .processes import PACKAGE_ROOT
from .ray_node import train_on_node
from .services import RAY_DEVICE
from .store import Store
from .store_service import StoreService
from .worker import Worker, run_until_stopped

log = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
# what the store's machine decides for every run, wherever it trains
SHARED_SETTINGS = ("TOPICBERT_COUNTRY",)


def task_resources(config: RunConfig, cluster_gpus: float, cpus_per_run: int) -> dict[str, float]:
    """What a run's task asks Ray for: `cpus_per_run` CPUs, and the GPU it needs (gpus_needed) where the
    cluster has GPUs; a run that asks for CUDA on a cluster without them is refused."""
    if config.nproc > 1:
        raise ConfigError(f"a run of {config.nproc} processes (--nproc) trains on one machine: serve it with "
                          "`python -m topicbert worker` there; on Ray each run is one process")
    needed = gpus_needed(config)
    if needed and config.device == "cuda" and not cluster_gpus:
        raise ConfigError("the run asks for CUDA and the Ray cluster has no GPU")
    return {"num_cpus": cpus_per_run, "num_gpus": needed if cluster_gpus else 0}


def connect(address: str) -> str:
    """Join the Ray cluster at `address` ('auto': the one `ray start` made on this machine); its address.
    A cluster that is not there is said in one line, at once, instead of Ray's minutes of retries."""
    try:
        resolved = canonicalize_bootstrap_address_or_die(address)
    except (ConnectionError, ValueError) as error:
        raise ConfigError(f"--ray {address}: no Ray cluster found ({error}); "
                          "start one with `ray start --head`") from None
    host, _, port = resolved.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        raise ConfigError(f"--ray {address}: no Ray cluster answers at {resolved} ({error.strerror or error}); "
                          "start one with `ray start --head` on its head machine, or give its address") from None
    env_vars = {name: os.environ[name] for name in SHARED_SETTINGS if os.environ.get(name)}
    try:
        ray.init(address=resolved, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"py_modules": [str(PACKAGE_ROOT / "topicbert")], "env_vars": env_vars})
    except Exception as error:
        raise ConfigError(f"could not join the Ray cluster at {resolved}: {error}. The worker runs on one of "
                          f"its nodes: `ray start --address {resolved}` on this machine first") from None
    return resolved


@dataclass
class RayRun:
    run_id: int
    task: Any  # the task's ObjectRef


class RayWorker(Worker):
    """A worker whose runs are Ray tasks. `max_parallel`: runs in flight (default: as many as the
    cluster has GPUs, or CPUs over `cpus_per_run` without GPUs; read anew as nodes come and go)."""

    def __init__(self, store: Store, max_parallel: int | None = None, poll_seconds: float = 1.0,
                 worker_id: int | None = None, cpus_per_run: int = 1) -> None:
        self.fixed_max_parallel = max_parallel
        self.cpus_per_run = cpus_per_run
        super().__init__(store, device=RAY_DEVICE, max_parallel=max_parallel, poll_seconds=poll_seconds,
                         worker_id=worker_id)
        here = ray.get_runtime_context().get_node_id()
        # a Ray actor handle, as RemoteStore takes it: ray types `.remote` only on @ray.method methods
        self.service: Any = ray.remote(StoreService).options(
            num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(str(store.path))
        self.train = ray.remote(max_retries=0, max_calls=1)(train_on_node)  # a fresh process per run, never rerun
        self.children: dict[int, RayRun] = {}  # type: ignore[assignment]  # Ray tasks, not processes

    def claim(self) -> bool:
        resources = ray.cluster_resources()
        gpus, cpus = resources.get("GPU", 0), resources.get("CPU", 0)
        self.max_parallel = self.fixed_max_parallel or max(int(gpus) or int(cpus) // self.cpus_per_run, 1)
        return super().claim()

    def claim_one(self) -> tuple[dict, None] | None:
        for run in reversed(self.store.list_runs(status="queued")):  # oldest first
            if self.store.claim_run(run["id"], self.worker_id, RAY_DEVICE, host=self.host):
                claimed = self.store.get_run(run["id"])
                if claimed is not None:  # None: cancelled and deleted since the claim, nothing to launch
                    return claimed, None
        return None

    def launch(self, run: dict, gpus: Sequence[str] | None = None) -> None:
        resources = task_resources(RunConfig.from_dict(run["config"]), ray.cluster_resources().get("GPU", 0),
                                   self.cpus_per_run)
        attempt = uuid.uuid4().hex
        ray.get(self.service.begin.remote(run["id"], attempt))
        task = self.train.options(name=f"topicbert run {run['id']}", **resources).remote(
            self.service, run["id"], attempt, run["resume"])
        self.children[run["id"]] = RayRun(run["id"], task)
        log.info("run %s sent to Ray, asking for %s", run["id"], resources)

    def reap(self) -> None:
        """Record how tasks that ended ended, where their runner did not record it itself."""
        if not self.children:
            return
        tasks = {child.task: child for child in self.children.values()}
        ended, _ = ray.wait(list(tasks), num_returns=len(tasks), timeout=0)
        for task in ended:
            child = tasks[task]
            del self.children[child.run_id]
            ray.get(self.service.end.remote(child.run_id))  # a straggling call of this attempt is refused now
            try:
                ray.get(task)
                self.store.finish_run(child.run_id, "failed", "the Ray task ended without recording a result")
            except TaskCancelledError:
                pass  # cancelled: recorded by whoever cancelled it
            except RayTaskError as error:  # our code failed on the node, outside the runner
                self.store.finish_run(child.run_id, "failed", f"failed on its Ray node: {error}")
            except RayError as error:  # the node died or left, the task's process was killed
                reason = self._lost(child.run_id, error)
                if self.store.mark_interrupted(child.run_id, f"interrupted: {reason}"):
                    log.warning("run %s interrupted: %s", child.run_id, reason)

    def _lost(self, run_id: int, error: RayError) -> str:
        """Why a run's task was lost, in a line."""
        if isinstance(error, NodeDiedError):
            run = self.store.get_run(run_id)
            where = f"{(run['node'] or '?')[:8]} on {run['host']}" if run else "?"
            return f"its Ray node {where} died or left"
        return str(error).strip().split(". ")[0]  # Ray's first sentence; the rest says where its logs are

    def enforce_cancels(self) -> None:
        """A cancelled run's task is killed: Ray frees its GPUs at once."""
        for run_id, child in list(self.children.items()):
            run = self.store.get_run(run_id)
            if run is not None and run["status"] == "cancelled":
                ray.cancel(child.task, force=True)

    def let_go(self) -> None:
        """Ray ends a worker's tasks with it: its runs are interrupted, and resumable."""
        for run_id, child in self.children.items():
            ray.cancel(child.task, force=True)
            self.store.mark_interrupted(run_id, "interrupted: the Ray worker stopped, and its Ray task with it")
        self.children.clear()


def serve_on_ray(address: str, exit_when_idle: bool = False, max_parallel: int | None = None,
                 poll_seconds: float = 1.0, worker_id: int | None = None, cpus_per_run: int = 1) -> int:
    resolved = connect(address)
    with Store() as store:
        worker = RayWorker(store, max_parallel, poll_seconds, worker_id, cpus_per_run)
        log.info("worker %s serving the queue on the Ray cluster at %s (%s), database %s", worker.worker_id,
                 resolved, ray.cluster_resources(), store.path)
        try:
            return run_until_stopped(worker, exit_when_idle)
        finally:
            ray.shutdown()
