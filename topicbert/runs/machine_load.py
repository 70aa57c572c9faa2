"""How busy other processes kept the machine while a run trained.

Every few seconds the runner reads the CPU time the whole machine spent and the CPU time of the run's
own processes (its process group: the runner, any child, every torchrun rank on this machine); what
is left is other processes' load, in cores. On a shared machine that load slows the run, and where
the energy is read from a machine-wide counter (RAPL) it is counted in the run's kWh: the
measurement badge on Runs and Compare says which (studio/trust.py).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import psutil

from .periodic import Periodic
from .run_store import RunStore

SAMPLE_SECONDS = 5.0


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (idle, I/O wait and time stolen
    by a hypervisor left out; guest time is already inside user time)."""
    times = psutil.cpu_times()
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


def group_cpu_seconds(pgid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each live process in the process group `pgid`, by pid."""
    seconds = {}
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                times = process.cpu_times()
                seconds[process.pid] = times.user + times.system
        except (psutil.Error, OSError):  # gone meanwhile, or not ours to read
            continue
    return seconds


class LoadAccount:
    """Other processes' CPU load from successive readings of the machine and of the run's processes."""

    def __init__(self, cores: int) -> None:
        self.cores = cores
        self.seconds = 0.0          # wall time covered by the intervals
        self.others_core_seconds = 0.0
        self.own_core_seconds = 0.0
        self.others_max = 0.0       # the busiest interval, in cores
        self.intervals = 0
        self._last: tuple[float, float, dict[int, float]] | None = None

    def add(self, wall: float, machine_busy: float, own: dict[int, float]) -> None:
        """One reading: wall clock seconds, the machine's busy CPU seconds, the run's CPU seconds by pid."""
        if self._last is not None:
            last_wall, last_busy, last_own = self._last
            elapsed = wall - last_wall
            if elapsed > 0:
                # a process that started since the last reading spent all its CPU time in this interval;
                # one that ended took its time with it (at most one interval of it is missed)
                own_spent = sum(max(0.0, spent - last_own.get(pid, 0.0)) for pid, spent in own.items())
                others = max(0.0, machine_busy - last_busy - own_spent)
                self.seconds += elapsed
                self.others_core_seconds += others
                self.own_core_seconds += own_spent
                self.others_max = max(self.others_max, others / elapsed)
                self.intervals += 1
        self._last = (wall, machine_busy, own)

    def summary(self) -> dict | None:
        """Mean and peak cores other processes kept busy, the run's own mean, over how long; None before
        two readings."""
        if not self.intervals:
            return None
        return {"cores": self.cores, "seconds": self.seconds, "samples": self.intervals,
                "others_mean": self.others_core_seconds / self.seconds, "others_max": self.others_max,
                "own_mean": self.own_core_seconds / self.seconds}


class MachineLoadSampler:
    """Samples the machine's load every `every` seconds while the run trains (a Periodic thread) and keeps the
    summary in the store (a connection of its own, from `connect`); a sample at the start and a last one when
    it stops, so a short run has one too."""

    def __init__(self, connect: Callable[[], AbstractContextManager[RunStore]], run_id: int,
                 every: float = SAMPLE_SECONDS, pgid: int | None = None,
                 read_machine: Callable[[], float] = machine_busy_seconds,
                 read_group: Callable[[int], dict[int, float]] = group_cpu_seconds) -> None:
        self.connect, self.run_id = connect, run_id
        self.pgid = os.getpgid(0) if pgid is None else pgid
        self.read_machine, self.read_group = read_machine, read_group
        self.account = LoadAccount(psutil.cpu_count() or 1)
        self._thread = Periodic(connect, every, self._sample_and_save)

    def sample(self) -> None:
        self.account.add(time.monotonic(), self.read_machine(), self.read_group(self.pgid))

    def _sample_and_save(self, store: RunStore) -> None:
        self.sample()
        summary = self.account.summary()
        if summary is not None:
            store.set_machine_load(self.run_id, summary)

    def __enter__(self) -> MachineLoadSampler:
        self.sample()
        self._thread.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.__exit__(*exc)
        with self.connect() as store:
            self._sample_and_save(store)
