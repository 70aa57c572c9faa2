"""Model FLOPs of training an encoder, and the model FLOPs utilisation (MFU) they give on a device.

The count is the usual one (Kaplan et al. 2020; PaLM's MFU): per layer and computed position,
8 H^2 (the query, key, value and output projections) + 4 H I (the feed-forward pair) multiply-adds
times 2, plus 4 T H for the attention scores and their weighted sum over a sequence of width T;
training is three times the forward pass. Padding positions are computed, so they count; the
embeddings, the classifier head and the topic model are left out (under 1% at these sizes).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

# dense bf16 peak of the GPUs a loan may bring, in TFLOP/s (vendor data sheets), by name fragment;
# the first fragment found in the device's name wins, so the more specific come first
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("H800", 989.0),
                    ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0))


def peak_tflops(device: torch.device) -> float | None:
    """The dense bf16 peak of a known GPU, found by its name; None for a CPU or an unknown GPU."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device).lower()
    return next((tflops for fragment, tflops in PEAK_BF16_TFLOPS if fragment.lower() in name), None)


def forward_flops_per_sequence(width: int, layers: int, hidden: int, intermediate: int) -> float:
    """Forward FLOPs of one sequence of `width` computed positions through the encoder's layers."""
    per_position = 2 * (4 * hidden * hidden + 2 * hidden * intermediate) + 4 * width * hidden
    return float(layers * width * per_position)


def training_flops(batch_shapes: Iterable[tuple[int, int]], layers: int, hidden: int, intermediate: int) -> float:
    """FLOPs of training steps over batches of (rows, width): forward and backward, three forwards' worth."""
    return sum(3 * rows * forward_flops_per_sequence(width, layers, hidden, intermediate)
               for rows, width in batch_shapes)


def mfu(flops: float, seconds: float, peak: float | None) -> float | None:
    """The share of the device's peak those FLOPs used over `seconds`; None when the peak is unknown."""
    if not peak or seconds <= 0:
        return None
    return flops / seconds / (peak * 1e12)
