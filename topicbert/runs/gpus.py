"""Which GPUs of this machine the worker hands out, and which queued runs get which.

A GPU is named as nvidia-smi numbers it (or by its UUID, where CUDA_VISIBLE_DEVICES names it so), and
a run gets its GPUs through CUDA_VISIBLE_DEVICES: one for a run, N for a run with N processes
(torchrun, one rank per GPU). The assignment is a pure function of the free GPUs and the queue, so it
is tested without a GPU; the worker asks the store for both, and the store refuses a claim that would
put more runs on a GPU than it may hold.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..config import ConfigError, RunConfig

# every run's process numbers GPUs as NVML and nvidia-smi do (by PCI bus): CUDA's default order puts the
# fastest first, so on a server of mixed GPUs "GPU 1" could train on one card and meter another
CUDA_ORDER = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


@dataclass(frozen=True)
class QueuedRun:
    id: int
    gpus: int  # GPUs it needs: one per process on a GPU worker, none for a CPU run


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES's entries where it is set, else every GPU
    CUDA counts; [] without CUDA."""
    import torch  # the worker has it loaded already; a pure caller of this module does not need it

    if not torch.cuda.is_available():
        return []
    count = torch.cuda.device_count()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return [str(i) for i in range(count)]
    return [entry.strip() for entry in listed.split(",") if entry.strip()][:count]


def choose_gpus(requested: str | None, visible: Sequence[str]) -> list[str]:
    """The GPUs `--gpus` names ("0,1,3"), each one this machine shows; every visible one when not given."""
    if requested is None:
        return list(visible)
    chosen = [entry.strip() for entry in requested.split(",") if entry.strip()]
    if not visible:
        raise ConfigError(f"--gpus {requested}: this machine shows no GPU (CUDA is not available here)")
    unknown = [gpu for gpu in chosen if gpu not in visible]
    if unknown or not chosen:
        raise ConfigError(f"--gpus {requested}: no GPU {', '.join(unknown) or '(none named)'} here; "
                          f"this machine shows GPUs {', '.join(visible)}")
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"--gpus {requested}: a GPU is named twice (--runs-per-gpu shares a GPU between runs)")
    return chosen


def gpus_needed(config: RunConfig) -> int:
    """GPUs a run asks for where there are some: one per process; none when it asks for the CPU, or trains
    no encoder (the TF-IDF reference)."""
    return 0 if config.device == "cpu" or not config.uses_encoder else max(config.nproc, 1)


def free_slots(pool: Sequence[str], runs_per_gpu: int, held: Sequence[str]) -> dict[str, int]:
    """How many more runs each GPU of the pool may take, in the pool's order (`held`: one entry per run
    holding a GPU, as the store lists them)."""
    return {gpu: max(runs_per_gpu - list(held).count(gpu), 0) for gpu in pool}


def plan_launches(queue: Sequence[QueuedRun], free: Mapping[str, int], room: int) -> list[tuple[int, tuple[str, ...]]]:
    """Which queued runs start now, on which GPUs: (run id, GPUs) in queue order, at most `room` runs.

    A run takes the GPUs with the most room left (the first in the pool on ties), each at most once.
    Runs go in queue order: once a GPU run does not fit, the GPU runs behind it wait too, so a run that
    needs several GPUs is not overtaken for ever by runs that need one. CPU runs (no GPU) still go."""
    free = dict(free)
    order = {gpu: i for i, gpu in enumerate(free)}
    launches: list[tuple[int, tuple[str, ...]]] = []
    gpu_runs_wait = False
    for run in queue:
        if len(launches) >= room:
            break
        if run.gpus == 0:
            launches.append((run.id, ()))
            continue
        if gpu_runs_wait:
            continue
        roomiest = sorted((gpu for gpu in free if free[gpu] > 0), key=lambda gpu: (-free[gpu], order[gpu]))
        if len(roomiest) < run.gpus:
            gpu_runs_wait = True
            continue
        taken = tuple(sorted(roomiest[:run.gpus], key=lambda gpu: order[gpu]))
        for gpu in taken:
            free[gpu] -= 1
        launches.append((run.id, taken))
    return launches
