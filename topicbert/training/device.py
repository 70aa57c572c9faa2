"""Where a run computes: the one place a device is chosen, the torchrun world, bf16 autocast."""
from __future__ import annotations

import os

import torch

from ..config import RunConfig


def choose_device(requested: str = "auto") -> torch.device:
    """`requested`, or else CUDA, then Apple MPS, then CPU. A CUDA device gets an index: this
    torchrun rank's local GPU ($LOCAL_RANK), 0 when run alone."""
    if requested == "auto":
        if torch.cuda.is_available():
            requested = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            requested = "mps"
        else:
            requested = "cpu"
    device = torch.device(requested)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main_process() -> bool:
    return world()[0] == 0


def uses_bf16(device: torch.device, config: RunConfig) -> bool:
    """Whether steps and evaluations run under bf16 autocast: on CUDA with `bf16`, on CPU with `cpu_bf16`."""
    return (device.type == "cuda" and config.bf16) or (device.type == "cpu" and config.cpu_bf16)


def autocast(device: torch.device, config: RunConfig) -> torch.autocast:
    """bf16 autocast where the run asks for it on this device (uses_bf16); a no-op elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, config))
