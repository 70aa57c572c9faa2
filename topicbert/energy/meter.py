"""Energy and CO2 of one run: cumulative readings from codecarbon's offline tracker.

Never touches the network: the tracker is codecarbon's OfflineEmissionsTracker, the grid's
carbon intensity is pinned from codecarbon's own offline table for the country
($TOPICBERT_COUNTRY, 3-letter ISO code, default USA) so no configured Electricity Maps
token or endpoint is ever used, and no output file is written (we export our own CSV).
A failing tracker is logged and never stops training: read() then returns None.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .grid import country_grid

log = logging.getLogger(__name__)

DEFAULT_COUNTRY = "USA"
# The machine is shared (other jobs, other runs): meter this process and its children,
# unless several ranks of one run must be counted together (see EnergyMeter).
DEFAULT_TRACKING_MODE = "process"
# codecarbon measures anew only when its last sample is at least this old: two readings closer together
# differ by 0 kWh, which is no measurement
MIN_READING_SECONDS = 0.05
# Codecarbon integrates power between its own samples; a read also takes one.
MEASURE_POWER_SECONDS = 15.0
_CUMULATIVE = ("duration_s", "cpu_kwh", "gpu_kwh", "ram_kwh", "kwh", "kg_co2e")
_COUNTER_CPU_MODES = {"intel_rapl": "RAPL", "windows_emi": "Windows EMI", "intel_power_gadget": "Intel Power Gadget",
                      "apple_powermetrics": "powermetrics"}

GpuId = int | str
# How far codecarbon's CPU estimate lands from measured power, by its own accuracy page (docs/explanation/accuracy.md,
# four CPUs profiled in January 2025): its load x TDP model read about -60% to +190% off RAPL, in machine mode only.
# Process mode (this meter's default) fits another curve, linear from zero, and was not profiled; nor were the
# default-watts path (a CPU missing from its TDP table) and the RAM model. Both ends of an absolute kWh, then.
TDP_BAND = (-0.60, 1.90)
# what a ratio of two estimates can be off by when nothing is shared between them: each at either end of the band
ESTIMATE_RATIO_SPAN = (1 + TDP_BAND[1]) / (1 + TDP_BAND[0])
_BAND = f"{TDP_BAND[0]:+.0%} to {TDP_BAND[1]:+.0%}"
MEASURED, LOAD_TDP, DEFAULT_WATTS = "measured", "load x TDP", "default watts"


def cpu_estimator(measured: str) -> str:
    """How the CPU's energy was had, from the meter's words (describe_hardware): MEASURED from a counter, LOAD_TDP
    from the load and the CPU's listed TDP, or DEFAULT_WATTS (codecarbon's constant mode, or a CPU missing from its
    TDP table: a generic TDP)."""
    if "cpu measured" in measured or "cpu estimated" not in measured:
        return MEASURED
    return LOAD_TDP if "(cpu_load," in measured and "generic" not in measured else DEFAULT_WATTS


def estimate_band(measured: str, tracking_mode: str | None) -> str:
    """The error band an absolute kWh carries, by the path its CPU energy took ("" where it was measured)."""
    path = cpu_estimator(measured)
    if path == MEASURED:
        return ""
    if path == DEFAULT_WATTS:
        return ("an estimate from default watts (this CPU is not in codecarbon's TDP table), an error codecarbon "
                "has not characterised")
    if tracking_mode == "machine":
        return (f"an estimate: codecarbon's load x TDP model read {_BAND} off RAPL on the four CPUs it profiled "
                "(machine mode)")
    return (f"an estimate: codecarbon's load x TDP model in process mode, whose error codecarbon has not "
            f"characterised (in machine mode it read {_BAND} off RAPL)")


@dataclass(frozen=True)
class EnergyReading:
    """Cumulative since the run began (over resumes too, once offset by the stored reading)."""
    duration_s: float
    cpu_kwh: float
    gpu_kwh: float
    ram_kwh: float
    kwh: float
    kg_co2e: float
    cpu_power_w: float
    gpu_power_w: float
    ram_power_w: float
    country: str
    country_name: str
    carbon_intensity: float          # g CO2e per kWh
    cpu_measured: bool | None     # True: hardware energy counter; False: codecarbon's estimate
    gpu_measured: bool | None     # None: no GPU metered for this run
    ram_measured: bool | None
    measured: str                    # what was measured and what estimated, in words
    codecarbon: dict = field(default_factory=dict, repr=False)  # the tracker's EmissionsData fields

    def offset(self, base: dict | None) -> EnergyReading:
        """This reading plus a stored one (`to_row()` of the reading a resumed run starts from)."""
        if not base:
            return self
        return dataclasses.replace(self, **{k: getattr(self, k) + (base.get(k) or 0.0) for k in _CUMULATIVE})

    def at_least(self, previous: EnergyReading | None) -> EnergyReading:
        """Cumulative values never go down, and are never negative."""
        floor = {k: max(0.0, getattr(previous, k) if previous else 0.0) for k in _CUMULATIVE}
        return dataclasses.replace(self, **{k: max(getattr(self, k), floor[k]) for k in _CUMULATIVE})

    def to_row(self) -> dict:
        return dataclasses.asdict(self)


def country_code() -> str:
    return (os.environ.get("TOPICBERT_COUNTRY") or DEFAULT_COUNTRY).strip().upper()


def carbon_intensity(country: str) -> tuple[str, str, float]:
    """(ISO code, country name, g CO2e/kWh) from codecarbon's offline energy-mix table.
    An unknown code falls back to the default country, with a warning."""
    grid = country_grid(country)
    if grid is None:
        log.warning("country %r is not in codecarbon's table; using %s", country, DEFAULT_COUNTRY)
        grid = country_grid(DEFAULT_COUNTRY)
    if grid is None:  # a codecarbon whose table lacks even the default: say so, not an AttributeError
        raise LookupError(f"codecarbon's energy-mix table has no {DEFAULT_COUNTRY}")
    return grid.key, grid.name, grid.g_per_kwh


def current_gpu_ids() -> list[GpuId]:
    """This process's CUDA device, if it has one: [] when torch is not loaded or sees no GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return gpu_ids_for(f"cuda:{torch.cuda.current_device()}")


def gpu_ids_for(device: str, local_world_size: int = 1) -> list[GpuId]:
    """The GPUs this run uses, as NVML sees them (codecarbon ignores CUDA_VISIBLE_DEVICES
    once given ids): [] for a CPU run. Several local ranks use devices 0..n-1."""
    if not device.startswith("cuda"):
        return []
    first = int(device.split(":")[1]) if ":" in device else 0
    local = range(first, first + max(local_world_size, 1))
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    if not visible:
        return list(local)
    return [int(visible[i]) if visible[i].isdigit() else visible[i] for i in local if i < len(visible)]


def _quiet_codecarbon() -> None:
    logging.getLogger("codecarbon").setLevel(logging.ERROR)


class _Capture:
    """A codecarbon output handler that keeps the last cumulative data it is given (on flush)."""

    def __init__(self) -> None:
        self.total: Any = None

    def out(self, total: Any, delta: Any) -> None:
        self.total = total

    def live_out(self, total: Any, delta: Any) -> None:
        pass

    def task_out(self, data: Any, experiment_name: str) -> None:
        pass

    def exit(self) -> None:
        pass


def describe_hardware(hardware: Sequence[Any], gpu_ids: Sequence[GpuId]) -> tuple[
        bool | None, bool | None, bool | None, str]:
    """(cpu, gpu, ram measured?, words) from the tracker's hardware objects.

    Codecarbon reads energy counters where it can (RAPL, NVML, powermetrics) and otherwise
    estimates: CPU from its TDP table and the load, RAM from a per-DIMM model."""
    cpu = gpu = ram = None
    words = []
    for part in hardware:
        kind = type(part).__name__
        if kind == "CPU":
            mode = getattr(part, "_mode", "?")
            cpu = mode in _COUNTER_CPU_MODES
            if cpu:
                words.append(f"cpu measured ({_COUNTER_CPU_MODES[mode]})")
            else:
                generic = " generic" if getattr(part, "_is_generic_tdp", False) else ""
                words.append(f"cpu estimated ({mode}, {getattr(part, '_tdp', '?')} W{generic} TDP)")
        elif kind == "GPU" and gpu_ids:
            gpu = True
            words.append(f"gpu measured (NVML, ids {list(gpu_ids)})")
        elif kind == "RAM":
            ram = False
            given = getattr(part, "_force_ram_power", None)
            words.append(f"ram estimated ({given} W given)" if given else "ram estimated (per-DIMM model)")
        elif kind == "AppleSiliconChip":
            measured = f"{part.chip_part.lower()} measured (powermetrics)"
            words.append(measured)
            if part.chip_part == "CPU":
                cpu = True
            else:
                gpu = True
    if gpu is None:
        words.append("gpu not used" if not gpu_ids else "gpu not found")
    return cpu, gpu, ram, "; ".join(words)


class EnergyMeter:
    """start(), read() at each evaluation and at the end, stop(). Readings are cumulative,
    monotone and non-negative; `base` (a stored reading's row) continues a resumed run.
    Only the given GPUs are metered (default: this process's current CUDA device, if any)."""

    def __init__(self, gpu_ids: Sequence[GpuId] | None = None, country: str | None = None,
                 tracking_mode: str = DEFAULT_TRACKING_MODE, base: dict | None = None,
                 measure_power_secs: float = MEASURE_POWER_SECONDS) -> None:
        self.gpu_ids = list(gpu_ids) if gpu_ids is not None else current_gpu_ids()
        self.tracking_mode = tracking_mode
        self.base = base
        self.measure_power_secs = measure_power_secs
        self._tracker: Any = None
        self._capture = _Capture()
        self._last: EnergyReading | None = None
        self._flags: tuple = (None, None, None, "not started")
        self.country_name: str | None = None
        self.intensity: float | None = None
        try:
            self.country, self.country_name, self.intensity = carbon_intensity(country or country_code())
        except Exception as error:  # codecarbon's table cannot be read: no tracking, and the run goes on
            log.exception("energy tracking is off for this run")
            self.country, self.country_name = country or country_code(), None
            self._flags = (None, None, None, f"not metered: the carbon intensity could not be read ({error!r})")

    def start(self) -> bool:
        """True if the tracker runs; False (logged) if it could not start."""
        if self.intensity is None:
            return False
        _quiet_codecarbon()
        try:
            from codecarbon import OfflineEmissionsTracker

            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self.country, project_name="topicbert", output_methods=[],
                output_handlers=[self._capture], emissions_endpoint=None, electricitymaps_api_token=None,
                force_carbon_intensity_g_co2e_kwh=self.intensity, cloud_provider=None, cloud_region=None,
                region=None, gpu_ids=self.gpu_ids, tracking_mode=self.tracking_mode,
                measure_power_secs=self.measure_power_secs, allow_multiple_runs=True, log_level="error")
            self._tracker.start()  # codecarbon logs and swallows its own errors here
            if getattr(self._tracker, "_start_time", None) is None:
                raise RuntimeError("codecarbon's tracker did not start (see its log above)")
            self._flags = describe_hardware(getattr(self._tracker, "_hardware", []), self.gpu_ids)
            return True
        except Exception as error:
            log.exception("energy tracking is off for this run")
            self._tracker = None
            self._flags = (None, None, None, f"not metered: the energy tracker did not start ({error})")
            return False

    @property
    def running(self) -> bool:
        return self._tracker is not None

    def info(self) -> dict:
        """What the readings rest on: hardware, what was measured or estimated, where."""
        cpu, gpu, ram, words = self._flags
        info = {"country": self.country, "country_name": self.country_name, "carbon_intensity": self.intensity,
                "tracking_mode": self.tracking_mode, "gpu_ids": self.gpu_ids, "measured": words,
                "cpu_measured": cpu, "gpu_measured": gpu, "ram_measured": ram}
        if self._tracker is not None:
            conf = getattr(self._tracker, "_conf", {})
            info.update({k: conf.get(k) for k in ("cpu_model", "cpu_count", "gpu_model", "gpu_count",
                                                  "ram_total_size", "codecarbon_version")})
        return info

    def read(self) -> EnergyReading | None:
        """The cumulative reading now, or None if the tracker is off or fails (logged)."""
        if self._tracker is None:
            return None
        try:
            self._capture.total = None
            self._tracker.flush()
            data = self._capture.total
            if data is None:
                raise RuntimeError("codecarbon returned no data (see its log above)")
            return self._reading(data)
        except Exception:
            log.exception("energy reading failed; training goes on")
            return None

    def stop(self) -> EnergyReading | None:
        """The final reading, and the tracker's threads stopped."""
        if self._tracker is None:
            return None
        reading = self.read()
        try:
            self._tracker.stop()
        except Exception:
            log.exception("stopping the energy tracker failed")
        self._tracker = None
        return reading

    def _reading(self, data: Any) -> EnergyReading:
        cpu, gpu, ram, words = self._flags
        # the tracker runs only once the intensity was read (start()), and the country's name with it
        assert self.intensity is not None and self.country_name is not None
        raw = dataclasses.asdict(data)
        reading = EnergyReading(
            duration_s=float(data.duration), cpu_kwh=float(data.cpu_energy), gpu_kwh=float(data.gpu_energy),
            ram_kwh=float(data.ram_energy), kwh=float(data.energy_consumed), kg_co2e=float(data.emissions),
            cpu_power_w=float(data.cpu_power), gpu_power_w=float(data.gpu_power), ram_power_w=float(data.ram_power),
            country=self.country, country_name=self.country_name, carbon_intensity=self.intensity,
            cpu_measured=cpu, gpu_measured=gpu, ram_measured=ram, measured=words, codecarbon=raw)
        self._last = reading.offset(self.base).at_least(self._last)
        return self._last


def measure_read_overhead(reads: int = 20) -> dict[str, float]:
    """Seconds to start the meter, and per read (mean and worst): the cost paid per evaluation."""
    meter = EnergyMeter()
    began = time.perf_counter()
    meter.start()
    started = time.perf_counter() - began
    times = []
    for _ in range(reads):
        t = time.perf_counter()
        meter.read()
        times.append(time.perf_counter() - t)
    meter.stop()
    return {"start_s": started, "read_mean_s": sum(times) / len(times), "read_max_s": max(times)}
