"""figures.py: each figure from small data, baselines drawn apart, user text kept as text, LDAvis offline."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from topicbert.stats.pareto import pareto_front
from topicbert.studio import figures, ldavis

EVIL = "<script>alert(1)</script>"


def curves_frame() -> pd.DataFrame:
    rows = []
    for run, role, f1s in (("TopicBERT-128", "topicbert", (0.5, 0.7, 0.8)),
                           ("BERT-512", "baseline", (0.6, 0.75, 0.82))):
        for epoch, f1 in enumerate(f1s, start=1):
            rows.append(dict(run=run, role=role, epoch=epoch, wall_seconds=epoch * (10 if role == "baseline" else 6),
                             value=f1, kg_co2e=epoch * (0.002 if role == "baseline" else 0.001)))
    return pd.DataFrame(rows)


def test_class_counts_bars_and_escapes_labels():
    fig = figures.visualize_class_counts({"sport": 3, "business": 5, EVIL: 1})
    assert isinstance(fig, go.Figure)
    bar = fig.data[0]
    assert list(bar.y) == [3, 5, 1]
    assert bar.x[2] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert EVIL not in fig.to_json()


def test_length_histogram_marks_each_length():
    lengths = [50, 100, 200, 300, 600]
    fig = figures.visualize_length_histogram(lengths)
    assert list(fig.data[0].x) == lengths
    lines = [shape.x0 for shape in fig.layout.shapes]
    assert lines == [128, 256, 512]
    texts = [a.text for a in fig.layout.annotations]
    assert texts == ["128: 60% longer", "256: 40% longer", "512: 20% longer"]
    heights = [a.y for a in fig.layout.annotations]
    assert heights == sorted(heights, reverse=True) and len(set(heights)) == 3  # one line each, never overprinted


def test_length_histogram_empty():
    assert len(figures.visualize_length_histogram([]).layout.shapes) == 3


@pytest.mark.parametrize("x", ["epoch", "wall_seconds"])
def test_f1_curves_baseline_distinct(x):
    fig = figures.visualize_f1_curves(curves_frame(), x=x)
    by_name = {trace.name: trace for trace in fig.data}
    assert set(by_name) == {"TopicBERT-128", "BERT-512 (baseline)"}
    base, topic = by_name["BERT-512 (baseline)"], by_name["TopicBERT-128"]
    assert base.line.dash == "dash" and base.line.color == figures.BASELINE_COLOR
    assert base.marker.symbol == figures.BASELINE_MARKER and topic.marker.symbol == "circle"
    assert topic.line.dash is None and topic.line.color != figures.BASELINE_COLOR
    assert list(topic.y) == [0.5, 0.7, 0.8]
    assert list(topic.x) == ([1, 2, 3] if x == "epoch" else [6, 12, 18])


def test_f1_curves_rejects_unknown_x():
    with pytest.raises(ValueError, match="x must be one of"):
        figures.visualize_f1_curves(curves_frame(), x="step")


def test_f1_curves_empty_frame():
    empty = pd.DataFrame(columns=["run", "role", "epoch", "wall_seconds", "value"])
    assert len(figures.visualize_f1_curves(empty, "epoch").data) == 0


def test_co2_curves_sorted_by_time():
    frame = curves_frame().iloc[::-1]
    fig = figures.visualize_co2_curves(frame)
    topic = next(t for t in fig.data if t.name == "TopicBERT-128")
    assert list(topic.x) == [6, 12, 18]
    assert list(topic.y) == pytest.approx([1.0, 2.0, 3.0])  # kg in the data, grams on the chart
    assert fig.layout.yaxis.title.text == "g CO2e"
    base = next(t for t in fig.data if "baseline" in t.name)
    assert base.line.dash == "dash"


@pytest.mark.parametrize("points, front", [
    ([], []),
    ([(0.8, 1.0)], [0]),
    # (0.9, 2.0) and (0.8, 1.0) trade off; (0.7, 1.5) is beaten by (0.8, 1.0)
    ([(0.9, 2.0), (0.8, 1.0), (0.7, 1.5)], [1, 0]),
    # equal points are both on the front; same F1 at higher cost is not
    ([(0.8, 1.0), (0.8, 1.0), (0.8, 1.2)], [0, 1]),
    # same cost, lower F1: beaten
    ([(0.8, 1.0), (0.7, 1.0)], [0]),
    ([(float("nan"), 1.0), (0.5, 2.0)], [1]),
])
def test_pareto_front(points, front):
    assert pareto_front(points) == front


def test_visualize_pareto_marks_front_and_names():
    rows = pd.DataFrame({"run": ["TopicBERT-128", "TopicBERT-256", "BERT-512", "BERT-128", "no energy"],
                         "role": ["topicbert", "topicbert", "baseline", "baseline", "topicbert"],
                         "test_macro_f1": [0.80, 0.85, 0.86, 0.70, 0.9],
                         "kwh": [0.01, 0.02, 0.03, 0.015, None]})
    fig = figures.visualize_pareto(rows, cost="kwh")
    front, runs, baselines = fig.data
    assert list(front.x) == [0.01, 0.02, 0.03]
    assert list(runs.text) == ["TopicBERT-128", "TopicBERT-256"]
    assert list(baselines.text) == ["BERT-512", "BERT-128"]
    assert list(baselines.marker.symbol) == ["square", "square-open"]  # BERT-128 is off the front
    assert fig.layout.xaxis.title.text == "kWh"


def test_visualize_pareto_draws_the_tfidf_reference_and_intervals():
    rows = pd.DataFrame({"run": ["TopicBERT-128", "BERT-512", "TF-IDF"], "role": ["topicbert", "baseline", "tfidf"],
                         "test_macro_f1": [0.80, 0.86, 0.84], "f1_low": [0.75, 0.82, None],
                         "f1_high": [0.84, 0.90, None], "kwh": [0.01, 0.03, 0.0001]})
    fig = figures.visualize_pareto(rows, cost="kwh")
    names = [trace.name for trace in fig.data]
    assert names == ["Pareto front", "TopicBERT runs", "BERT runs", "TF-IDF reference"]
    runs, _, tfidf = fig.data[1:]
    assert list(runs.error_y.array) == pytest.approx([0.04]) and list(runs.error_y.arrayminus) == pytest.approx([0.05])
    assert list(tfidf.marker.symbol) == ["diamond"] and list(tfidf.error_y.array) == [0]  # no interval: no bar


def test_visualize_pareto_shows_co2_in_grams_and_f1_from_zero():
    rows = pd.DataFrame({"run": ["TopicBERT-128", "BERT-512"], "role": ["topicbert", "baseline"],
                         "test_macro_f1": [0.2, 0.2], "kg_co2e": [0.000005, 0.000009]})
    fig = figures.visualize_pareto(rows)
    assert list(fig.data[1].x) == pytest.approx([0.005]) and list(fig.data[2].x) == pytest.approx([0.009])
    assert fig.layout.xaxis.title.text == "g CO2e" and fig.layout.xaxis.exponentformat == "none"
    assert fig.layout.yaxis.autorangeoptions.minallowed == 0
    assert list(rows["kg_co2e"]) == [0.000005, 0.000009]  # the caller's frame is left as it was


def test_visualize_pareto_without_rows():
    empty = pd.DataFrame(columns=["run", "test_macro_f1", "kg_co2e"])
    assert len(figures.visualize_pareto(empty).data) == 1  # only the (empty) front line


def test_topic_mixture_top_k_largest_on_top():
    theta = np.array([0.05, 0.5, 0.1, 0.3, 0.05])
    labels = [f"t{k}" for k in range(4)] + [EVIL]
    fig = figures.visualize_topic_mixture(theta, labels, top_k=3)
    bar = fig.data[0]
    assert list(bar.y) == ["t2", "t3", "t1"]  # plotly draws the last bar on top
    assert list(bar.x) == [0.1, 0.3, 0.5]
    all_labels = figures.visualize_topic_mixture(theta, labels).data[0].y
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in all_labels


def test_topic_mixture_label_count_checked():
    with pytest.raises(ValueError, match="2 topic labels for 3"):
        figures.visualize_topic_mixture(np.ones(3) / 3, ["a", "b"])


def test_class_probabilities_grouped_baseline_distinct():
    classes = ["sport", "money", "space"]
    probs = {"TopicBERT-128": np.array([0.7, 0.2, 0.1]), "BERT-512": np.array([0.5, 0.4, 0.1])}
    fig = figures.visualize_class_probabilities(probs, classes, baseline="BERT-512")
    assert fig.layout.barmode == "group"
    topic, base = fig.data
    assert list(topic.x) == classes and list(topic.y) == [0.7, 0.2, 0.1]
    assert base.name == "BERT-512 (baseline)" and base.marker.color == figures.BASELINE_COLOR
    assert base.marker.pattern.shape == "/"
    with pytest.raises(ValueError, match="2 probabilities for 3 classes"):
        figures.visualize_class_probabilities({"x": np.array([0.5, 0.5])}, classes)


def tiny_topic_model(words: list[str], seed: int = 0):
    rng = np.random.default_rng(seed)
    k, v, d = 3, len(words), 20
    topic_term = np.full((k, v), 1e-4, dtype=np.float32)
    for topic in range(k):  # each topic owns a block of words
        topic_term[topic, topic * v // k:(topic + 1) * v // k] = 1.0
    topic_term[0, 1] = 0.0  # an exact zero, as a float32 softmax can give
    topic_term /= topic_term.sum(axis=1, keepdims=True)
    doc_topic = rng.dirichlet(np.ones(k), size=d).astype(np.float32)
    return topic_term, doc_topic, rng.integers(5, 50, d), words, rng.integers(1, 30, v)


def test_ldavis_html_is_self_contained_and_escaped():
    words = [f"word{i}" for i in range(29)] + [EVIL]
    html = ldavis.ldavis_html(*tiny_topic_model(words), n_terms=10)
    # nothing fetched from the network: no external script, stylesheet or import
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html, re.I)
    assert not re.search(r"@import|LDAvis_load_lib|require\(", html)
    assert "d3" in html and "new LDAvis(" in html and "<style>" in html
    assert "word0" in html and "word28" in html
    # the one user-supplied word cannot close or open a script element
    assert EVIL not in html
    assert html.count("<script>") == 3 and html.count("</script>") == 3
    assert "\\u003cscript>alert(1)\\u003c/script>" in html
    assert "style.zoom" in html  # scaled down to the frame's width, not cut off


def test_ldavis_keeps_model_topic_order():
    words = [f"w{i}" for i in range(30)]
    topic_term, doc_topic, lengths, vocab, freq = tiny_topic_model(words)
    doc_topic[:, 2] += 5  # topic 3 is the largest: pyLDAvis would sort it first
    html = ldavis.ldavis_html(topic_term, doc_topic, lengths, vocab, freq)
    order = re.search(r'"topic.order": \[([^\]]*)\]', html).group(1)
    assert order.replace(" ", "") == "1,2,3"

