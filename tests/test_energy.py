"""Energy readings: codecarbon offline, cumulative, monotone, non-negative, never fatal."""
from __future__ import annotations

import socket
from itertools import pairwise

import pytest

from topicbert.energy import meter as meter_module
from topicbert.energy.meter import (
    DEFAULT_COUNTRY,
    EnergyMeter,
    EnergyReading,
    carbon_intensity,
    country_code,
    gpu_ids_for,
    measure_read_overhead,
)


def busy(n: int = 300_000) -> int:
    return sum(i * i for i in range(n))


def reading(**values) -> EnergyReading:
    base = dict(duration_s=1.0, cpu_kwh=1.0, gpu_kwh=0.0, ram_kwh=1.0, kwh=2.0, kg_co2e=1.0, cpu_power_w=5.0,
                gpu_power_w=0.0, ram_power_w=3.0, country="USA", country_name="United States",
                carbon_intensity=369.0, cpu_measured=False, gpu_measured=None, ram_measured=False, measured="x")
    return EnergyReading(**{**base, **values})


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network is off in tests")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


def test_meter_readings_are_cumulative_monotone_and_offline(tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    meter = EnergyMeter()
    assert meter.start()
    readings = []
    for _ in range(4):
        busy()
        readings.append(meter.read())
    readings.append(meter.stop())
    assert all(r is not None for r in readings)
    for earlier, later in pairwise(readings):
        for field in ("duration_s", "cpu_kwh", "gpu_kwh", "ram_kwh", "kwh", "kg_co2e"):
            assert 0.0 <= getattr(earlier, field) <= getattr(later, field)
    last = readings[-1]
    assert last.kwh > 0 and last.kwh == pytest.approx(last.cpu_kwh + last.gpu_kwh + last.ram_kwh)
    # emissions follow the pinned offline intensity (g/kWh) of the recorded country
    assert last.kg_co2e == pytest.approx(last.kwh * last.carbon_intensity / 1000, rel=1e-6)
    assert last.country == DEFAULT_COUNTRY and "cpu" in last.measured and "ram estimated" in last.measured
    assert last.ram_measured is False and last.gpu_measured is None  # a CPU run meters no GPU
    assert no_network == [] and list(tmp_path.iterdir()) == []  # no emissions.csv, no network
    assert meter.read() is None  # stopped


def test_reading_floor_and_offset():
    previous = reading(kwh=2.0, cpu_kwh=1.0)
    lower = reading(kwh=1.5, cpu_kwh=-0.1, duration_s=0.5)
    fixed = lower.at_least(previous)
    assert fixed.kwh == 2.0 and fixed.cpu_kwh == 1.0 and fixed.duration_s == 1.0
    assert reading(cpu_kwh=-1.0).at_least(None).cpu_kwh == 0.0
    resumed = reading().offset({"kwh": 10.0, "kg_co2e": 4.0, "duration_s": 100.0, "cpu_kwh": 6.0,
                                "ram_kwh": 4.0, "gpu_kwh": None})
    assert (resumed.kwh, resumed.kg_co2e, resumed.duration_s, resumed.cpu_kwh) == (12.0, 5.0, 101.0, 7.0)
    assert reading().offset(None) == reading()


def test_resumed_meter_continues_from_base():
    meter = EnergyMeter(base={"kwh": 1.0, "kg_co2e": 0.5, "duration_s": 60.0, "cpu_kwh": 0.6, "ram_kwh": 0.4,
                              "gpu_kwh": 0.0})
    assert meter.start()
    busy()
    first = meter.stop()
    assert first.kwh > 1.0 and first.duration_s > 60.0 and first.kg_co2e > 0.5


def test_tracker_failure_never_raises(caplog):
    meter = EnergyMeter()

    class Broken:
        def flush(self):
            raise RuntimeError("no RAPL today")

        def stop(self):
            raise RuntimeError("still broken")
    meter._tracker = Broken()
    assert meter.read() is None
    assert meter.stop() is None and not meter.running
    assert "no RAPL today" in caplog.text
    assert EnergyMeter().read() is None  # never started: no reading, no error


def test_country_from_environment(monkeypatch):
    monkeypatch.setenv("TOPICBERT_COUNTRY", "fra")
    assert country_code() == "FRA"
    code, name, intensity = carbon_intensity("FRA")
    assert (code, name) == ("FRA", "France") and 0 < intensity < 200
    assert carbon_intensity("XXX")[0] == DEFAULT_COUNTRY  # unknown: the documented default
    assert EnergyMeter().country == "FRA"


def test_gpu_ids_follow_the_run_device(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_ids_for("cpu") == []
    assert gpu_ids_for("cuda:1") == [1]
    assert gpu_ids_for("cuda:0", local_world_size=2) == [0, 1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert gpu_ids_for("cuda:1") == [5]  # NVML numbers, not the process's
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-abc,GPU-def")
    assert gpu_ids_for("cuda") == ["GPU-abc"]


def test_read_overhead_is_small():
    cost = measure_read_overhead(reads=10)
    print(f"energy meter: {cost}")
    assert cost["read_mean_s"] < 0.05


def test_unreadable_carbon_table_turns_tracking_off_without_raising(monkeypatch, caplog):
    def broken(country):
        raise OSError("codecarbon's data folder is missing")
    monkeypatch.setattr(meter_module, "carbon_intensity", broken)
    meter = EnergyMeter()
    assert not meter.start() and not meter.running
    assert meter.read() is None and meter.stop() is None
    assert "not metered" in meter.info()["measured"] and "data folder is missing" in caplog.text
