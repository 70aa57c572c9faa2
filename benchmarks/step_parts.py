"""Where one fine-tuning step's time goes (forward and backward, gradient clipping, the optimiser step), for
batches of several shapes and with AdamW fused or per tensor: what holds a short sequence length back besides
its word pieces. Random word pieces through the default encoder, bf16 autocast as a run on this CPU uses it;
the mean of 6 steps after 2 of warm-up. Needs a quiet machine.

    python -m benchmarks.step_parts --shapes 16x128,64x128,16x512
"""
from __future__ import annotations

import time

import torch

from benchmarks import script_parser
from topicbert.config import RunConfig
from topicbert.training.device import autocast
from topicbert.training.loop import build_model, make_optimizer

WARM_UP, MEASURED = 2, 6


def step_parts(batch_size: int, max_len: int, fused: bool) -> tuple[float, float, float]:
    """Mean seconds of (forward and backward, clipping, optimiser step and zeroing the gradients)."""
    cpu = torch.device("cpu")
    config = RunConfig(corpus="", variant="bert", max_len=max_len, fused_optimizer=fused)
    torch.manual_seed(0)
    model = build_model(config, 5, None)
    optimizer = make_optimizer(model, config, cpu)
    ids = torch.randint(1000, 20000, (batch_size, max_len))
    labels = torch.randint(0, 5, (batch_size,))
    totals = [0.0, 0.0, 0.0]
    for step in range(WARM_UP + MEASURED):
        marks = [time.perf_counter()]
        with autocast(cpu, config):
            loss = model(ids, torch.ones_like(ids), None, labels).loss
        loss.backward()
        marks.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        marks.append(time.perf_counter())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        marks.append(time.perf_counter())
        if step >= WARM_UP:
            for i in range(3):
                totals[i] += marks[i + 1] - marks[i]
    return totals[0] / MEASURED, totals[1] / MEASURED, totals[2] / MEASURED


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--shapes", default="16x128,64x128,16x512", help="batch x word pieces, comma-separated")
    args = parser.parse_args(argv)
    print("| batch x pieces | optimiser | forward + backward ms | clip ms | optimiser ms | word pieces / s |")
    print("|" + " --- |" * 6)
    for shape in args.shapes.split(","):
        batch_size, max_len = (int(part) for part in shape.split("x"))
        for fused in (True, False):
            forward_backward, clip, optimiser = step_parts(batch_size, max_len, fused)
            total = forward_backward + clip + optimiser
            print(f"| {batch_size} x {max_len} | {'fused' if fused else 'per tensor'} | {forward_backward * 1e3:.0f} "
                  f"| {clip * 1e3:.0f} | {optimiser * 1e3:.0f} | {batch_size * max_len / total:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
