"""Carbon intensity from codecarbon's tables, labelled as each source gives it; re-pricing every run at one
place; the error estimated energy carries, absolute and between two runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.energy.grid import country_grid, find_grid, grids, price
from topicbert.energy.meter import ESTIMATE_RATIO_SPAN, TDP_BAND
from topicbert.studio import carbon, compare_curves, compare_summary, early_stop, figures, pareto_points, runs_table
from topicbert.studio.trust import (
    ENERGY_READING,
    LOAD_ELASTICITY,
    RATIO_FLOOR,
    EnergyBasis,
    energy_difference_words,
    saving_judgement,
)


def test_grids_come_from_codecarbons_tables_with_regions():
    keys = {grid.key for grid in grids()}
    assert {"FRA", "USA", "DEU"} <= keys
    assert any(k.startswith("USA/") for k in keys) and any(k.startswith("cloud/") for k in keys)
    assert all(grid.g_per_kwh >= 0 for grid in grids())
    assert country_grid("XXX") is None and find_grid("nowhere") is None
    france = country_grid("FRA")
    assert price(2.0, 0.9, france) == pytest.approx(2.0 * france.g_per_kwh / 1000)
    assert price(2.0, 0.9) == 0.9 and price(None, None, france) is None


def test_each_intensity_is_labelled_as_its_source_gives_it():
    """codecarbon's Chinese provincial factors count CO2 alone; its other tables count CO2 equivalents."""
    beijing, sweden = find_grid("CHN/CN-BJ"), find_grid("nordic/SE1")
    assert beijing.gas == "CO2" and beijing.label.endswith(" g CO2/kWh)")
    assert sweden.gas == "CO2e" and country_grid("FRA").label.endswith(" g CO2e/kWh)")
    assert {grid.gas for grid in grids() if grid.key.startswith("CHN/")} == {"CO2"}


def test_a_saving_between_estimates_on_one_machine_is_judged_by_their_loads(store):
    """Three runs estimated alike on one machine (store_helpers' readings; host "here"), each at 2.0 cores: 5% and
    50% less energy than the baseline. At equal loads the TDP cancels and the ratio is off by RATIO_FLOOR at most
    (x1.10): 5% is within it, 50% beyond. Without a load sample nothing bounds an estimate of unknown mode."""
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.8], kwh_per_epoch=0.010)
    close = run_with_curve(store, config.replace(variant="topicbert", max_len=128), [0.8], 0.0095, paired=base)
    far = run_with_curve(store, config.replace(variant="topicbert", max_len=64), [0.8], 0.005, paired=base)
    unsampled = compare_summary.summary_frame(store, [close, far, base], base).set_index("role", append=True)
    assert unsampled["energy saved, read as"].tolist() == [
        "cannot be told: process mode's error is uncharacterised and their loads were not sampled"] * 2 + [""]
    for run_id in (base, close, far):
        store.set_machine_load(run_id, {"cores": 4, "others_mean": 0.0, "others_max": 0.0, "own_mean": 2.0,
                                        "seconds": 60, "samples": 12})
    frame = compare_summary.summary_frame(store, [close, far, base], base).set_index("role", append=True)
    alike = "one machine and model, loads 2.00 and 2.00 cores"
    assert frame["energy saved, read as"].tolist() == [f"within the estimates' error (x1.10: {alike})",
                                                       f"beyond the estimates' error (x1.10: {alike})", ""]
    reason = runs_table.run_badge(store, store.get_run(base)).reason
    assert "codecarbon's load x TDP model in process mode, whose error codecarbon has not characterised" in reason
    beijing = compare_summary.summary_frame(store, [base], base, grid=find_grid("CHN/CN-BJ"))
    assert beijing.loc[0, "priced at"] == "China: Beijing (CO2 only)"


# the meter's words for a CPU estimated from its load and TDP, in process mode (the meter's default)
LOAD_TDP = {"measured": "cpu estimated (cpu_load, 85 W TDP); ram estimated (per-DIMM model); gpu not used",
            "cpu_measured": False, "ram_measured": False, "tracking_mode": "process", "cpu_model": "EPYC"}


MACHINE_MODE = dict(LOAD_TDP, tracking_mode="machine")


def basis(load: float | None, host: str = "a", info: dict | None = None) -> EnergyBasis:
    cores = None if load is None else {"cores": 4, "own_mean": load}
    return EnergyBasis.of(info or LOAD_TDP, cores, host)


@pytest.mark.parametrize(("saved", "mine", "theirs", "real", "error"), [
    (0.0, basis(2.0), basis(2.0), False, 1.10),           # equal energy, both estimated: never a saving
    (0.35, basis(2.0), basis(2.0), True, 1.10),           # one machine and model, equal loads: the TDP cancels
    (0.35, basis(1.0), basis(2.0), False, 4.0),           # loads 1 and 2 cores: off by up to 2^2
    (0.80, basis(1.0), basis(2.0), True, 4.0),            # a ratio of 0.2 lies beyond 1/4
    (-2.0, basis(1.0), basis(2.0), False, 4.0),           # three times the energy: within the other end
    (0.80, basis(1.0, info=MACHINE_MODE), basis(2.0, info=MACHINE_MODE), False, 8.0),  # machine mode's cubic: 2^3
    # 57% between estimates of equal energy at the band's two ends: two machines, machine mode, each anywhere in
    # -60%..+190%, so their ratio may be off by 2.9 / 0.4
    (1 - 0.6 / 1.4, basis(2.0, "a", MACHINE_MODE), basis(2.0, "b", MACHINE_MODE), False, 2.9 / 0.4),
    (0.87, basis(2.0, "a", MACHINE_MODE), basis(2.0, "b", MACHINE_MODE), True, 2.9 / 0.4),
    # process mode has no band: across machines, or without a load sample, nothing can be told
    (1 - 0.6 / 1.4, basis(2.0, "a"), basis(2.0, "b"), None, None),
    (0.35, basis(None), basis(2.0), None, None),
])
def test_when_a_saving_between_estimates_is_real(saved, mine, theirs, real, error):
    judged = saving_judgement(saved, mine, theirs)
    assert judged.real is real
    assert judged.ratio_error == (None if error is None else pytest.approx(error))


def test_measured_and_uncharacterised_savings_are_not_given_a_band():
    measured = {"measured": "cpu measured (RAPL); gpu measured (NVML, ids [0])", "cpu_measured": True,
                "gpu_measured": True, "tracking_mode": "process"}
    assert energy_difference_words(0.3, basis(2.0, info=measured), basis(1.0, info=measured)) == "measured"
    generic = dict(LOAD_TDP, measured="cpu estimated (constant, 85 W generic TDP); ram estimated (per-DIMM model)")
    judged = saving_judgement(0.9, basis(2.0, info=generic), basis(2.0))
    assert judged.real is None and judged.words.startswith("cannot be told: an estimate from default watts")


def test_equally_costly_runs_on_one_machine_are_never_called_a_saving():
    """The case where the rule must say nothing, simulated: two runs of equal true energy on one machine, whose real
    power bends with load as idle + (peak - idle) x load^p for p in [1, 3] (no steeper than the cubic codecarbon
    fits), estimated by codecarbon's process-mode line (TDP x load). Their loads differ at random; the estimate's
    TDP is wrong at random. Whatever the estimates show, no saving may be called real."""
    rng = np.random.default_rng(7)
    called = 0
    for _ in range(5000):
        idle, power, tdp = rng.uniform(0.0, 0.5), rng.uniform(1.0, 3.0), rng.uniform(30, 300)
        load_a, load_b = rng.uniform(0.05, 1.0, 2)
        real_a, real_b = (idle + (1 - idle) * load ** power for load in (load_a, load_b))
        seconds_a = rng.uniform(10, 1000)
        seconds_b = seconds_a * real_a / real_b   # the same true energy
        estimated_a, estimated_b = tdp * load_a * seconds_a, tdp * load_b * seconds_b
        called += bool(saving_judgement(1 - estimated_a / estimated_b, basis(4 * load_a), basis(4 * load_b)).real)
    assert called == 0


def test_summary_and_its_csv_follow_the_pricing_choice(store):
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.7, 0.8], kwh_per_epoch=0.05)
    topic = run_with_curve(store, config.replace(variant="topicbert", max_len=128), [0.7, 0.8], 0.02,
                           pretrained=10.0, paired=base)
    store.set_inference(topic, {"documents": 250, "seconds": 5.0, "kwh": 0.0005, "kg_co2e": 0.0002})
    as_metered = compare_summary.summary_frame(store, [topic, base], base).set_index("role")
    assert as_metered.loc["topicbert", "g CO2e"] == pytest.approx(0.04 * 400)
    assert as_metered.loc["topicbert", "priced at"] == "United States"
    assert as_metered.loc["topicbert", "g CO2e/kWh"] == 400
    sweden = find_grid("nordic/SE1") or country_grid("SWE")
    repriced = compare_summary.summary_frame(store, [topic, base], base, grid=sweden).set_index("role")
    assert repriced.loc["topicbert", "g CO2e"] == pytest.approx(0.04 * sweden.g_per_kwh)
    assert repriced.loc["topicbert", "priced at"] == sweden.name
    assert repriced.loc["topicbert", "g CO2e/kWh"] == sweden.g_per_kwh
    saved = repriced.loc["topicbert", "energy saved (%)"]
    assert saved == pytest.approx(as_metered.loc["topicbert", "energy saved (%)"])  # kWh: wherever it is priced
    csv = pd.read_csv(pd.io.common.StringIO(repriced.reset_index().to_csv(index=False)))
    assert csv["g CO2e"].tolist() == pytest.approx(repriced["g CO2e"].tolist())
    # 5. the cost of using the model, per 1,000 documents; a run without the measurement shows none
    assert as_metered.loc["topicbert", "s per 1k docs"] == pytest.approx(20.0)
    assert as_metered.loc["topicbert", "kWh per 1k docs"] == pytest.approx(0.002)
    assert np.isnan(as_metered.loc["baseline", "s per 1k docs"])
    pareto = pareto_points.pareto_frame(store, config.test_set, grid=sweden)
    assert sorted(pareto["kg_co2e"]) == pytest.approx(sorted([0.04 * sweden.g_per_kwh / 1000,
                                                              0.1 * sweden.g_per_kwh / 1000]))


def test_a_co2_only_price_is_labelled_co2_wherever_it_is_shown(store):
    """Priced at Beijing's factor (codecarbon's Chinese provinces count CO2 alone), no table, CSV, axis or sentence
    says CO2e; priced where the runs ran (codecarbon's country table, CO2 equivalents), every one says CO2e."""
    beijing = find_grid("CHN/CN-BJ")
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.5, 0.8, 0.85, 0.86], kwh_per_epoch=0.01)
    summary = compare_summary.summary_frame(store, [base], base, grid=beijing)
    table = carbon.shown(summary, beijing)
    assert {"g CO2", "g CO2/kWh"} <= set(table.columns) and not any("CO2e" in c for c in table.columns)
    assert table.loc[0, "g CO2"] == pytest.approx(0.04 * beijing.g_per_kwh)   # the same figure, its own unit
    assert carbon.shown_columns(compare_summary.USE_COLUMNS, beijing)[3] == "g CO2/kWh"
    csv = carbon.shown(summary, beijing).to_csv(index=False)
    assert "CO2e" not in csv.splitlines()[0] and "g CO2/kWh" in csv.splitlines()[0]
    pareto = carbon.shown(pareto_points.pareto_frame(store, config.test_set, grid=beijing), beijing)
    assert "kg_co2" in pareto.columns and "kg_co2e" not in pareto.columns
    gas = carbon.gas(beijing)
    replay = early_stop.replay_frame(store, [base], beijing)
    sentence = early_stop.replays(replay, gas)[0].sentence
    assert " g CO2 and " in sentence and "CO2e" not in sentence
    figures_shown = [figures.visualize_co2_curves(compare_curves.co2_curves(store, [base], beijing), gas=gas),
                     figures.visualize_early_stop(replay, gas),
                     figures.visualize_pareto(pareto_points.pareto_frame(store, config.test_set, grid=beijing),
                                              gas=gas)]
    for fig in figures_shown:
        words = fig.to_json()
        assert "g CO2" in words and "CO2e" not in words
    # where the runs ran: CO2 equivalents, as before
    assert carbon.gas(None) == "CO2e" and "g CO2e" in carbon.shown(compare_summary.summary_frame(store, [base], base),
                                                                   None)
    assert "CO2e" in figures.visualize_early_stop(early_stop.replay_frame(store, [base])).layout.xaxis.title.text


def test_the_pages_words_on_energy_match_the_rule_they_describe():
    assert f"x{ESTIMATE_RATIO_SPAN:.2f}" in ENERGY_READING and f"x{RATIO_FLOOR:.2f}" in ENERGY_READING
    assert f"{TDP_BAND[0]:+.0%} to {TDP_BAND[1]:+.0%}" in ENERGY_READING and LOAD_ELASTICITY == 2
    assert "40%" not in ENERGY_READING
