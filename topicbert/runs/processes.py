"""The processes behind runs: launching a run or a worker in a session of its own, telling whether
a pid is still the process we started, killing a run's whole process group, reading a log's tail."""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from .gpus import CUDA_ORDER

KILL_GRACE_SECONDS = 5.0
LOG_TAIL_CHARS = 4000
# a run's leader is started right after the claim; a process born later reuses its pid
PID_BIRTH_SLACK_SECONDS = 60.0
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "topicbert"]


def runner_command(run_id: int, nproc: int) -> list[str]:
    """One process: the runner; several: the runner under torchrun on this machine."""
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                "-m", "topicbert", "runner", str(run_id)]
    return [*CLI, "runner", str(run_id)]


def job_command(job_id: int) -> list[str]:
    """A prediction job's process (studio/predict_job.py)."""
    return [*CLI, "predict-job", str(job_id)]


def worker_command(worker_id: int) -> list[str]:
    """A worker that takes over the row `worker_id` reserved for it (see services.ensure_worker)."""
    return [*CLI, "worker", "--worker-id", str(worker_id)]


def child_environment(db_path: Path, gpus: Sequence[str] | None = None) -> dict[str, str]:
    """What a worker or a runner started from here needs: the same database, this source tree, GPUs
    numbered as nvidia-smi numbers them, and with `gpus` the GPUs it may see, alone (none: a CPU run on
    a GPU machine never touches one)."""
    env = {**os.environ, **CUDA_ORDER}
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    env["TOPICBERT_HOME"] = str(Path(db_path).parent)
    # the package need not be installed: the child imports it from this source tree
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def process_alive(pid: int | None, started_at: float | None = None) -> bool:
    """Is `pid` a live (non-zombie) process, born by `started_at` + slack (not a reused pid)?"""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_at is None or process.create_time() <= started_at + PID_BIRTH_SLACK_SECONDS
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _group_members(pgids: set[int]) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) in pgids:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def _signal_groups(pgids: set[int], sig: int) -> None:
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def kill_process_group(pgid: int, grace: float = KILL_GRACE_SECONDS) -> bool:
    """SIGTERM the run's process group, SIGKILL what is left after `grace` seconds.

    torchrun starts each rank in a session of its own, so the groups of the leader's
    descendants are signalled too. True if nothing is left alive."""
    pgids = {pgid}
    try:
        for child in psutil.Process(pgid).children(recursive=True):
            pgids.add(os.getpgid(child.pid))
    except (psutil.NoSuchProcess, ProcessLookupError):
        pass
    _signal_groups(pgids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_members(pgids) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_members(pgids):
        _signal_groups(pgids, signal.SIGKILL)
        deadline = time.monotonic() + 2.0
        while _group_members(pgids) and time.monotonic() < deadline:
            time.sleep(0.05)
    return not _group_members(pgids)


def log_tail(path: str | None, chars: int = LOG_TAIL_CHARS) -> str:
    if not path or not Path(path).exists():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - chars))
        return f.read().decode("utf-8", "replace")
