"""Compare's curves: drawn from zero, with each TopicBERT run's pretraining end marked."""
from __future__ import annotations

import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.studio import compare_curves, figures


def test_curves_start_at_zero_and_mark_pretrainings_end(store):
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    topic = run_with_curve(store, config, [0.6, 0.7], kwh_per_epoch=0.01, pretrained=30.0)
    base = run_with_curve(store, config.replace(variant="bert", max_len=512), [0.6, 0.7], kwh_per_epoch=0.02)
    co2 = compare_curves.co2_curves(store, [topic, base])
    first = co2.groupby("run").head(1)
    assert (first["wall_seconds"] == 0).all() and (first["kg_co2e"] == 0).all()
    ends = compare_curves.pretraining_ends(store, [topic, base])
    assert ends[["wall_seconds", "kg_co2e"]].values.tolist() == [[30.0, pytest.approx(0.001)]]  # the baseline: none
    f1 = figures.visualize_f1_curves(compare_curves.f1_curves(store, [topic, base]), "wall_seconds", ends)
    assert f1.layout.xaxis.rangemode == "tozero"
    assert [shape.x0 for shape in f1.layout.shapes] == [30.0]  # across the plot's height: the F1 axis stays free
    assert any(t.name == figures.PRETRAINING_NAME for t in f1.data)  # in the legend once
    fig = figures.visualize_co2_curves(co2, ends)
    assert fig.layout.xaxis.rangemode == "tozero" and fig.layout.yaxis.rangemode == "tozero"
    triangle = next(t for t in fig.data if t.name == figures.PRETRAINING_NAME)
    assert list(triangle.x) == [30.0] and list(triangle.y) == pytest.approx([1.0])  # grams
    # the epoch axis has no pretraining to mark
    assert all(t.name != figures.PRETRAINING_NAME
               for t in figures.visualize_f1_curves(compare_curves.f1_curves(store, [topic]), "epoch", ends).data)


def test_f1_axes_fit_the_curves_whole_epochs_and_whole_markers(store):
    """Flat curves near 0.96 are not drawn against a 0-1 axis, epochs tick whole, and a point on an axis (TF-IDF's,
    at its first second) is not cut by it; the per-topic chart names its colours."""
    import pandas as pd

    from topicbert.studio import topic_gains
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    topic = run_with_curve(store, config, [0.96, 0.961, 0.962], kwh_per_epoch=0.01, pretrained=30.0)
    ends = compare_curves.pretraining_ends(store, [topic])
    for x in ("epoch", "wall_seconds"):
        fig = figures.visualize_f1_curves(compare_curves.f1_curves(store, [topic]), x, ends)
        # bounded to [0, 1], not pinned there: plotly's minallowed would draw the axis from 0 exactly
        ranged = fig.layout.yaxis.autorangeoptions
        assert fig.layout.yaxis.range is None and ranged.minallowed is None and ranged.maxallowed is None
        assert (ranged.clipmin, ranged.clipmax) == (0, 1)
        points = [v for t in fig.data for v in (t.y if t.y is not None else ()) if v is not None]
        assert min(points) > 0.9  # nothing drawn at 0 or 1 to stretch the axis: plotly ranges it to the curves
        assert all(t.cliponaxis is False for t in fig.data if t.mode == "lines+markers")
    by_epoch = figures.visualize_f1_curves(compare_curves.f1_curves(store, [topic]), "epoch")
    assert (by_epoch.layout.xaxis.tick0, by_epoch.layout.xaxis.dtick) == (0, 1)
    gains = pd.DataFrame({"label": ["t0", "t1"], "documents": [3, 60], "difference": [0.1, 0.2],
                          "against the reference": ["too few documents for a verdict (under 7)", topic_gains.HIGHER],
                          "adjusted p": [None, 0.01], "only it right": [1, 12], "only the reference right": [0, 1]})
    legend = [t.name for t in figures.visualize_topic_gains(gains, "a", "b").data if t.showlegend is not False]
    assert legend == [topic_gains.HIGHER, topic_gains.LOWER, "within noise", "too few documents for a verdict"]
