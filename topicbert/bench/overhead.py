"""Our training loop's cost over a bare forward/backward/step loop on the same batches."""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from ..config import RunConfig
from ..data.batching import collate
from ..data.splits import PreparedData
from ..training.callbacks import Callback
from ..training.device import autocast, choose_device
from ..training.loop import build_model, epoch_batches, make_optimizer, train


def _finish(device: torch.device) -> None:
    """Wait for the GPU's queued work: without it a CUDA step's time is only the time to queue it,
    and a loop that waits elsewhere (a copy from pageable memory does) would look slower than one that does not."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _StepClock(Callback):
    """Seconds between consecutive optimiser steps of train(): each step's whole cost after the first."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: list[float] = []
        self._last: float | None = None

    def on_step(self, step: int, total_steps: int) -> None:
        _finish(self.device)
        now = time.perf_counter()
        if self._last is not None:
            self.seconds.append(now - self._last)
        self._last = now


def loop_overhead(config: RunConfig, data: PreparedData, pad_id: int, n_steps: int = 8, rounds: int = 3) -> dict:
    """Our trainer's seconds per step against a bare forward/backward/step over the same batches.

    Rounds alternate bare and ours; step i of one is paired with step i of the other (the
    same batch) and the overhead is the median of those ratios, so a burst of load from
    elsewhere on the machine spoils a few pairs, not the figure. On CUDA both wait for the GPU at
    the end of each step, so both time whole steps.
    """
    device = choose_device(config.device)
    one_epoch = config.replace(epochs=1, tm_pretrain_epochs=1, resumable_checkpoints=False, compile=False)
    few = config.eval_batch_size  # train()'s own evaluations are not timed: keep them short
    subset = replace(data, train=data.train.head(n_steps * config.batch_size),
                     validation=data.validation.head(few), test=data.test.head(few))
    batches = epoch_batches(subset.train, one_epoch, 0, 0, 1)
    train_split = subset.train
    collated = [collate([train_split.examples[i] for i in b], train_split.labels, train_split.bow, pad_id).to(device)
                for b in batches]

    def bare() -> list[float]:
        torch.manual_seed(config.seed)
        model = build_model(config, len(data.classes), len(data.vocabulary) if data.vocabulary else None).to(device)
        model.train()
        optimizer = make_optimizer(model, config, device)
        seconds = []
        for batch in collated:
            started = time.perf_counter()
            with autocast(device, config):  # the same precision as ours
                loss = model(batch.input_ids, batch.attention_mask, batch.bow, batch.labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            _finish(device)
            seconds.append(time.perf_counter() - started)
        return seconds[1:]  # the first step warms allocators up, as _StepClock leaves it out

    def ours() -> list[float]:
        clock = _StepClock(device)
        with tempfile.TemporaryDirectory() as tmp:
            train(one_epoch, Path(tmp), callbacks=[clock], data=subset)
        return clock.seconds

    ratios, bare_steps, our_steps = [], [], []
    for _ in range(rounds):
        bare_round, our_round = bare(), ours()
        ratios += [o / b for o, b in zip(our_round, bare_round, strict=True)]
        bare_steps += bare_round
        our_steps += our_round
    return {"steps": len(ratios), "rounds": rounds, "ours_seconds_per_step": statistics.median(our_steps),
            "bare_seconds_per_step": statistics.median(bare_steps), "overhead": statistics.median(ratios) - 1}
