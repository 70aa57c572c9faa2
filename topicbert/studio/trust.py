"""How far to trust a run's energy: a badge with a one-line reason, on Runs and Compare.

It says whether the energy was measured (RAPL, NVML counters) or estimated (a TDP constant and the
load, codecarbon's RAM model), which GPUs were metered, and whether other processes shared the
machine while the run trained (the CPU load they added, sampled by the runner: runs/machine_load.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..energy.meter import ESTIMATE_ERROR, ESTIMATE_WORDS

# other processes keeping a quarter of a core busy on average: enough to slow a run on a small machine
# and, where a machine-wide counter is read, to show in its kWh
SHARED_CORES = 0.25
NOT_METERED = "not metered"
ESTIMATED, PARTLY = "estimated", "partly measured"
# a queued or starting run, whose meter has not started: nothing metered yet, so neither a level nor "not metered"
NOT_YET = "–"
METER_NOT_STARTED = "not started"   # what energy/meter.py's EnergyMeter says of itself before start()


@dataclass(frozen=True)
class Badge:
    label: str    # "measured", "partly measured", "estimated", "not metered" or "–" (nothing yet), ", shared" added
    reason: str   # one line

    @property
    def estimated(self) -> bool:
        """Whether some of the energy is codecarbon's estimate, which carries ESTIMATE_ERROR."""
        return self.label.startswith((ESTIMATED, PARTLY))


def energy_difference_words(saved: float, estimated: bool) -> str:
    """How to read the energy one run saves against another: measured, or (where either is an estimate)
    within or beyond the error such estimates are known to have."""
    if not estimated:
        return "measured"
    inside = "within" if abs(saved) < ESTIMATE_ERROR else "beyond"
    return f"{inside} the estimates' error (±{ESTIMATE_ERROR:.0%})"


def _level(info: dict) -> str:
    """measured: every part read from a counter; partly: some (codecarbon's RAM is always its model)."""
    if str(info.get("measured") or "").startswith(NOT_METERED):
        return NOT_METERED
    flags = [info[k] for k in ("cpu_measured", "gpu_measured", "ram_measured") if info.get(k) is not None]
    if flags and all(flags):
        return "measured"
    return PARTLY if any(flags) else ESTIMATED


def _gpu_model(info: dict) -> str:
    """The metered GPUs' model ("1 x NVIDIA H100"): the words already name their ids."""
    return f"metered GPUs: {info['gpu_model']}" if info.get("gpu_ids") and info.get("gpu_model") else ""


def _sharing(load: dict | None, info: dict) -> tuple[bool, str]:
    """(shared?, the words): the other processes' CPU load and what it means for this run's figures."""
    if not load:
        return False, "other processes' load not sampled"
    others, cores = load["others_mean"], load["cores"]
    if others < SHARED_CORES:
        return False, f"alone: other processes kept {others:.2f} of {cores} cores busy on average"
    counted = info.get("cpu_measured") or info.get("tracking_mode") == "machine"
    effect = ("a machine-wide reading, so their energy is in this run's kWh" if counted
              else "they slowed the run; its estimated kWh leaves their share out")
    return True, (f"shared: other processes kept {others:.2f} of {cores} cores busy on average "
                  f"(up to {load['others_max']:.2f}); {effect}")


def measurement_badge(info: dict | None, load: dict | None = None, active: bool = False) -> Badge:
    """`info`: the run's energy_info (or, for runs without it, its last reading: the same flags and words);
    `load`: its machine_load summary; `active`: the run is queued or running, so a meter that has not started
    yet may still start (the badge is "–"; once the run ended, such a run was not metered)."""
    words = str((info or {}).get("measured") or "")
    if not info or words.startswith(METER_NOT_STARTED):
        if active:
            return Badge(NOT_YET, "the energy meter starts with the run's training: nothing metered yet")
        return Badge(NOT_METERED, "the energy meter never started" if info else "no energy reading")
    level = _level(info)
    if level == NOT_METERED:
        return Badge(level, str(info.get("measured") or "no energy reading"))
    shared, sharing = _sharing(load, info)
    parts = [str(info.get("measured") or ""), ESTIMATE_WORDS if level != "measured" else "", _gpu_model(info), sharing]
    return Badge(level + (", shared" if shared else ""), "; ".join(part for part in parts if part))
