"""What a worker's runs and prediction jobs run as: the Launcher each kind follows, and process groups on this
machine (ProcessLauncher, the worker's own; Ray tasks are ray/launcher.py's).

The worker (worker.py) keeps the queue: what to claim, for which GPUs, the store's rows. A launcher only
starts what it is handed, watches it, cancels it and lets it go as the worker stops, and says how what it
started ended where its own code did not record it (Ended), which the worker records.
"""
from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .processes import child_environment, job_command, kill_process_group, log_tail, runner_command

log = logging.getLogger(__name__)

TABLES = ("runs", "jobs")  # what a worker launches, by the store's table: runs, and prediction jobs
NOUNS = {"runs": "run", "jobs": "prediction job"}


@dataclass(frozen=True)
class Ended:
    """A run or job (`table`, `key`) that ended as `status` with `error`, as the store should say if its row
    still says running (its code records its own end, and a cancel its own)."""
    table: str
    key: int
    status: str
    error: str


class Launcher(Protocol):
    """Starts, watches, cancels and lets go of what a worker runs. `serves_jobs`: prediction jobs run here
    too; `places_runs`: where each run goes and which GPUs it gets are the launcher's, so the worker claims
    runs of any device and hands out no GPU; `what`: what a run runs as, in the worker's log."""

    serves_jobs: bool
    places_runs: bool
    what: str

    def capacity(self) -> int | None:
        """How many it can run at once now; None: the worker's own count (its GPUs' shares, or one)."""
        ...

    def held(self, table: str) -> Mapping[int, object]:
        """What it started from `table` and still watches, by key."""
        ...

    def launch(self, table: str, row: dict, gpus: Sequence[str] | None = None) -> int | None:
        """Start the claimed run or job `row` (a run on `gpus`, None: what the worker sees); the pid of its
        process group's leader, None where it has none here. ConfigError: the row's own settings refuse it."""
        ...

    def reap(self) -> list[Ended]:
        """Forget what ended since the last look; how each ended."""
        ...

    def cancel(self, table: str, key: int) -> bool:
        """Stop what runs for `key` (its row says cancelled, or queued again, or is gone); True if it stopped."""
        ...

    def let_go(self) -> list[Ended]:
        """The worker stops: what becomes of what still runs; the ends that says."""
        ...


@dataclass
class Child:
    popen: subprocess.Popen
    log_path: str


class ProcessLauncher:
    """Each run (`python -m topicbert runner RUN_ID`, through torchrun when its config asks for several
    processes) and each prediction job (`python -m topicbert predict-job JOB_ID`) a process group of its
    own, in a new session (cancel kills exactly it), its output in its log. They outlive the worker."""

    serves_jobs = True
    places_runs = False
    what = "process group"

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.children: dict[str, dict[int, Child]] = {table: {} for table in TABLES}

    def capacity(self) -> int | None:
        return None

    def held(self, table: str) -> dict[int, Child]:
        return self.children[table]

    def launch(self, table: str, row: dict, gpus: Sequence[str] | None = None) -> int:
        if table == "runs":
            folder, command = Path(row["run_dir"]), runner_command(row["id"], row["config"].get("nproc", 1))
        else:
            folder, command = Path(row["job_dir"]), job_command(row["id"])
        folder.mkdir(parents=True, exist_ok=True)
        with open(row["log_path"], "ab") as log_file:  # the child writes to its own copy of the descriptor
            popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                     cwd=folder, env=child_environment(self.db_path, gpus), start_new_session=True)
        self.children[table][row["id"]] = Child(popen, row["log_path"])
        log.info("%s %s started, pid %s%s", NOUNS[table], row["id"], popen.pid,
                 f", GPUs {','.join(gpus)}" if gpus else "")
        return popen.pid

    def reap(self) -> list[Ended]:
        ended = []
        for table, children in self.children.items():
            for key, child in list(children.items()):
                code = child.popen.poll()
                if code is None:
                    continue
                del children[key]
                if code < 0:
                    status, error = "interrupted", f"interrupted: killed by signal {-code}"
                else:
                    status = "failed"
                    error = f"exited with code {code}" if code else "exited without recording a result"
                ended.append(Ended(table, key, status, f"{error}\n{log_tail(child.log_path)}"))
        return ended

    def cancel(self, table: str, key: int) -> bool:
        """Its process group killed; the worker forgets it at its next reap."""
        child = self.children[table][key]
        if child.popen.poll() is not None:
            return False
        kill_process_group(child.popen.pid)
        child.popen.wait()
        return True

    def let_go(self) -> list[Ended]:
        """Nothing: each goes on in its own session and records its own end."""
        return []
