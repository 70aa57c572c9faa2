"""Compare's curves: drawn from zero, with each TopicBERT run's pretraining end marked."""
from __future__ import annotations

import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.studio import figures, frames


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
