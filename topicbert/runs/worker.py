"""The queue's worker: claims queued runs and prediction jobs, has its launcher run them, recovers.

`python -m topicbert worker [--exit-when-idle] [--gpus 0,1,3]`. Each run, and each prediction job, is a
process group of its own (launchers.ProcessLauncher), launched, reaped, cancelled and recovered the same way,
each taking one slot. On a machine with GPUs each run gets GPUs of its own (gpus.py) through
CUDA_VISIBLE_DEVICES, and waits in the queue while none is free. A run outlives the worker: the runner itself
records its end. At start (and every so often) the worker marks runs whose process is gone as `interrupted`.
`--ray` serves the queue on a Ray cluster instead: the same worker, its runs Ray tasks (ray/launcher.py).
"""
from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence

from ..config import ConfigError, RunConfig
from .gpus import QueuedRun, choose_gpus, free_slots, gpus_needed, plan_launches, visible_gpus
from .launchers import NOUNS, TABLES, Ended, Launcher, ProcessLauncher
from .periodic import Periodic
from .processes import process_alive
from .ray import RAY_DEVICE
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

class Worker:
    """Serves the queue: claims queued runs (with the GPUs each gets) and prediction jobs, hands each to its
    launcher (process groups here by default, Ray tasks with `--ray`), records how what ended ended, kills what
    was cancelled, and marks runs whose process is gone `interrupted`. `gpus`: the GPUs it hands out (none:
    each run sees what this process sees); `runs_per_gpu` above 1 lets that many runs share a GPU.
    `max_parallel` defaults to what the launcher has room for, else every GPU's share, or 1 without GPUs."""

    def __init__(self, store: Store, device: str | None = None, max_parallel: int | None = None,
                 poll_seconds: float = 1.0, worker_id: int | None = None, gpus: Sequence[str] = (),
                 runs_per_gpu: int = 1, launcher: Launcher | None = None) -> None:
        self.store = store
        self.launcher = launcher or ProcessLauncher(store.path)
        self.device = device or detect_device()
        self.gpus = list(gpus)
        self.runs_per_gpu = runs_per_gpu
        self.fixed_max_parallel = max_parallel
        self.max_parallel = self.slots()
        self.poll_seconds = poll_seconds
        self.host = hostname()
        self.stopping = False
        if worker_id is None:  # a worker started by ensure_worker() takes over its reserved row
            worker_id = store.register_worker(os.getpid(), self.device)
        else:
            store.update_worker(worker_id, "idle", pid=os.getpid(), device=self.device)
        self.worker_id = worker_id

    @property
    def children(self) -> Mapping[int, object]:
        """The runs this worker launched and its launcher still watches, by run id."""
        return self.launcher.held("runs")

    @property
    def jobs(self) -> Mapping[int, object]:
        """The prediction jobs it launched, by job id (their own ids)."""
        return self.launcher.held("jobs")

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

    def reap(self) -> None:
        """Record the end of runs and jobs that ended without recording it themselves."""
        self.record(self.launcher.reap())

    def record(self, ended: list[Ended]) -> None:
        """Each end as its row should say, where the row still says running."""
        for end in ended:
            if self.store.set_status(end.key, end.status, end.error, only_from=("running",), table=end.table):
                log.warning("%s %s: %s", NOUNS[end.table], end.key, end.error.splitlines()[0])

    def enforce_cancels(self) -> None:
        """A run or job cancelled elsewhere (another host, or before it had a process) is stopped here, and so
        is one cancelled and queued again since the last look (its old attempt never trains beside the new one,
        nor holds a GPU the new one waits for), or deleted meanwhile."""
        for table, get in (("runs", self.store.get_run), ("jobs", self.store.get_job)):
            for key in list(self.launcher.held(table)):
                row = get(key)
                if (row is None or row["status"] in LET_GO) and self.launcher.cancel(table, key):
                    log.info("%s %s: its %s cancelled (the %s is %s)", NOUNS[table], key, self.launcher.what,
                             NOUNS[table], row["status"] if row else "deleted")

    def claim(self) -> bool:
        """Launch queued runs, then queued prediction jobs (where the launcher serves them), while there is
        room; True if one was launched."""
        self.max_parallel = self.slots()
        launched = False
        for table in TABLES if self.launcher.serves_jobs else ("runs",):
            while self.busy() < self.max_parallel and not self.stopping:
                claimed = self.claim_one() if table == "runs" else self.claim_job()
                if claimed is None:
                    break
                row, gpus = claimed
                try:
                    self.start(table, row, gpus)
                    launched = True
                except ConfigError as error:  # the run's own settings: it could start nowhere
                    self.store.set_status(row["id"], "failed", f"could not start: {error}", only_from=("running",),
                                          table=table)
                except Exception as error:  # this machine or the cluster, not the run: it waits in the queue
                    log.exception("%s %s could not be launched; it stays queued", NOUNS[table], row["id"])
                    self.store.set_status(row["id"], "queued", f"waiting: the last try to start it failed: {error!r}",
                                          only_from=("running",), table=table)
                    break
        return launched

    def start(self, table: str, row: dict, gpus: Sequence[str] | None) -> None:
        """Hand a claimed run or job to the launcher, and record its process where it has one here."""
        pid = self.launcher.launch(table, row, gpus)
        if pid is not None:  # a new session: its leader's pid is its process group's
            record_process = self.store.set_process if table == "runs" else self.store.set_job_process
            record_process(row["id"], pid, pid)

    def slots(self) -> int:
        """How many runs and jobs may go at once: as told, else what the launcher has room for now, else every
        GPU's share, or one."""
        return (self.fixed_max_parallel or self.launcher.capacity()
                or max(len(self.gpus) * self.runs_per_gpu, 1))

    def busy(self) -> int:
        """Slots taken: runs and prediction jobs this worker started."""
        return len(self.children) + len(self.jobs)

    def claim_job(self) -> tuple[dict, None] | None:
        """The oldest queued prediction job, claimed (it needs no GPU); None if there is none."""
        job = self.store.claim_job(None, self.worker_id, host=self.host)
        return None if job is None else (job, None)

    def claim_one(self) -> tuple[dict, tuple[str, ...] | None] | None:
        """The next run to launch, claimed, with the GPUs it gets (None without GPUs); None if none can go."""
        if self.launcher.places_runs:  # any run: the launcher finds it a place with the device it asks for
            for run in reversed(self.store.list_runs(status="queued")):  # oldest first
                if (claimed := self.take(run["id"])) is not None:
                    return claimed, None
            return None
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
            if (claimed := self.take(run_id, gpus)) is not None:
                return claimed, gpus
        return None

    def take(self, run_id: int, gpus: Sequence[str] = ()) -> dict | None:
        """Claim a queued run (on `gpus`); its row, or None if another worker took it (or one of its GPUs)
        meanwhile, or it was cancelled and deleted since the claim (nothing to launch)."""
        if not self.store.claim_run(run_id, self.worker_id, self.device, host=self.host, gpus=gpus,
                                    runs_per_gpu=self.runs_per_gpu):
            return None
        return self.store.get_run(run_id)

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
            self.record(self.launcher.let_go())
            self.store.update_worker(self.worker_id, "stopped")
        return 0


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
        return serve_on_ray(ray_address, insecure, cpus_per_run, exit_when_idle, max_parallel=max_parallel,
                            poll_seconds=poll_seconds, worker_id=worker_id)
    device = device or detect_device()
    pool = worker_gpus(device, gpus)
    with Store() as store:
        worker = Worker(store, device=device, max_parallel=max_parallel, poll_seconds=poll_seconds,
                        worker_id=worker_id, gpus=pool, runs_per_gpu=runs_per_gpu)
        log.info("worker %s on %s serving %s%s (at most %s at once), database %s", worker.worker_id, worker.host,
                 worker.device, f" on GPUs {','.join(pool)}" if pool else "", worker.max_parallel, store.path)
        return run_until_stopped(worker, exit_when_idle)


def serve_on_ray(address: str, insecure: bool, cpus_per_run: int, exit_when_idle: bool,
                 max_parallel: int | None, poll_seconds: float, worker_id: int | None) -> int:
    """The queue served on the Ray cluster at `address`: a Worker whose runs are Ray tasks (ray/launcher.py),
    and a thread that watches the cluster's head."""
    try:
        from .ray.cluster import joined  # Ray is needed on this path alone
        from .ray.launcher import RayLauncher
    except ModuleNotFoundError as error:
        if error.name != "ray":
            raise
        raise ConfigError("--ray needs Ray, which is not installed here: pip install -r requirements.txt "
                          "(it pins ray)") from None
    with joined(address, insecure) as resolved, Store() as store:
        launcher = RayLauncher(store, resolved, cpus_per_run)
        worker = Worker(store, device=RAY_DEVICE, max_parallel=max_parallel, poll_seconds=poll_seconds,
                        worker_id=worker_id, launcher=launcher)
        log.info("worker %s serving the queue on the Ray cluster at %s (at most %s at once now), database %s",
                 worker.worker_id, resolved, worker.max_parallel, store.path)
        with Periodic(store.another_connection, HEARTBEAT_SECONDS,
                      lambda own: launcher.watch_head(own, worker.worker_id)):
            return run_until_stopped(worker, exit_when_idle)


def run_until_stopped(worker: Worker, exit_when_idle: bool) -> int:
    """Run the worker's loop until SIGTERM or Ctrl-C (running runs go on), or until idle if asked."""

    def stop(signum: int, frame: object) -> None:
        worker.stopping = True  # finish the loop; running runs go on
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return worker.run(exit_when_idle)
