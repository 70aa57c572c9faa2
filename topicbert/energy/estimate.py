"""What a run will cost before it runs: time, kWh and CO2, from past runs on this machine.

The unit is the training word piece: a run's wall time over the word pieces its encoder
read in training (what train() reports as tokens_processed). Finished runs of the same
encoder give the rate, those in the same precision (bf16 or float32) first; without any,
the rate measured for the design (default encoder, two CPU cores, float32) stands in, and
the explanation says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import RunConfig

# DESIGN.md, measured on two CPU cores with the default encoder and attention dropout 0:
# 1,866 word pieces a second at 128, 1,620 at 512 (forward, backward and AdamW)
FALLBACK_PIECES_PER_SECOND = 1_700.0
# a guess for a busy desktop CPU package and memory, used before any run was metered here
FALLBACK_WATTS = 50.0


@dataclass(frozen=True)
class PastRun:
    """What a finished run on this machine tells about speed and power."""
    model: str
    variant: str
    max_len: int
    pieces: int            # training word pieces the encoder read
    bf16: bool             # whether it computed under bf16 autocast
    seconds: float         # the run's wall time
    kwh: float | None
    kg_co2e: float | None


@dataclass(frozen=True)
class Estimate:
    seconds: float
    kwh: float
    kg_co2e: float
    pieces: int
    how: str               # how it was made, in words


def training_pieces(lengths: Sequence[int], config: RunConfig) -> int:
    """Word pieces the encoder reads in training: documents cut as the batching cuts them
    ([CLS] and [SEP] counted), times the epochs. `lengths`: the training documents' word pieces."""
    from ..data.batching import chunk_spans  # here, not above: batching loads torch, and Home imports this module
    per_epoch = sum(end - start + 2 for n in lengths
                    for start, end in chunk_spans(n, config.max_len, config.mode, config.partition_budget))
    return per_epoch * config.epochs


def precision_name(bf16: bool) -> str:
    """How the Studio names a run's precision."""
    return "bf16" if bf16 else "float32"


def _speed(config: RunConfig, bf16: bool, history: Sequence[PastRun]) -> tuple[float, str]:
    """Seconds per training word piece, and where the figure came from."""
    same_model = [r for r in history if r.model == config.model and r.pieces > 0 and r.seconds > 0]
    # bf16 runs 1.25-1.64x faster per piece on a CPU with bf16 hardware (BENCHMARKS.md): precision first
    same_precision = [r for r in same_model if r.bf16 == bf16]
    runs = same_precision or same_model
    # then the closest runs: the same variant and length cost the same per piece
    closest = [r for r in runs if r.variant == config.variant and r.max_len == config.max_len]
    basis = closest or runs
    if not basis:
        return 1.0 / FALLBACK_PIECES_PER_SECOND, (
            f"no finished run of this encoder on this machine yet, so the speed is the one measured for "
            f"the default encoder on two CPU cores in float32, about {FALLBACK_PIECES_PER_SECOND:,.0f} word pieces "
            f"a second" + ("; this run computes in bf16, which is faster on this CPU" if bf16 else ""))
    rate = sum(r.seconds for r in basis) / sum(r.pieces for r in basis)
    kind = f"{config.name.split('-')[0]} at {config.max_len} pieces" if closest else "any variant"
    precision = (f"in {precision_name(bf16)}, as this run" if same_precision else
                 f"in {precision_name(not bf16)}, where this run computes in {precision_name(bf16)}, "
                 f"so it will likely take {'less' if bf16 else 'more'} time")
    return rate, (f"{len(basis)} finished run(s) of this encoder on this machine ({kind}, {precision}) read "
                  f"{1 / rate:,.0f} training word pieces a second, topic-model pretraining and evaluations included")


def _power(history: Sequence[PastRun]) -> tuple[float, str]:
    """Average watts over the metered runs."""
    metered = [(r.kwh, r.seconds) for r in history if r.kwh and r.seconds > 0]
    if not metered:
        return FALLBACK_WATTS, f"no run was metered here yet, so the power is a guess of {FALLBACK_WATTS:.0f} W"
    watts = sum(kwh for kwh, _ in metered) * 3.6e6 / sum(seconds for _, seconds in metered)
    return watts, f"metered runs here drew {watts:,.1f} W on average"


def estimate_run(config: RunConfig, bf16: bool, lengths: Sequence[int], history: Sequence[PastRun],
                 kg_per_kwh: float, intensity_source: str) -> Estimate:
    """Projected time, energy and CO2 of training `config` on documents of these lengths.

    bf16: whether the run will compute under bf16 autocast on this machine (training.device.uses_bf16).
    kg_per_kwh: the grid's carbon intensity, and intensity_source where it comes from (words).
    """
    if not config.uses_encoder:
        return Estimate(seconds=float("nan"), kwh=float("nan"), kg_co2e=float("nan"), pieces=0,
                        how="the TF-IDF reference reads no word pieces: nothing to project it from. It fits a "
                            "linear model on the CPU, in seconds to a minute on a corpus of thousands of documents.")
    pieces = training_pieces(lengths, config)
    seconds_per_piece, speed_how = _speed(config, bf16, history)
    watts, power_how = _power(history)
    seconds = pieces * seconds_per_piece
    kwh = watts * seconds / 3.6e6
    epochs = f"{config.epochs} epoch" + ("s" if config.epochs != 1 else "")
    how = (f"{pieces:,} training word pieces ({epochs} of the training documents cut to "
           f"{config.max_len}); {speed_how}; {power_how}; CO2 at {kg_per_kwh * 1000:,.0f} g per kWh "
           f"({intensity_source}).")
    return Estimate(seconds=seconds, kwh=kwh, kg_co2e=kwh * kg_per_kwh, pieces=pieces, how=how)
