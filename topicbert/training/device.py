"""Where a run computes: the one place a device is chosen, the torchrun world, bf16 autocast, the fused
optimiser."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

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


# /proc/cpuinfo flags of bf16 arithmetic in hardware: x86's AMX and AVX512-BF16, Arm's BF16 extension
NATIVE_BF16_FLAGS = {"amx_bf16", "avx512_bf16", "bf16"}


@lru_cache(maxsize=1)
def cpu_info() -> dict[str, str]:
    """/proc/cpuinfo's fields, by lower-case name, as the first CPU lists them (empty where Linux does not tell)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for name, sep, value in (line.partition(":") for line in lines):
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    return fields


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware. Without it autocast emulates bf16 and is slower than
    float32, so a CPU run asks for bf16 only where this holds (x86 lists `flags`, Arm `features`)."""
    info = cpu_info()
    return bool(set((info.get("flags") or info.get("features") or "").split()) & NATIVE_BF16_FLAGS)


def uses_bf16(device: torch.device, config: RunConfig) -> bool:
    """Whether steps and evaluations run under bf16 autocast: on CUDA with `bf16`, on CPU with `cpu_bf16`
    where the CPU has bf16 in hardware."""
    return (device.type == "cuda" and config.bf16) or (device.type == "cpu" and config.cpu_bf16
                                                         and cpu_has_native_bf16())


# devices where PyTorch's Adam and AdamW have a fused kernel: one pass over all parameters instead of a
# dozen small operations per tensor (MiniLM's optimiser step on the 2-core CPU: 20 ms instead of 86)
FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def fused_optimizer(device: torch.device, config: RunConfig) -> bool | None:
    """Adam's and AdamW's `fused`: True where the run asks for the fused kernel and the device has it; else
    None, PyTorch's own choice (False would also turn off the per-tensor-group kernels CUDA gets by default)."""
    return True if config.fused_optimizer and device.type in FUSED_OPTIMIZER_DEVICES else None


def autocast(device: torch.device, config: RunConfig) -> torch.autocast:
    """bf16 autocast where the run asks for it on this device (uses_bf16); a no-op elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(device, config))
