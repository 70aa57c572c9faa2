"""What no other tool tells you, each figure from a store (and run folders) made here: early-stop replay, re-pricing at another place's carbon intensity, the measurement badge
and the machine's load, the cost of classifying, topic stability, top documents per topic, and curves
drawn from zero with pretraining's end marked."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topicbert.config import RunConfig
from topicbert.energy.grid import country_grid, find_grid, grids, price
from topicbert.runs.machine_load import LoadAccount, MachineLoadSampler
from topicbert.runs.store import Store
from topicbert.studio import early_stop, figures, frames, topic_stability, topics
from topicbert.studio.documents import DocumentsLink
from topicbert.studio.run_files import RunPredictions, TopicArrays
from topicbert.studio.trust import measurement_badge

ESTIMATED = {"cpu_measured": False, "gpu_measured": None, "ram_measured": False,
             "measured": "cpu estimated (cpu_load, 85 W TDP); ram estimated; gpu not used"}


def reading(kwh: float, intensity: float = 400.0) -> dict:
    """A cumulative energy row priced in a country of `intensity` g CO2e/kWh."""
    return {"kwh": kwh, "kg_co2e": kwh * intensity / 1000, "country": "USA", "country_name": "United States",
            "carbon_intensity": intensity, **ESTIMATED}


def run_with_curve(store: Store, config: RunConfig, f1s: list[float], kwh_per_epoch: float,
                   pretrained: float | None = None, paired: int | None = None) -> int:
    """A finished run with one evaluation an epoch (60 s each), a reading at each, and its end."""
    run_id = store.create_run(config, paired_run_id=paired)
    store.claim_run(run_id, None, "cpu", host="here")
    start = 0.0
    if pretrained is not None:
        store.set_pretrained(run_id, pretrained)
        store.add_energy(run_id, 0, 0.0, pretrained, reading(kwh_per_epoch / 4))
        start = pretrained
    for epoch, f1 in enumerate(f1s, 1):
        seconds = start + 60.0 * epoch
        store.add_metrics(run_id, 10 * epoch, float(epoch), seconds, {"val_macro_f1": f1})
        store.add_energy(run_id, 10 * epoch, float(epoch), seconds, reading(kwh_per_epoch * epoch))
    store.set_final_metrics(run_id, {"test_macro_f1": max(f1s), "train_seconds": start + 60.0 * len(f1s)})
    store.finish_run(run_id, "done")
    return run_id


# ---------------------------------------------------------------- 2. early-stop replay

@pytest.mark.parametrize("f1s, knee", [
    ([0.5, 0.8, 0.85, 0.86], 1),   # a fast rise, then a plateau: the knee is the bend
    ([0.5, 0.6, 0.7, 0.8], 3),     # a straight line: nothing bends, stop at the best
    ([0.5, 0.55, 0.6, 0.9], 3),    # faster late: the best
    ([0.9, 0.8, 0.7], 0),          # best first
    ([0.17, 0.47, 0.56, 0.94], 3),  # a small bend, then the steepest rise: no knee (Kneedle's threshold)
    ([0.2, 0.8, 0.85, 0.86, 0.87, 0.9, 0.9, 0.92], 1),  # long plateau: the first bend
])
def test_knee_index(f1s, knee):
    assert early_stop.knee_index(list(range(len(f1s))), f1s) == knee


def test_replay_says_where_to_stop_and_what_going_on_cost(store):
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    run_id = run_with_curve(store, config, [0.5, 0.8, 0.85, 0.86], kwh_per_epoch=0.01, pretrained=30.0)
    replay = early_stop.replay_frame(store, [run_id])
    assert replay["epoch"].tolist() == [1, 2, 3, 4] and replay["knee"].tolist() == [False, True, False, False]
    assert replay["kg_co2e"].tolist() == pytest.approx([0.004, 0.008, 0.012, 0.016])
    line = early_stop.replays(replay)[0]
    assert "stopping after epoch 2 would have given validation macro-F1 0.800, for 8 g CO2e and 2.5 minutes" \
        in line.sentence  # 30 s of pretraining and two 60 s epochs
    # on to epoch 4, the model kept: +6 points for 8 g more, 1.33 g per point
    assert "The model kept is epoch 4's (its best validation macro-F1, 0.860): going on from the knee to it changed " \
           "F1 by +6.0 points for 8 g CO2e and 2.0 minutes: 1.33 g CO2e per extra point of F1." in line.sentence
    assert "without beating it" not in line.sentence
    assert line.grams_per_point == pytest.approx(8 / 6)
    # priced at another place's intensity, the same kWh cost in proportion
    elsewhere = early_stop.replay_frame(store, [run_id], find_grid("FRA"))
    assert elsewhere["kg_co2e"].tolist() == pytest.approx(
        [0.01 * e * country_grid("FRA").g_per_kwh / 1000 for e in (1, 2, 3, 4)])
    fig = figures.visualize_early_stop(replay)
    knee = next(t for t in fig.data if t.name.startswith("knee"))
    assert list(knee.x) == pytest.approx([8.0]) and list(knee.y) == [0.8]
    assert fig.layout.xaxis.rangemode == "tozero"


def test_replay_of_a_run_whose_last_evaluation_is_its_knee_and_of_one_without_evaluations(store):
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    rising = run_with_curve(store, config, [0.5, 0.6, 0.7], kwh_per_epoch=0.002)
    nothing = store.create_run(config)
    replay = early_stop.replay_frame(store, [rising, nothing])
    assert set(replay["run"]) == {frames.run_label(store.get_run(rising))}
    sentence = early_stop.replays(replay)[0].sentence
    assert "stopping after epoch 3" in sentence and "It is the model kept (the run's best evaluation)" in sentence
    assert "from epoch 2 changed F1 by +10.0 points for 0.8 g CO2e and 1.0 minutes: 0.08 g CO2e per extra point " \
           "of F1." in sentence
    assert early_stop.replay_frame(store, [nothing]).empty


def test_replay_sets_the_knee_against_the_model_kept_not_the_last_evaluation(store):
    """0.30, 0.85, 0.86, 0.87, 0.80: the run keeps epoch 4's model, 2 points above the knee at epoch 2."""
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    run_id = run_with_curve(store, config, [0.30, 0.85, 0.86, 0.87, 0.80], kwh_per_epoch=0.01)
    line = early_stop.replays(early_stop.replay_frame(store, [run_id]))[0]
    assert "stopping after epoch 2 would have given validation macro-F1 0.850" in line.sentence
    assert "The model kept is epoch 4's (its best validation macro-F1, 0.870): going on from the knee to it " \
           "changed F1 by +2.0 points for 8 g CO2e and 2.0 minutes: 4 g CO2e per extra point of F1." in line.sentence
    assert "Training went on to epoch 5 for 4 g CO2e and 1.0 minutes more without beating it." in line.sentence
    assert "-5.0" not in line.sentence and line.grams_per_point == pytest.approx(4.0)


def test_compare_gives_time_to_accuracy_against_the_references_best(store):
    """BERT-512 peaks at 0.86, so the target is 0.8514: it reaches it at its fourth evaluation (240 s),
    TopicBERT-128 at its second (150 s: 30 s of pretraining, then two 60 s epochs): 1.6x sooner."""
    config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = run_with_curve(store, config, [0.5, 0.8, 0.85, 0.86], kwh_per_epoch=0.01)
    topic = run_with_curve(store, config.replace(variant="topicbert", max_len=128), [0.7, 0.86, 0.8], 0.004,
                           pretrained=30.0, paired=base)
    slow = run_with_curve(store, config.replace(variant="bert", max_len=64), [0.6, 0.7], 0.002, paired=base)
    frame = frames.summary_frame(store, [topic, slow, base], base).set_index("role", append=True)
    assert frame["time to target"].tolist() == ["2 min 30 s", "not reached", "4 min 00 s"]
    assert frame["speedup to target (x)"].tolist()[0] == pytest.approx(240 / 150)
    assert frame["speedup to target (x)"].tolist()[2] == pytest.approx(1.0)
    lenient = frames.summary_frame(store, [slow, base], base, target=0.8).set_index("role", append=True)
    assert lenient["time to target"].tolist()[0] == "2 min 00 s"   # 0.7 at 120 s reaches 0.8 x 0.86


# ---------------------------------------------------------------- 8. curves from zero, pretraining marked

def test_curves_start_at_zero_and_mark_pretrainings_end(store):
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    topic = run_with_curve(store, config, [0.6, 0.7], kwh_per_epoch=0.01, pretrained=30.0)
    base = run_with_curve(store, config.replace(variant="bert", max_len=512), [0.6, 0.7], kwh_per_epoch=0.02)
    co2 = frames.co2_curves(store, [topic, base])
    first = co2.groupby("run").head(1)
    assert (first["wall_seconds"] == 0).all() and (first["kg_co2e"] == 0).all()
    ends = frames.pretraining_ends(store, [topic, base])
    assert ends[["wall_seconds", "kg_co2e"]].values.tolist() == [[30.0, pytest.approx(0.001)]]  # the baseline: none
    f1 = figures.visualize_f1_curves(frames.f1_curves(store, [topic, base]), "wall_seconds", ends)
    assert f1.layout.xaxis.rangemode == "tozero"
    marker = next(t for t in f1.data if t.name == figures.PRETRAINING_NAME)
    assert list(marker.x) == [30.0, 30.0, None]
    fig = figures.visualize_co2_curves(co2, ends)
    assert fig.layout.xaxis.rangemode == "tozero" and fig.layout.yaxis.rangemode == "tozero"
    triangle = next(t for t in fig.data if t.name == figures.PRETRAINING_NAME)
    assert list(triangle.x) == [30.0] and list(triangle.y) == pytest.approx([1.0])  # grams
    # the epoch axis has no pretraining to mark
    assert all(t.name != figures.PRETRAINING_NAME
               for t in figures.visualize_f1_curves(frames.f1_curves(store, [topic]), "epoch", ends).data)


# ---------------------------------------------------------------- 3. re-pricing

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
    frame = frames.summary_frame(store, [close, far, base], base).set_index("role", append=True)["energy saved, read as"]
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


# ---------------------------------------------------------------- 4. the measurement-trust badge

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
    assert frames.runs_frame(store).loc[0, "energy"] == "estimated"
    store.set_energy_info(run_id, dict(ESTIMATED, cpu_measured=True, ram_measured=True))
    store.set_machine_load(run_id, {"cores": 4, "others_mean": 2.0, "others_max": 3.0, "own_mean": 1.0,
                                    "seconds": 30, "samples": 6})
    assert frames.runs_frame(store).loc[0, "energy"] == "measured, shared"
    assert frames.run_badge(store, store.get_run(run_id)).label == "measured, shared"


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


@pytest.mark.parametrize("link", [DocumentsLink(3, topic=2), DocumentsLink(3, doc=41), DocumentsLink(5)])
def test_documents_link_round_trips_through_the_query(link):
    assert DocumentsLink.from_query(link.query_params()) == link


@pytest.mark.parametrize("query", [{}, {"run": "x"}, {"run": "3", "topic": "-1"}, {"topic": "2"}])
def test_documents_link_refuses_what_is_not_a_link(query):
    assert DocumentsLink.from_query(query) is None


# ---------------------------------------------------------------- 7. top documents per topic

def test_top_documents_of_a_topic_highest_share_first():
    mixtures = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5], [0.7, 0.3]])
    run = RunPredictions(["a", "b"], ["first  text", "second", "third", "fourth"], np.array([0, 1, 0, 1]),
                         np.eye(2)[[0, 0, 0, 1]], mixtures)
    top = topics.top_documents(run, topic=0, n=3)
    assert top["doc"].tolist() == [1, 3, 2] and top["share"].tolist() == [0.9, 0.7, 0.5]
    assert top["true label"].tolist() == ["b", "b", "a"] and top["predicted"].tolist() == ["a", "b", "a"]
    assert topics.top_documents(run, topic=1, n=1)["text"].tolist() == ["first text"]
    with pytest.raises(ValueError, match="no topic mixtures"):
        topics.top_documents(RunPredictions(["a"], ["x"], np.array([0]), np.eye(1), None), 0)


# ---------------------------------------------------------------- 6. topic stability

def topic_arrays(topic_term: np.ndarray, vocab: list[str]) -> TopicArrays:
    k, v = topic_term.shape
    return TopicArrays(topic_term, np.full((1, k), 1 / k), np.ones(1), np.ones(v), vocab)


def test_topics_of_two_runs_are_matched_one_to_one_across_vocabularies(store):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(30)]
    a = rng.dirichlet(np.full(30, 0.1), size=4)
    # run b: the same topics in another order, over its vocabulary in reverse, one topic replaced
    order = [2, 0, 3, 1]
    b = a[order][:, ::-1].copy()
    b[3] = rng.dirichlet(np.full(30, 0.1))
    matches = topic_stability.match_topics(topic_arrays(a, words), topic_arrays(b, words[::-1]),
                                           list("ABCD"), list("pqrs"))
    pairs = dict(zip(matches["topic"], matches["matched topic"]))
    assert pairs[3] == 1 and pairs[1] == 2 and pairs[4] == 3  # a's topic 3 is b's topic 1, ...
    assert matches["similarity"].iloc[:3].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert matches["similarity"].iloc[3] < 0.9 and matches["similarity"].is_monotonic_decreasing
    assert topic_stability.vocabulary_overlap(topic_arrays(a, words), topic_arrays(b, words[::-1])) == 1.0
    apart = topic_stability.unmatched_similarity(topic_arrays(a, words), topic_arrays(b, words[::-1]))
    assert 0 < apart < matches["similarity"].iloc[2]  # topics left apart are less alike than recurring ones
    fig = figures.visualize_topic_matching(matches, "run 1", "run 2", apart)
    assert list(fig.data[0].x) == matches["similarity"].tolist()[::-1]
    assert fig.layout.shapes[0].x0 == apart
    # partners: the other finished TopicBERT runs on the same corpus
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    one, two = (run_with_curve(store, config.replace(seed=s), [0.7], 0.01) for s in (1, 2))
    run_with_curve(store, config.replace(corpus="other"), [0.7], 0.01)
    run_with_curve(store, config.replace(variant="bert"), [0.7], 0.01)
    assert [r["id"] for r in topic_stability.stability_partners(store, store.get_run(one))] == [two]
