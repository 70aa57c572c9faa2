"""`python -m topicbert worker --ray [ADDRESS]`: the worker's runs as Ray tasks (RayLauncher), on a cluster this
process joined (cluster.py).

Each queued run the worker claims becomes a Ray task that asks for its GPUs and CPUs (task_resources); Ray
places it on a node, where it trains (node.py). One store, one writer: the task's store calls and files come back
to this machine through a StoreService actor on this machine's node, beside the SQLite file. The code
travels with the tasks (Ray's py_modules), so nodes need the packages of requirements.txt and no copy of
the project, its corpora or its store. A run lives as long as its task: a node that dies or leaves
leaves its runs interrupted, resumable on another node from the last checkpoint that reached this
machine; cancel kills the task and Ray has its GPUs back at once; and Ray ends the tasks with this
worker, which marks them interrupted as it stops (a worker killed outright leaves that to the next one's
recovery; a lost head's GCS, to a thread that marks them before the worker exits, watch_head). A dead
StoreService is made again, its runs in flight interrupted. Only `--ray` imports this module.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import (
    NodeDiedError,
    RayActorError,
    RayError,
    RayTaskError,
    TaskCancelledError,
)
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ...config import ConfigError, RunConfig
from ..gpus import gpus_needed
from ..launchers import Ended
from ..store import Store
from .node import train_on_node
from .store_service import FILES, StoreService

log = logging.getLogger(__name__)

HEAD_LOST_SECONDS = 10.0  # the head's GCS silent this long is gone (Ray itself gives up after 60 s)
HEAD_ANSWER_SECONDS = 1.0  # each look at it waits this long for an answer, at most


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


class RayLauncher:
    """Each run a Ray task that asks the cluster for its GPUs and CPUs (task_resources); its store calls go
    through a StoreService on this machine's node, beside the SQLite file of `store`. Runs in flight: as many
    as the cluster has GPUs, or CPUs over `cpus_per_run` without GPUs, read anew as nodes come and go."""

    serves_jobs = False  # prediction jobs are for a local worker this round (Ray Data's path is not built yet)
    places_runs = True  # Ray places each run where its resources are
    what = "task"

    def __init__(self, store: Store, gcs_address: str, cpus_per_run: int = 1) -> None:
        self.store = store  # read alone, to say where a lost run was
        self.cpus_per_run = cpus_per_run
        host, _, port = gcs_address.rpartition(":")
        self.gcs = host, int(port)
        self.head_silent_since: float | None = None  # since when the head's GCS has not answered
        self.children: dict[int, Any] = {}  # each run's task (its ObjectRef), by run id
        self.lost: list[Ended] = []  # runs interrupted with a dead store service, for the next reap
        self.service = self.new_service()
        self.ping: Any = None  # the service's answer on its way: an error in it says the service died
        self.train = ray.remote(max_retries=0, max_calls=1)(train_on_node)  # a fresh process per run, never rerun

    def new_service(self) -> Any:
        """A StoreService on this machine's node, beside the SQLite file. What it knows beyond SQLite is the
        attempts in flight, so a new one starts with none (watch_service)."""
        here = ray.get_runtime_context().get_node_id()
        # a Ray actor handle, as RemoteStore takes it: ray types `.remote` only on @ray.method methods
        placed = NodeAffinitySchedulingStrategy(here, soft=False)
        # a large file's chunks in a thread of their own (FILES), beside the one for every other call
        service = ray.remote(concurrency_groups={FILES: 1})(StoreService)  # type: ignore[call-overload]  # untyped in ray
        return service.options(num_cpus=0, scheduling_strategy=placed).remote(str(self.store.path))

    def watch_service(self) -> None:
        """Is the store's service alive? Asked without waiting: the last question's answer, once it is in.
        A dead one is made again; the runs it was serving are interrupted, resumable from their checkpoints
        here, and their tasks, which can no longer reach the store, are cancelled."""
        if self.ping is not None:
            ready, _ = ray.wait([self.ping], timeout=0)
            if not ready:
                return
            try:
                ray.get(self.ping)
            except RayActorError as error:
                self.service_died(error)
        self.ping = self.service.__ray_ready__.remote()

    def service_died(self, error: RayActorError) -> None:
        log.warning("the store's service died (%s): starting a new one; runs in flight are interrupted",
                    str(error).strip().splitlines()[0])
        for run_id, task in self.children.items():
            ray.cancel(task, force=True)
            self.lost.append(Ended("runs", run_id, "interrupted", "interrupted: the store's service on the head "
                                   "died; resume it to go on from its last checkpoint"))
        self.children.clear()
        self.service, self.ping = self.new_service(), None

    def ask_service(self, method: str, *args: Any) -> Any:
        """A call of this launcher's to the store's service, its answer awaited; a dead service is made again
        (service_died) and asked once more."""
        try:
            return ray.get(getattr(self.service, method).remote(*args))
        except RayActorError as error:
            self.service_died(error)
            return ray.get(getattr(self.service, method).remote(*args))

    def capacity(self) -> int:
        resources = ray.cluster_resources()
        return max(int(resources.get("GPU", 0)) or int(resources.get("CPU", 0)) // self.cpus_per_run, 1)

    def held(self, table: str) -> dict[int, Any]:
        return self.children if table == "runs" else {}

    def launch(self, table: str, row: dict, gpus: Sequence[str] | None = None) -> None:
        """Send the run to Ray as a task (`gpus` is Ray's to choose, never given); it has no process here."""
        resources = task_resources(RunConfig.from_dict(row["config"]), ray.cluster_resources().get("GPU", 0),
                                   self.cpus_per_run)
        attempt = uuid.uuid4().hex
        self.ask_service("begin", row["id"], attempt)
        self.children[row["id"]] = self.train.options(name=f"topicbert run {row['id']}", **resources).remote(
            self.service, row["id"], attempt, row["resume"])
        log.info("run %s sent to Ray, asking for %s", row["id"], resources)

    def reap(self) -> list[Ended]:
        """How tasks that ended ended, where their runner did not record it itself; and the runs a dead
        store service took with it."""
        self.watch_service()
        ended, self.lost = self.lost, []
        if not self.children:
            return ended
        tasks = {task: run_id for run_id, task in self.children.items()}
        done, _ = ray.wait(list(tasks), num_returns=len(tasks), timeout=0)
        for task in done:
            run_id = tasks[task]
            if run_id not in self.children:
                continue  # interrupted with the store's service, which died meanwhile
            self.ask_service("end", run_id)  # a straggling call of this attempt is refused now
            if self.children.pop(run_id, None) is None:
                continue  # the service was found dead just now: interrupted with the runs it served
            try:
                ray.get(task)
                ended.append(Ended("runs", run_id, "failed", "the Ray task ended without recording a result"))
            except TaskCancelledError:
                pass  # cancelled: recorded by whoever cancelled it
            except RayTaskError as error:  # our code failed on the node, outside the runner
                ended.append(Ended("runs", run_id, "failed", f"failed on its Ray node: {error}"))
            except RayError as error:  # the node died or left, the task's process was killed
                ended.append(Ended("runs", run_id, "interrupted", f"interrupted: {self._lost(run_id, error)}"))
        ended, self.lost = ended + self.lost, []  # and those a service that died while asked just now took
        return ended

    def _lost(self, run_id: int, error: RayError) -> str:
        """Why a run's task was lost, in a line."""
        if isinstance(error, NodeDiedError):
            run = self.store.get_run(run_id)
            where = f"{(run['node'] or '?')[:8]} on {run['host']}" if run else "?"
            return f"its Ray node {where} died or left"
        return str(error).strip().split(". ")[0]  # Ray's first sentence; the rest says where its logs are

    def cancel(self, table: str, key: int) -> bool:
        """Cancel the run's task and forget it, its attempt over: Ray has its GPUs back at once (before the
        run is sent again), and a straggling call of the attempt is refused."""
        task = self.children.pop(key)
        ray.cancel(task, force=True)
        self.ask_service("end", key)
        return True

    def let_go(self) -> list[Ended]:
        """Ray ends a worker's tasks with it: its runs are interrupted, and resumable."""
        for task in self.children.values():
            ray.cancel(task, force=True)
        ended = [Ended("runs", run_id, "interrupted", "interrupted: the Ray worker stopped, and its Ray task with it")
                 for run_id in self.children]
        self.children.clear()
        ended, self.lost = self.lost + ended, []
        return ended

    def watch_head(self, store: Store, worker_id: int) -> None:
        """Does the head's GCS still take connections? Looked at from a thread of its own (a Periodic beside
        the worker's loop), as the loop may wait in a call to Ray that only the head can answer. Silent for
        HEAD_LOST_SECONDS, the head is gone, and Ray would end this process a minute later without letting it
        record anything: the runs in flight are marked interrupted now, on the thread's own `store`, the
        worker `worker_id` stopped, and the process exits."""
        try:
            socket.create_connection(self.gcs, timeout=HEAD_ANSWER_SECONDS).close()
            self.head_silent_since = None
            return
        except OSError:
            now = time.monotonic()
            self.head_silent_since = self.head_silent_since or now
        if now - self.head_silent_since < HEAD_LOST_SECONDS:
            return
        address = ":".join(map(str, self.gcs))
        for run_id in list(self.children):
            store.mark_interrupted(run_id, f"interrupted: the Ray cluster's head (GCS at {address}) stopped "
                                           "answering; resume it once the cluster is back")
        store.update_worker(worker_id, "stopped")
        log.error("the Ray cluster's head (GCS at %s) has not answered for %.0f s: its runs are marked "
                  "interrupted, and the worker stops", address, now - self.head_silent_since)
        logging.shutdown()
        os._exit(1)  # Ray's shutdown would wait on the head that is gone
