"""The queue's worker: claims queued runs, runs each in its own process group, recovers.

`python -m topicbert worker [--exit-when-idle]`. Each run is `python -m topicbert runner RUN_ID`
(through torchrun when its config asks for several processes) in a new session, its output in
the run's log. A run outlives the worker:
the runner itself records its end. At start (and every so often) the worker marks runs
whose process is gone as `interrupted`.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

from ..training.device import choose_device
from .processes import child_environment, kill_process_group, log_tail, process_alive, runner_command
from .store import Store, hostname

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
WORKER_MAX_AGE = 15.0        # a worker silent for longer is presumed dead
RUN_STALE_SECONDS = 300.0    # a run on another host silent for longer is presumed dead
RECOVER_EVERY_SECONDS = 30.0


def detect_device() -> str:
    """The device kind this worker serves: $TOPICBERT_DEVICE, else the kind a run would choose."""
    return os.environ.get("TOPICBERT_DEVICE") or choose_device("auto").type


# ---------------------------------------------------------------- the worker

@dataclass
class Child:
    run_id: int
    popen: subprocess.Popen
    log_file: IO[bytes]


class Worker:
    def __init__(self, store: Store, device: Optional[str] = None, max_parallel: int = 1,
                 poll_seconds: float = 1.0, worker_id: Optional[int] = None) -> None:
        self.store = store
        self.device = device or detect_device()
        self.max_parallel = max_parallel
        self.poll_seconds = poll_seconds
        self.host = hostname()
        self.children: dict[int, Child] = {}
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
            if run["id"] in self.children:
                continue
            if run["host"] == self.host:
                if run["pid"] is None:
                    # claimed, not yet launched: fine while the claiming worker lives
                    claimer = self.store.get_worker(run["worker_id"]) if run["worker_id"] else None
                    if claimer and claimer["state"] != "stopped" and now - claimer["heartbeat_at"] < WORKER_MAX_AGE:
                        continue
                    reason = "its worker died before starting it"
                elif process_alive(run["pid"], run["started_at"]):
                    continue
                else:
                    reason = f"its process {run['pid']} is gone"
            else:
                # another machine's pids cannot be checked here: go by its heartbeat
                if now - (run["heartbeat_at"] or 0) < RUN_STALE_SECONDS:
                    continue
                reason = f"no heartbeat from host {run['host']} for {RUN_STALE_SECONDS:.0f} s"
            if self.store.mark_interrupted(run["id"], f"interrupted: {reason}"):
                log.warning("run %s interrupted: %s", run["id"], reason)
                lost.append(run["id"])
        return lost

    # -- launching and watching

    def launch(self, run: dict) -> None:
        run_dir = Path(run["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(run["log_path"], "ab")
        popen = subprocess.Popen(
            runner_command(run["id"], run["config"].get("nproc", 1)), stdin=subprocess.DEVNULL,
            stdout=log_file, stderr=subprocess.STDOUT, cwd=run_dir, env=child_environment(self.store.path),
            start_new_session=True)  # its own process group: cancel kills exactly this run
        self.store.set_process(run["id"], popen.pid, popen.pid)
        self.children[run["id"]] = Child(run["id"], popen, log_file)
        log.info("run %s started, pid %s", run["id"], popen.pid)

    def reap(self) -> None:
        """Record the end of runs whose process exited without recording it itself."""
        for run_id, child in list(self.children.items()):
            code = child.popen.poll()
            if code is None:
                continue
            child.log_file.close()
            del self.children[run_id]
            run = self.store.get_run(run_id)
            if run is None or run["status"] != "running":
                continue  # the runner recorded its end, or the run was cancelled
            if code < 0:
                self.store.mark_interrupted(run_id, f"interrupted: killed by signal {-code}\n"
                                                    f"{log_tail(run['log_path'])}")
            else:
                error = f"exited with code {code}" if code else "exited without recording a result"
                self.store.finish_run(run_id, "failed", f"{error}\n{log_tail(run['log_path'])}")
            log.info("run %s ended with code %s", run_id, code)

    def enforce_cancels(self) -> None:
        """A run cancelled elsewhere (another host, or before it had a process) is killed here."""
        for run_id, child in list(self.children.items()):
            run = self.store.get_run(run_id)
            if run is not None and run["status"] == "cancelled" and child.popen.poll() is None:
                kill_process_group(child.popen.pid)
                child.popen.wait()

    def claim(self) -> bool:
        """Launch queued runs while there is room; True if one was launched."""
        launched = False
        while len(self.children) < self.max_parallel and not self.stopping:
            run = self.store.claim_next_run(self.worker_id, self.device, self.host, self.max_parallel)
            if run is None:
                break
            try:
                self.launch(run)
                launched = True
            except Exception as error:
                log.exception("run %s could not be launched", run["id"])
                self.store.finish_run(run["id"], "failed", f"could not start: {error!r}")
        return launched

    def run(self, exit_when_idle: bool = False) -> int:
        self.recover()
        last_beat = last_recover = time.monotonic()
        try:
            while not self.stopping:
                self.reap()
                self.enforce_cancels()
                launched = self.claim()
                if exit_when_idle and not self.children and not launched:
                    break
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    self.store.update_worker(self.worker_id, "busy" if self.children else "idle")
                    last_beat = now
                if now - last_recover >= RECOVER_EVERY_SECONDS:
                    self.recover()
                    last_recover = now
                time.sleep(self.poll_seconds)
        finally:
            # running runs go on in their own sessions; they record their own end
            self.store.update_worker(self.worker_id, "stopped")
        return 0


def serve(exit_when_idle: bool = False, max_parallel: int = 1, poll_seconds: float = 1.0,
                worker_id: Optional[int] = None, device: Optional[str] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    with Store() as store:
        worker = Worker(store, device=device, max_parallel=max_parallel, poll_seconds=poll_seconds,
                        worker_id=worker_id)
        log.info("worker %s on %s serving %s (at most %s at once), database %s",
                 worker.worker_id, worker.host, worker.device, max_parallel, store.path)

        def stop(signum: int, frame: object) -> None:
            worker.stopping = True  # finish the loop; running runs go on
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return worker.run(exit_when_idle)
