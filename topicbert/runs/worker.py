"""The queue's worker: claims queued runs, runs each in its own process group, recovers.

`python -m topicbert worker [--exit-when-idle] [--gpus 0,1,3]`. Each run is `python -m topicbert runner
RUN_ID` (through torchrun when its config asks for several processes) in a new session, its output in
the run's log; a prediction job is `python -m topicbert predict-job JOB_ID`, launched, reaped, cancelled and
recovered the same way, and takes one of the same slots. On a machine with GPUs each run gets GPUs of its own
(gpus.py) through CUDA_VISIBLE_DEVICES, and waits in the queue while none is free. A run outlives the worker:
the runner itself records its end. At start (and every so often) the worker marks runs
whose process is gone as `interrupted`. `--ray` serves the queue on a Ray cluster instead (ray/worker.py).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, RunConfig
from .gpus import QueuedRun, choose_gpus, free_slots, gpus_needed, plan_launches, visible_gpus
from .processes import child_environment, job_command, kill_process_group, log_tail, process_alive, runner_command
from .store import Store, hostname

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
WORKER_MAX_AGE = 15.0        # a worker silent for longer is presumed dead
RUN_STALE_SECONDS = 300.0    # a run on another host silent for longer is presumed dead
RECOVER_EVERY_SECONDS = 30.0
LET_GO = ("cancelled", "queued")  # a run held here in these states is stopped: cancelled, or cancelled and resumed


def detect_device() -> str:
    """The device kind this worker serves: $TOPICBERT_DEVICE, else the kind a run would choose."""
    if os.environ.get("TOPICBERT_DEVICE"):
        return os.environ["TOPICBERT_DEVICE"]
    from ..training.device import choose_device  # torch, only when the device is not given

    return choose_device("auto").type


def worker_alive(worker: dict, host: str, now: float) -> bool:
    """Is this worker (a row of the store's) alive, as seen from `host`? On its own host its process says so
    at once (a worker killed a moment ago still has a fresh heartbeat); elsewhere its heartbeat's age is its
    lease."""
    if worker["state"] == "stopped":
        return False
    if worker["host"] == host and worker["pid"] is not None:
        return process_alive(worker["pid"], worker["started_at"])
    return now - worker["heartbeat_at"] < WORKER_MAX_AGE


# ---------------------------------------------------------------- the worker

@dataclass
class Child:
    run_id: int
    popen: subprocess.Popen


class Worker:
    """`gpus`: the GPUs it hands out (none: each run sees what this process sees); `runs_per_gpu` above 1
    lets that many runs share a GPU. `max_parallel` defaults to every GPU's share, or 1 without GPUs."""

    serves_jobs = True  # prediction jobs run as processes of this machine

    def __init__(self, store: Store, device: str | None = None, max_parallel: int | None = None,
                 poll_seconds: float = 1.0, worker_id: int | None = None, gpus: Sequence[str] = (),
                 runs_per_gpu: int = 1) -> None:
        self.store = store
        self.device = device or detect_device()
        self.gpus = list(gpus)
        self.runs_per_gpu = runs_per_gpu
        self.max_parallel = max_parallel or max(len(self.gpus) * runs_per_gpu, 1)
        self.poll_seconds = poll_seconds
        self.host = hostname()
        self.children: dict[int, Child] = {}
        self.jobs: dict[int, Child] = {}  # prediction jobs, by job id (their own ids)
        self.stopping = False
        if worker_id is None:  # a worker started by ensure_worker() takes over its reserved row
            worker_id = store.register_worker(os.getpid(), self.device)
        else:
            store.update_worker(worker_id, "idle", pid=os.getpid(), device=self.device)
        self.worker_id = worker_id

    # -- recovery

    def recover(self) -> list[int]:
        """Mark `running` runs whose process is gone `interrupted`; returns their ids."""
        lost = []
        now = time.time()
        for run in self.store.list_runs(status="running"):
            reason = None if run["id"] in self.children else self.lost_reason(run, now)
            if reason is not None and self.store.mark_interrupted(run["id"], f"interrupted: {reason}"):
                log.warning("run %s interrupted: %s", run["id"], reason)
                lost.append(run["id"])
        for job in self.store.list_jobs(status="running"):
            reason = None if job["id"] in self.jobs else self.lost_reason(job, now)
            if reason is not None and self.store.set_status(job["id"], "interrupted", f"interrupted: {reason}",
                                                            only_from=("running",), table="jobs"):
                log.warning("prediction job %s interrupted: %s", job["id"], reason)
        return lost

    def lost_reason(self, row: dict, now: float) -> str | None:
        """Why a running run's (or job's) process is presumed gone, or None while it may live."""
        if row["pid"] is None and (row["worker_id"] is not None or row["host"] == self.host):
            # claimed, not yet launched, or a Ray task (which ends with the worker that started it):
            # fine while the claiming worker lives
            claimer = self.store.get_worker(row["worker_id"]) if row["worker_id"] else None
            if claimer and worker_alive(claimer, self.host, now):
                return None
            return ("its Ray worker stopped, and its Ray task with it" if row.get("node")
                    else "its worker died before starting it")
        if row["host"] == self.host:
            return None if process_alive(row["pid"], row["started_at"]) else f"its process {row['pid']} is gone"
        # another machine's pids cannot be checked here: go by its heartbeat
        if now - (row["heartbeat_at"] or 0) < RUN_STALE_SECONDS:
            return None
        return f"no heartbeat from host {row['host']} for {RUN_STALE_SECONDS:.0f} s"

    # -- launching and watching

    def launch(self, run: dict, gpus: Sequence[str] | None = None) -> None:
        """Start the run's runner; `gpus`: the GPUs it may see (None: what this worker sees)."""
        run_dir = Path(run["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run["log_path"], "ab") as log_file:  # the child writes to its own copy of the descriptor
            popen = subprocess.Popen(
                runner_command(run["id"], run["config"].get("nproc", 1)), stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT, cwd=run_dir, env=child_environment(self.store.path, gpus),
                start_new_session=True)  # its own process group: cancel kills exactly this run
        self.store.set_process(run["id"], popen.pid, popen.pid)
        self.children[run["id"]] = Child(run["id"], popen)
        log.info("run %s started, pid %s%s", run["id"], popen.pid, f", GPUs {','.join(gpus)}" if gpus else "")

    def launch_job(self, job: dict) -> None:
        """Start a claimed prediction job's process, in a session of its own as a run's."""
        Path(job["job_dir"]).mkdir(parents=True, exist_ok=True)
        with open(job["log_path"], "ab") as log_file:
            popen = subprocess.Popen(job_command(job["id"]), stdin=subprocess.DEVNULL, stdout=log_file,
                                     stderr=subprocess.STDOUT, cwd=job["job_dir"],
                                     env=child_environment(self.store.path), start_new_session=True)
        self.store.set_job_process(job["id"], popen.pid, popen.pid)
        self.jobs[job["id"]] = Child(job["id"], popen)
        log.info("prediction job %s started, pid %s", job["id"], popen.pid)

    @staticmethod
    def _exited(children: dict[int, Child]) -> Iterator[tuple[int, int]]:
        """The children whose process exited, with its code; forgotten here."""
        for key, child in list(children.items()):
            code = child.popen.poll()
            if code is None:
                continue
            del children[key]
            yield key, code

    def reap(self) -> None:
        """Record the end of runs and jobs whose process exited without recording it itself."""
        for run_id, code in self._exited(self.children):
            self._record_exit("runs", run_id, code, self.store.get_run(run_id))
        for job_id, code in self._exited(self.jobs):
            self._record_exit("jobs", job_id, code, self.store.get_job(job_id))

    def _record_exit(self, table: str, key: int, code: int, row: dict | None) -> None:
        if row is None or row["status"] != "running":
            return  # its process recorded its end, or it was cancelled
        if code < 0:
            status, error = "interrupted", f"interrupted: killed by signal {-code}"
        else:
            status, error = "failed", f"exited with code {code}" if code else "exited without recording a result"
        self.store.set_status(key, status, f"{error}\n{log_tail(row['log_path'])}", only_from=("running",),
                              table=table)
        log.info("%s %s ended with code %s", "run" if table == "runs" else "prediction job", key, code)

    def enforce_cancels(self) -> None:
        """A run cancelled elsewhere (another host, or before it had a process) is killed here, and so is one
        cancelled and queued again since the last look: its old attempt never trains beside the new one."""
        for children, get in ((self.children, self.store.get_run), (self.jobs, self.store.get_job)):
            for key, child in list(children.items()):
                row = get(key)
                if row is not None and row["status"] in LET_GO and child.popen.poll() is None:
                    kill_process_group(child.popen.pid)
                    child.popen.wait()

    def claim(self) -> bool:
        """Launch queued runs, then queued prediction jobs, while there is room; True if one was launched."""
        launched = False
        while self.busy() < self.max_parallel and not self.stopping:
            claimed = self.claim_one()
            if claimed is None:
                break
            run, gpus = claimed
            try:
                self.launch(run, gpus)
                launched = True
            except ConfigError as error:  # the run's own settings: it could start nowhere
                self.store.finish_run(run["id"], "failed", f"could not start: {error}")
            except Exception as error:  # this machine or the cluster, not the run: it waits in the queue
                log.exception("run %s could not be launched; it stays queued", run["id"])
                self.store.set_status(run["id"], "queued", f"waiting: the last try to start it failed: {error!r}",
                                      only_from=("running",))
                break
        while self.serves_jobs and self.busy() < self.max_parallel and not self.stopping:
            job = self.store.claim_job(None, self.worker_id, host=self.host)
            if job is None:
                break
            try:
                self.launch_job(job)
                launched = True
            except Exception as error:  # this machine, not the job: it waits in the queue
                log.exception("prediction job %s could not be launched; it stays queued", job["id"])
                self.store.set_status(job["id"], "queued", f"waiting: the last try to start it failed: {error!r}",
                                      only_from=("running",), table="jobs")
                break
        return launched

    def busy(self) -> int:
        """Slots taken: runs and prediction jobs this worker started."""
        return len(self.children) + len(self.jobs)

    def claim_one(self) -> tuple[dict, tuple[str, ...] | None] | None:
        """The next run to launch, claimed, with the GPUs it gets (None without GPUs); None if none can go."""
        if not self.gpus:
            run = self.store.claim_next_run(self.worker_id, self.device, self.host, self.max_parallel)
            return None if run is None else (run, None)
        queue = []
        for run in reversed(self.store.list_runs(status="queued")):  # oldest first
            config = RunConfig.from_dict(run["config"])
            if config.device not in ("auto", "cpu", self.device):
                continue
            needed = gpus_needed(config)
            if needed > len(self.gpus):  # it would wait for ever, and every GPU run behind it too
                self.store.set_status(run["id"], "failed", f"could not start: it needs {needed} GPUs and this "
                                      f"worker has {len(self.gpus)} (GPUs {','.join(self.gpus)})",
                                      only_from=("queued",))
                continue
            queue.append(QueuedRun(run["id"], needed))
        free = free_slots(self.gpus, self.runs_per_gpu, self.store.gpus_held(self.host))
        for run_id, gpus in plan_launches(queue, free, self.max_parallel - self.busy()):
            # the store refuses it if another worker took the run, or one of its GPUs, meanwhile
            if self.store.claim_run(run_id, self.worker_id, self.device, host=self.host, gpus=gpus,
                                    runs_per_gpu=self.runs_per_gpu):
                claimed = self.store.get_run(run_id)
                if claimed is not None:  # None: cancelled and deleted since the claim, nothing to launch
                    return claimed, gpus
        return None

    def run(self, exit_when_idle: bool = False) -> int:
        self.recover()
        last_beat = last_recover = time.monotonic()
        try:
            while not self.stopping:
                self.reap()
                self.enforce_cancels()
                launched = self.claim()
                if exit_when_idle and not self.busy() and not launched:
                    break
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    self.store.update_worker(self.worker_id, "busy" if self.busy() else "idle")
                    last_beat = now
                if now - last_recover >= RECOVER_EVERY_SECONDS:
                    self.recover()
                    last_recover = now
                time.sleep(self.poll_seconds)
        finally:
            self.let_go()
            self.store.update_worker(self.worker_id, "stopped")
        return 0

    def let_go(self) -> None:
        """What becomes of running runs as the worker stops: here nothing, each goes on in its own session
        and records its own end."""


def worker_gpus(device: str, requested: str | None) -> list[str]:
    """The GPUs a worker serving `device` hands out: `--gpus`, else every one it sees; none for a CPU worker."""
    if device == "cuda":
        return choose_gpus(requested, visible_gpus())
    if requested is not None:
        why = ("this machine shows no GPU (CUDA is not available here)" if not visible_gpus()
               else f"this worker serves {device}, not cuda")
        raise ConfigError(f"--gpus {requested}: {why}")
    return []


def serve(exit_when_idle: bool = False, max_parallel: int | None = None, poll_seconds: float = 1.0,
          worker_id: int | None = None, device: str | None = None, gpus: str | None = None,
          runs_per_gpu: int = 1, ray_address: str | None = None, cpus_per_run: int = 1,
          insecure: bool = False) -> int:
    """`python -m topicbert worker`: serve the queue here, or on the Ray cluster at `ray_address` (one that
    requires a token, unless `insecure`)."""
    if runs_per_gpu < 1:
        raise ConfigError(f"--runs-per-gpu must be at least 1, not {runs_per_gpu}")
    if insecure and ray_address is None:
        raise ConfigError("--insecure is for --ray: it lets the worker join a Ray cluster that asks for no token")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    if ray_address is not None:
        if gpus is not None or device is not None or runs_per_gpu != 1:
            raise ConfigError("--gpus, --runs-per-gpu and --device are for a worker on this machine: on Ray each "
                              "run asks the cluster for its GPUs")
        try:
            from .ray.worker import serve_on_ray  # Ray is needed on this path alone
        except ModuleNotFoundError as error:
            if error.name != "ray":
                raise
            raise ConfigError("--ray needs Ray, which is not installed here: pip install -r requirements.txt "
                              "(it pins ray)") from None
        return serve_on_ray(ray_address, exit_when_idle, max_parallel, poll_seconds, worker_id, cpus_per_run,
                            insecure)
    device = device or detect_device()
    pool = worker_gpus(device, gpus)
    with Store() as store:
        worker = Worker(store, device=device, max_parallel=max_parallel, poll_seconds=poll_seconds,
                        worker_id=worker_id, gpus=pool, runs_per_gpu=runs_per_gpu)
        log.info("worker %s on %s serving %s%s (at most %s at once), database %s", worker.worker_id, worker.host,
                 worker.device, f" on GPUs {','.join(pool)}" if pool else "", worker.max_parallel, store.path)
        return run_until_stopped(worker, exit_when_idle)


def run_until_stopped(worker: Worker, exit_when_idle: bool) -> int:
    """Run the worker's loop until SIGTERM or Ctrl-C (running runs go on), or until idle if asked."""

    def stop(signum: int, frame: object) -> None:
        worker.stopping = True  # finish the loop; running runs go on
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return worker.run(exit_when_idle)
