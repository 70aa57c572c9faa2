"""How far to trust a run's energy: a badge with a one-line reason, on Runs and Compare.

It says whether the energy was measured (RAPL, NVML counters) or estimated (a TDP constant and the
load, codecarbon's RAM model), with the band an absolute figure of that kind carries (energy/meter.py),
which GPUs were metered, and whether other processes shared the machine while the run trained (the CPU
load they added, sampled by the runner: runs/machine_load.py).

And when an energy saved between two runs can be called real (saving_judgement). An absolute estimate may be
off by -60% to +190%, so two independent estimates of equal energy can differ by a factor of 7. But two runs on
one machine, estimated by one model, share its constant: codecarbon's process mode gives power = TDP x the run's
share of the cores, so a run's kWh is TDP x its mean load x its time, and in their ratio the TDP cancels. What
is left is how real power bends with load: at equal loads the ratio is the ratio of times, which the clock
measures; at loads u and v the estimate's error changes by at most (max/min)^2, power rising no more steeply
with load than the cubic codecarbon fits in machine mode. RATIO_FLOOR adds what a mean load leaves out.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..energy.meter import DEFAULT_WATTS, ESTIMATE_RATIO_SPAN, LOAD_TDP, MEASURED, cpu_estimator, estimate_band

# the two statements Compare makes of energy, with their reasons (the module's words, for a person)
ENERGY_READING = (
    "How far to trust energy. A kWh figure alone carries its meter's band: counters (RAPL, NVML) are read, not "
    "modelled; codecarbon's load x TDP estimate read -60% to +190% off RAPL on the four CPUs it profiled, in machine "
    "mode; its process mode (the Studio's default) and its default-watts path were not profiled, so their figures "
    "have no known band. A saving between two runs is another matter: on one machine, estimated by one model, both "
    "share the TDP, which cancels in their ratio. What is left is how real power bends with CPU load: at equal loads "
    "the ratio of the energies is the ratio of the times, which the clock measures; at unequal loads it may be off "
    "by the loads' ratio squared (cubed in machine mode). A saving is called real beyond that, and beyond x1.10 for "
    "what a mean load leaves out; across machines or models only machine mode's band bounds it (x7.25), and "
    "otherwise nothing can be told. As codecarbon advises: compare within one machine, not across machines.")
# other processes keeping a quarter of a core busy on average: enough to slow a run on a small machine
# and, where a machine-wide counter is read, to show in its kWh
SHARED_CORES = 0.25
NOT_METERED = "not metered"
ESTIMATED, PARTLY = "estimated", "partly measured"
# a queued or starting run, whose meter has not started: nothing metered yet, so neither a level nor "not metered"
NOT_YET = "–"
METER_NOT_STARTED = "not started"   # what energy/meter.py's EnergyMeter says of itself before start()
# how steeply real power may bend with load, as an exponent: taken no steeper than the cubic codecarbon fits in machine
# mode, against which its process-mode line (power in proportion to load) is off by the load squared at most
LOAD_ELASTICITY = 2.0
# what the mean load leaves out: the load varies within a run (evaluations, pretraining) and codecarbon samples it
# every 15 s, so two runs at one mean load still differ a little in how they spend it (a judgement, not measured)
RATIO_FLOOR = 1.10


@dataclass(frozen=True)
class Badge:
    label: str    # "measured", "partly measured", "estimated", "not metered" or "–" (nothing yet), ", shared" added
    reason: str   # one line

    @property
    def estimated(self) -> bool:
        """Whether some of the energy is codecarbon's estimate, which carries its band (energy/meter.py)."""
        return self.label.startswith((ESTIMATED, PARTLY))


@dataclass(frozen=True)
class EnergyBasis:
    """What a run's (or a group of seeds') kWh rests on, for comparing it with another's."""
    estimated: bool
    estimator: str | None   # the model and its constants ("cpu estimated (cpu_load, 85 W TDP)..., process")
    machine: str | None     # the host and CPU model; None where unknown or mixed
    load: float | None      # the run's own mean CPU load, in cores (runs/machine_load.py); None where not sampled
    cpu: str = MEASURED     # how the CPU's energy was had: energy/meter.py's MEASURED, LOAD_TDP or DEFAULT_WATTS
    mode: str | None = None  # codecarbon's tracking mode: "process" (the meter's default) or "machine"

    @classmethod
    def of(cls, info: dict | None, load: dict | None, host: str | None) -> EnergyBasis:
        """From a run's energy_info (or last reading), machine_load summary and host."""
        info = info or {}
        words = str(info.get("measured") or "")
        cpu = cpu_estimator(words) if words else DEFAULT_WATTS   # no words of its meter: nothing known of it
        # codecarbon's RAM is always its model (the store keeps the flag as 0, not False)
        estimated = cpu != MEASURED or (info.get("ram_measured") is not None and not info["ram_measured"])
        machine = f"{host} ({info['cpu_model']})" if host and info.get("cpu_model") else host
        return cls(estimated, f"{words}, {info.get('tracking_mode')}" if estimated and words else None, machine,
                   load.get("own_mean") if load else None, cpu, info.get("tracking_mode"))

    @classmethod
    def combined(cls, bases: Sequence[EnergyBasis]) -> EnergyBasis:
        """A group of seeds: what all share, or None; their mean load if all have one."""
        one = lambda values: values[0] if len(set(values)) == 1 else None  # noqa: E731
        loads = [b.load for b in bases if b.load is not None]
        cpu = one([b.cpu for b in bases])
        return cls(any(b.estimated for b in bases), one([b.estimator for b in bases]), one([b.machine for b in bases]),
                   sum(loads) / len(loads) if loads and len(loads) == len(bases) else None,
                   DEFAULT_WATTS if cpu is None else cpu, one([b.mode for b in bases]))


@dataclass(frozen=True)
class Saving:
    """An energy saved (1 - mine / theirs) and whether it can be called real."""
    saved: float
    measured: bool              # both read from counters
    ratio_error: float | None   # the factor the ratio of the two kWh may be off by; None: it cannot be bounded
    why: str                    # what the bound rests on, or why there is none

    @property
    def real(self) -> bool | None:
        """True: the ratio lies beyond its error; False: within it; None: no bound (measured, or uncharacterised)."""
        if self.measured or self.ratio_error is None:
            return None
        ratio = 1 - self.saved
        return ratio < 1 / self.ratio_error or ratio > self.ratio_error

    @property
    def words(self) -> str:
        if self.measured:
            return "measured"
        if self.ratio_error is None:
            return f"cannot be told: {self.why}"
        side = "beyond" if self.real else "within"
        return f"{side} the estimates' error (x{self.ratio_error:.2f}: {self.why})"


def saving_judgement(saved: float, mine: EnergyBasis, theirs: EnergyBasis) -> Saving:
    """Whether `saved` (1 - my kWh / theirs) is a real saving, as the module's words argue.

    Both read from counters: measured. One machine and one estimator: the TDP (and the RAM model's constant power)
    cancel; with the CPU read from its counter the ratio is off by RATIO_FLOOR at most, with load x TDP by the
    loads' ratio to the power LOAD_ELASTICITY (3 in machine mode, whose own curve is a cubic), RATIO_FLOOR at
    least. Otherwise only machine mode's load x TDP has a band, so two of its estimates may differ by
    ESTIMATE_RATIO_SPAN; process mode and codecarbon's default watts have none, and nothing can be told."""
    if not (mine.estimated or theirs.estimated):
        return Saving(saved, True, None, "both read from counters")
    if DEFAULT_WATTS in (mine.cpu, theirs.cpu):
        return Saving(saved, False, None, "an estimate from default watts, or a meter not known, whose error "
                                          "codecarbon has not characterised")
    alike = (mine.machine is not None and mine.machine == theirs.machine and mine.estimator is not None
             and mine.estimator == theirs.estimator)
    if alike and mine.cpu == MEASURED:
        return Saving(saved, False, RATIO_FLOOR, "one machine, CPU counters and one RAM model")
    if alike and mine.load and theirs.load:
        elasticity = LOAD_ELASTICITY + (1 if mine.mode == "machine" else 0)
        shape = (max(mine.load, theirs.load) / min(mine.load, theirs.load)) ** elasticity
        # not capped at ESTIMATE_RATIO_SPAN: that span is machine mode's, and process mode's line through zero can
        # be off by more at light loads
        return Saving(saved, False, max(RATIO_FLOOR, shape),
                      f"one machine and model, loads {mine.load:.2f} and {theirs.load:.2f} cores")
    apart = "their loads were not sampled" if alike else "they ran on different machines or estimates"
    if all(side.mode == "machine" for side in (mine, theirs) if side.cpu == LOAD_TDP):
        return Saving(saved, False, ESTIMATE_RATIO_SPAN, f"{apart}: each anywhere in the load x TDP band")
    return Saving(saved, False, None, f"process mode's error is uncharacterised and {apart}")


def energy_difference_words(saved: float, mine: EnergyBasis, theirs: EnergyBasis) -> str:
    """How to read the energy one run saves against another, in words (saving_judgement's)."""
    return saving_judgement(saved, mine, theirs).words


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
    band = estimate_band(str(info.get("measured") or ""), info.get("tracking_mode")) if level != "measured" else ""
    parts = [str(info.get("measured") or ""), band, _gpu_model(info), sharing]
    return Badge(level + (", shared" if shared else ""), "; ".join(part for part in parts if part))
