"""How far to trust a run's energy: what was measured or estimated, and how busy other processes kept the
machine meanwhile."""
from __future__ import annotations

import pytest
from store_helpers import ESTIMATED, run_with_curve

from topicbert.config import RunConfig
from topicbert.energy.meter import EnergyMeter
from topicbert.runs.machine_load import LoadAccount, MachineLoadSampler
from topicbert.studio import runs_table
from topicbert.studio.trust import measurement_badge


def test_badges_say_what_was_measured_and_whether_the_machine_was_shared():
    alone = {"cores": 2, "others_mean": 0.05, "others_max": 0.2, "own_mean": 1.8, "seconds": 60, "samples": 12}
    busy = dict(alone, others_mean=1.1, others_max=1.9)
    estimated = measurement_badge(ESTIMATED, alone)
    assert estimated.label == "estimated" and "alone: other processes kept 0.05 of 2 cores" in estimated.reason
    gpu = {"measured": "cpu measured (RAPL); gpu measured (NVML, GPUs 0); ram estimated", "cpu_measured": True,
           "gpu_measured": True, "ram_measured": False, "gpu_ids": [0], "gpu_model": "1 x NVIDIA H100"}
    shared = measurement_badge(gpu, busy)
    assert shared.label == "partly measured, shared"
    assert "metered GPUs: 1 x NVIDIA H100" in shared.reason and "up to 1.90" in shared.reason
    assert "machine-wide reading" in shared.reason  # RAPL counts the others' energy in this run's kWh
    assert "leaves their share out" in measurement_badge(ESTIMATED, busy).reason
    assert measurement_badge(dict(gpu, ram_measured=True), None).reason.endswith("load not sampled")
    assert "±40%" not in measurement_badge(dict(gpu, ram_measured=True), None).reason  # all measured
    assert measurement_badge(None).label == "not metered"
    assert measurement_badge({"measured": "not metered: the energy tracker could not be set up"}).label == "not metered"


def test_runs_table_and_detail_show_the_badge(store):
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    run_id = run_with_curve(store, config, [0.7], kwh_per_epoch=0.01)  # made by hand: no energy_info
    assert runs_table.runs_frame(store).loc[0, "energy"] == "estimated"
    store.set_energy_info(run_id, dict(ESTIMATED, cpu_measured=True, ram_measured=True))
    store.set_machine_load(run_id, {"cores": 4, "others_mean": 2.0, "others_max": 3.0, "own_mean": 1.0,
                                    "seconds": 30, "samples": 6})
    assert runs_table.runs_frame(store).loc[0, "energy"] == "measured, shared"
    assert runs_table.run_badge(store, store.get_run(run_id)).label == "measured, shared"


def test_load_account_separates_the_runs_cpu_from_other_processes():
    account = LoadAccount(cores=4)
    assert account.summary() is None
    account.add(0.0, 100.0, {1: 10.0})
    account.add(10.0, 130.0, {1: 20.0, 2: 5.0})   # 30 busy core-seconds: 15 the run's (a child started), 15 others'
    account.add(20.0, 135.0, {1: 25.0})           # 5 busy: all the run's (the child ended)
    summary = account.summary()
    assert summary["own_mean"] == pytest.approx(20 / 20) and summary["others_mean"] == pytest.approx(15 / 20)
    assert summary["others_max"] == pytest.approx(1.5) and summary["samples"] == 2


def test_load_sampler_keeps_its_summary_in_the_store(store):
    run_id = store.create_run(RunConfig(corpus="c"))
    busy = iter([0.0, 8.0, 16.0])
    with MachineLoadSampler(store.another_connection, run_id, every=60, pgid=1, read_machine=lambda: next(busy),
                            read_group=lambda pgid: {7: 0.0}):
        pass  # a run shorter than one interval still gets its readings at the start and the end
    load = store.get_run(run_id)["machine_load"]
    assert load["samples"] == 1 and load["own_mean"] == 0.0 and load["others_mean"] > 0


def test_nothing_is_called_not_metered_before_the_meter_starts(store):
    """Right after the demo's click: a queued run and a claimed one whose meter has not started yet show "–";
    once the meter started, its level; a run that ended without any reading was not metered."""
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    queued, starting, ended = (store.create_run(config) for _ in range(3))
    store.claim_run(starting, None, "cpu", host="here")
    store.claim_run(ended, None, "cpu", host="here")
    store.finish_run(ended, "failed", "no reading before it failed")
    energy = runs_table.runs_frame(store).set_index("id")["energy"]
    assert energy[queued] == "–" and energy[starting] == "–" and energy[ended] == "not metered"
    assert "nothing metered yet" in runs_table.run_badge(store, store.get_run(starting)).reason
    store.set_energy_info(starting, ESTIMATED)
    assert runs_table.runs_frame(store).set_index("id")["energy"][starting] == "estimated"


def test_a_meter_that_reports_not_started_is_not_badged_estimated():
    """EnergyMeter.info() before start(): every flag None and the words "not started". Nothing was estimated."""
    not_started = EnergyMeter(gpu_ids=[]).info()
    assert not_started["measured"] == "not started" and not_started["cpu_measured"] is None
    running = measurement_badge(not_started, active=True)
    assert running.label == "–" and not running.estimated
    ended = measurement_badge(not_started)
    assert ended.label == "not metered" and ended.reason == "the energy meter never started" and not ended.estimated
