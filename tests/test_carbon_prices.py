"""Carbon intensity from codecarbon's tables, labelled as each source gives it; re-pricing every run at one
place; and the error estimated energy carries."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.energy.grid import country_grid, find_grid, grids, price
from topicbert.studio import carbon, early_stop, figures, frames


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


def test_a_small_energy_difference_between_estimates_is_not_read_as_real(store):
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.8], kwh_per_epoch=0.010)
    close = run_with_curve(store, config.replace(variant="topicbert", max_len=128), [0.8], 0.0095, paired=base)
    far = run_with_curve(store, config.replace(variant="topicbert", max_len=64), [0.8], 0.005, paired=base)
    frame = frames.summary_frame(store, [close, far, base], base).set_index("role", append=True)
    frame = frame["energy saved, read as"]
    assert frame.tolist() == ["within the estimates' error (±40%)", "beyond the estimates' error (±40%)", ""]
    assert "up to ±40% off measured power" in frames.run_badge(store, store.get_run(base)).reason
    beijing = frames.summary_frame(store, [base], base, grid=find_grid("CHN/CN-BJ"))
    assert beijing.loc[0, "priced at"] == "China: Beijing (CO2 only)"


def test_summary_and_its_csv_follow_the_pricing_choice(store):
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.7, 0.8], kwh_per_epoch=0.05)
    topic = run_with_curve(store, config.replace(variant="topicbert", max_len=128), [0.7, 0.8], 0.02,
                           pretrained=10.0, paired=base)
    store.set_inference(topic, {"documents": 250, "seconds": 5.0, "kwh": 0.0005, "kg_co2e": 0.0002})
    as_metered = frames.summary_frame(store, [topic, base], base).set_index("role")
    assert as_metered.loc["topicbert", "g CO2e"] == pytest.approx(0.04 * 400)
    assert as_metered.loc["topicbert", "priced at"] == "United States"
    assert as_metered.loc["topicbert", "g CO2e/kWh"] == 400
    sweden = find_grid("nordic/SE1") or country_grid("SWE")
    repriced = frames.summary_frame(store, [topic, base], base, grid=sweden).set_index("role")
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
    pareto = frames.pareto_frame(store, config.test_set, grid=sweden)
    assert sorted(pareto["kg_co2e"]) == pytest.approx(sorted([0.04 * sweden.g_per_kwh / 1000,
                                                              0.1 * sweden.g_per_kwh / 1000]))


def test_a_co2_only_price_is_labelled_co2_wherever_it_is_shown(store):
    """Priced at Beijing's factor (codecarbon's Chinese provinces count CO2 alone), no table, CSV, axis or sentence
    says CO2e; priced where the runs ran (codecarbon's country table, CO2 equivalents), every one says CO2e."""
    beijing = find_grid("CHN/CN-BJ")
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.5, 0.8, 0.85, 0.86], kwh_per_epoch=0.01)
    summary = frames.summary_frame(store, [base], base, grid=beijing)
    table = carbon.shown(summary, beijing)
    assert {"g CO2", "g CO2/kWh"} <= set(table.columns) and not any("CO2e" in c for c in table.columns)
    assert table.loc[0, "g CO2"] == pytest.approx(0.04 * beijing.g_per_kwh)   # the same figure, its own unit
    assert carbon.shown_columns(frames.USE_COLUMNS, beijing)[3] == "g CO2/kWh"
    csv = carbon.shown(summary, beijing).to_csv(index=False)
    assert "CO2e" not in csv.splitlines()[0] and "g CO2/kWh" in csv.splitlines()[0]
    pareto = carbon.shown(frames.pareto_frame(store, config.test_set, grid=beijing), beijing)
    assert "kg_co2" in pareto.columns and "kg_co2e" not in pareto.columns
    gas = carbon.gas(beijing)
    replay = early_stop.replay_frame(store, [base], beijing)
    sentence = early_stop.replays(replay, gas)[0].sentence
    assert " g CO2 and " in sentence and "CO2e" not in sentence
    figures_shown = [figures.visualize_co2_curves(frames.co2_curves(store, [base], beijing), gas=gas),
                     figures.visualize_early_stop(replay, gas),
                     figures.visualize_pareto(frames.pareto_frame(store, config.test_set, grid=beijing), gas=gas)]
    for fig in figures_shown:
        words = fig.to_json()
        assert "g CO2" in words and "CO2e" not in words
    # where the runs ran: CO2 equivalents, as before
    assert carbon.gas(None) == "CO2e" and "g CO2e" in carbon.shown(frames.summary_frame(store, [base], base), None)
    assert "CO2e" in figures.visualize_early_stop(early_stop.replay_frame(store, [base])).layout.xaxis.title.text
