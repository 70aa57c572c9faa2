"""When to stop: the knee of a run's curve, set against the model the run kept, and what going on cost."""
from __future__ import annotations

import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.energy.grid import country_grid, find_grid
from topicbert.studio import early_stop, figures, run_identity


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
    assert set(replay["run"]) == {run_identity.run_label(store.get_run(rising))}
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


def test_a_replay_of_fewer_than_three_evaluations_says_what_it_cannot_tell(store):
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    two = run_with_curve(store, config, [0.5, 0.8], kwh_per_epoch=0.01)
    three = run_with_curve(store, config, [0.5, 0.8, 0.85], kwh_per_epoch=0.01)
    said = {r.run: r.sentence for r in early_stop.replays(early_stop.replay_frame(store, [two, three]))}
    short, long = said[f"#{two} {config.name}"], said[f"#{three} {config.name}"]
    assert "(its best evaluation)" in short and "With 2 evaluations, a curve has no bend to find" in short
    assert "not where more training stopped paying for its CO2e" in short
    assert "(the knee of its curve)" in long and "no bend to find" not in long
