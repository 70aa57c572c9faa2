"""Figures for the app: data in, a plotly Figure out (the LDAvis page is in ldavis.py).

Like BERTopic's visualize_* functions, nothing here shows, saves or reads anything:
pages decide where a figure goes. Strings that came from users (class labels, run
names, topic words) are entity-escaped before they reach plotly, whose text
supports a subset of HTML tags: "<b>" in a label then shows as "<b>", not bold.
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..energy.grid import CO2E
from ..stats.noise import WITHIN_NOISE
from ..stats.pareto import pareto_front
from .topic_gains import HIGHER, LOWER

BASELINE_ROLE = "baseline"
BASELINE_COLOR = "#7f7f7f"
BASELINE_MARKER = "square"
# the TF-IDF reference: brown diamonds on a dotted line, apart from both the runs and the BERT baselines
TFIDF_ROLE = "tfidf"
TFIDF_COLOR = "#8C6D31"
TFIDF_MARKER = "diamond"
# colour-blind friendly (Okabe-Ito) without grey, which is the baseline's
RUN_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
CURVE_X = {"epoch": "epoch", "wall_seconds": "wall time (s)"}
# the carbon axes in grams of the gas their factor counts: CO2e, or CO2 alone (energy/grid.py)
AXIS_TITLES = {**CURVE_X, "g_co2e": "g CO2e", "g_co2": "g CO2"}
COLUMN_TITLES = {"kwh": "kWh", "test_macro_f1": "test macro-F1"}
# shown in other units than stored: CO2 in grams, as the tables and the command line show it
COLUMN_SCALES = {"kg_co2e": 1000.0}
TEMPLATE = "plotly_white"


def plain(text: object) -> str:
    """`text` as plotly shows it literally: &, < and > become entities plotly decodes."""
    return html.escape(str(text), quote=False)


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    # the legend in rows at the foot of the figure, not beside the plot: half-width charts keep their width,
    # and however many rows it takes the plot makes room for them (it never runs into the title);
    # numbers in full ("0.00002", not plotly's "20µ", which reads as micro-kilograms)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, template=TEMPLATE,
                      legend=dict(title_text="", orientation="h", yref="container", yanchor="bottom", y=0,
                                  xanchor="left", x=0),
                      margin=dict(l=60, r=20, t=60, b=50))
    fig.update_xaxes(exponentformat="none")
    fig.update_yaxes(exponentformat="none")
    return fig


# ---------------------------------------------------------------- corpus summary

def visualize_class_counts(counts: Mapping[str, int]) -> go.Figure:
    """Documents per class, in the order given."""
    labels = [plain(label) for label in counts]
    fig = go.Figure(go.Bar(x=labels, y=list(counts.values()), marker_color=RUN_COLORS[0],
                           hovertemplate="%{x}: %{y} documents<extra></extra>"))
    fig.update_xaxes(type="category")  # labels like "1", "2" stay categories, not numbers
    return _layout(fig, "Documents per class", "class", "documents")


def visualize_length_histogram(lengths: Sequence[int], marks: Sequence[int] = (128, 256, 512)) -> go.Figure:
    """Document lengths in word pieces, with a line at each encoder length and the share beyond it."""
    values = np.asarray(lengths, dtype=float)
    fig = go.Figure(go.Histogram(x=values, nbinsx=60, marker_color=RUN_COLORS[0],
                                 hovertemplate="%{x} pieces: %{y} documents<extra></extra>"))
    for i, mark in enumerate(marks):
        over = float((values > mark).mean()) if values.size else 0.0
        # each label a line lower than the one before: marks close on a long axis would print over each other
        fig.add_vline(x=mark, line_dash="dash", line_color=RUN_COLORS[1],
                      annotation=dict(text=f"{mark}: {over:.0%} longer", y=1 - 0.07 * i, yref="paper",
                                      yanchor="top", xanchor="left", showarrow=False))
    return _layout(fig, "Document length", "word pieces", "documents")


# ---------------------------------------------------------------- training curves

def _is_baseline(role: object) -> bool:
    return str(role) == BASELINE_ROLE


def _role_lines(frame: pd.DataFrame, x: str, y: str, y_format: str) -> go.Figure:
    """One line per run; baselines grey, dashed, square markers, the TF-IDF reference brown, dotted,
    diamonds, so they read apart in any colour."""
    fig = go.Figure()
    colour = 0
    # baselines drawn first, under the runs compared with them (a run level with its baseline stays
    # visible); the legend still lists the runs first (legendrank)
    groups = sorted(frame.groupby("run", sort=False), key=lambda group: not _is_baseline(group[1]["role"].iloc[0]))
    for run, rows in groups:
        rows = rows.dropna(subset=[x, y]).sort_values(x)
        role = str(rows["role"].iloc[0]) if len(rows) else ""
        if role == BASELINE_ROLE:
            line, marker = dict(color=BASELINE_COLOR, dash="dash", width=2), dict(symbol=BASELINE_MARKER, size=8)
        elif role == TFIDF_ROLE:
            line, marker = dict(color=TFIDF_COLOR, dash="dot", width=2), dict(symbol=TFIDF_MARKER, size=10)
        else:
            color = RUN_COLORS[colour % len(RUN_COLORS)]
            colour += 1
            line, marker = dict(color=color, width=2.5), dict(symbol="circle", size=7)
        name = plain(run)
        fig.add_trace(go.Scatter(
            x=rows[x], y=rows[y], name=name + (" (baseline)" if role == BASELINE_ROLE else ""), mode="lines+markers",
            line=line, marker=marker, legendrank=2000 if role == BASELINE_ROLE else 1000,
            cliponaxis=False,  # a point on an axis (TF-IDF's, done in a second) is drawn whole, not cut in half
            hovertemplate=f"{name}<br>{AXIS_TITLES.get(x, x)} %{{x}}<br>%{{y:{y_format}}}<extra></extra>"))
    return fig


# a validation F1 axis: autoranged to the data, never past [0, 1]
F1_RANGE = dict(clipmin=0, clipmax=1)
PRETRAINING_COLOR = "#444444"
PRETRAINING_NAME = "topic-model pretraining ended"


def _pretraining_hover(ends: pd.DataFrame) -> list[str]:
    return [f"{plain(run)}: {PRETRAINING_NAME} at {seconds:.0f} s"
            for run, seconds in zip(ends["run"], ends["wall_seconds"], strict=True)]


def visualize_f1_curves(curves: pd.DataFrame, x: str = "epoch", pretraining: pd.DataFrame | None = None) -> go.Figure:
    """Validation macro-F1 per run against `x` ("epoch" or "wall_seconds"), the axis from zero.

    `curves`: long form with columns run, role ("topicbert"/"baseline"), epoch, wall_seconds, value.
    `pretraining` (run, wall_seconds; against wall time only): a dotted line where each run's topic-model
    pretraining ended, the fixed cost before its first step.
    """
    if x not in CURVE_X:
        raise ValueError(f"x must be one of {sorted(CURVE_X)}, not {x!r}")
    fig = _role_lines(curves, x, "value", ".4f")
    if x == "wall_seconds" and pretraining is not None and not pretraining.empty:
        # lines across the plot's height (paper coordinates: they leave the F1 axis ranged to the curves), and one
        # legend entry for all of them
        style = dict(color=PRETRAINING_COLOR, dash="dot", width=1.5)
        for seconds in pretraining["wall_seconds"]:
            fig.add_vline(x=seconds, line=style)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=PRETRAINING_NAME, line=style))
    fig.update_xaxes(rangemode="tozero")
    if x == "epoch":
        fig.update_xaxes(tick0=0, dtick=1)  # whole epochs, not 0.5
    # ranged to the curves, clipped to [0, 1] where F1 lives: flat lines near 0.96 are not drawn flat against a 0-1
    # axis (plotly's minallowed/maxallowed would fix the ends at 0 and 1 exactly; clipmin/clipmax only bound them)
    fig.update_yaxes(autorangeoptions=F1_RANGE)
    return _layout(fig, f"Validation macro-F1 by {CURVE_X[x].removesuffix(' (s)')}", CURVE_X[x],
                   "validation macro-F1")


def _grams(gas: str) -> str:
    """The plotted column of a carbon figure in grams, named for its gas (an AXIS_TITLES key)."""
    return f"g_{gas.lower()}"


def _title(column: str, gas: str) -> str:
    return AXIS_TITLES[_grams(gas)] if column == "kg_co2e" else COLUMN_TITLES.get(column, column)


def visualize_co2_curves(readings: pd.DataFrame, pretraining: pd.DataFrame | None = None,
                         gas: str = CO2E) -> go.Figure:
    """Cumulative CO2 per run against wall time (columns run, role, wall_seconds, kg_co2e), drawn in grams of
    `gas` ("CO2e", or "CO2" where the factor counts CO2 alone) from (0, 0); `pretraining` (run, wall_seconds,
    kg_co2e) marks where each run's topic-model pretraining ended."""
    scale = COLUMN_SCALES["kg_co2e"]
    fig = _role_lines(readings.assign(**{_grams(gas): readings["kg_co2e"] * scale}), "wall_seconds", _grams(gas),
                      ".3g")
    if pretraining is not None and not pretraining.empty:
        marks = pretraining.dropna(subset=["kg_co2e"])
        fig.add_trace(go.Scatter(
            x=marks["wall_seconds"], y=marks["kg_co2e"] * scale, mode="markers", name=PRETRAINING_NAME,
            text=_pretraining_hover(marks), marker=dict(symbol="triangle-up", size=13, color=PRETRAINING_COLOR),
            hovertemplate=f"%{{text}}<br>%{{y:.3g}} {_title('kg_co2e', gas)}<extra></extra>"))
    fig.update_xaxes(rangemode="tozero")
    fig.update_yaxes(rangemode="tozero")
    return _layout(fig, "Cumulative emissions", CURVE_X["wall_seconds"], _title("kg_co2e", gas))


def visualize_early_stop(replay: pd.DataFrame, gas: str = CO2E) -> go.Figure:
    """Validation macro-F1 against the cumulative grams of `gas` at each evaluation, per run
    (early_stop.replay_frame: run, role, epoch, minutes, val_macro_f1, kg_co2e, knee), the knee of each curve
    starred; from zero."""
    grams = _grams(gas)
    data = replay.assign(**{grams: replay["kg_co2e"].astype(float) * COLUMN_SCALES["kg_co2e"]})
    fig = _role_lines(data, grams, "val_macro_f1", ".4f")
    knees = data[data["knee"].astype(bool)].dropna(subset=[grams])
    fig.add_trace(go.Scatter(
        x=knees[grams], y=knees["val_macro_f1"], mode="markers+text", name="knee: where to stop",
        text=[f"epoch {epoch:g}" for epoch in knees["epoch"]], textposition="bottom right",
        customdata=[plain(run) for run in knees["run"]],
        marker=dict(symbol="star", size=18, color=RUN_COLORS[4], line=dict(width=1, color="#000000")),
        hovertemplate=f"%{{customdata}}: knee at %{{text}}<br>%{{x:.3g}} {_title('kg_co2e', gas)}, validation "
                      "macro-F1 %{y:.4f}<extra></extra>"))
    fig.update_xaxes(rangemode="tozero")
    fig.update_yaxes(autorangeoptions=F1_RANGE)
    return _layout(fig, f"When to stop: validation macro-F1 against {gas} so far", _title("kg_co2e", gas),
                   "validation macro-F1")


# ---------------------------------------------------------------- accuracy against cost

# the Pareto plot's groups: (legend name, marker, colour) by role
PARETO_GROUPS = {"topicbert": ("TopicBERT runs", "circle", RUN_COLORS[0]),
                 BASELINE_ROLE: ("BERT runs", BASELINE_MARKER, BASELINE_COLOR),
                 TFIDF_ROLE: ("TF-IDF reference", TFIDF_MARKER, TFIDF_COLOR)}


def visualize_pareto(rows: pd.DataFrame, cost: str = "kg_co2e", f1: str = "test_macro_f1",
                     name: str = "run", gas: str = CO2E) -> go.Figure:
    """Test macro-F1 against a cost column over runs, each labelled, the Pareto front joined; kg_co2e is
    drawn in grams of `gas`.

    Rows missing F1 or cost are left out. A `role` column ("topicbert", "baseline", "tfidf") draws
    each kind apart; `f1_low` and `f1_high` columns (an interval of the F1) draw error bars.
    """
    data = rows.dropna(subset=[f1, cost]).reset_index(drop=True)
    data[cost] = data[cost].astype(float) * COLUMN_SCALES.get(cost, 1.0)
    front = pareto_front(list(zip(data[f1].astype(float), data[cost].astype(float), strict=True)))
    roles = data["role"].astype(str) if "role" in data else pd.Series("topicbert", index=data.index)
    on_front = data.index.isin(front)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=data.loc[front, cost], y=data.loc[front, f1], mode="lines", name="Pareto front",
        # a staircase: the best F1 reached up to each cost
        line=dict(color=RUN_COLORS[1], width=1.5, dash="dot", shape="hv"), hoverinfo="skip"))
    for role, (legend, symbol, color) in PARETO_GROUPS.items():
        part = data[roles == role]
        if part.empty:
            continue
        labels = [plain(v) for v in part[name]]
        error = None
        if {"f1_low", "f1_high"} <= set(part.columns):
            # no bar where a run has no interval (its test predictions are gone)
            error = dict(type="data", symmetric=False, color=color, thickness=1.2, width=4,
                         array=(part["f1_high"].astype(float) - part[f1]).fillna(0).tolist(),
                         arrayminus=(part[f1] - part["f1_low"].astype(float)).fillna(0).tolist())
        fig.add_trace(go.Scatter(
            x=part[cost], y=part[f1], mode="markers+text", text=labels, textposition="top center", cliponaxis=False,
            name=legend, error_y=error,
            marker=dict(symbol=[symbol + ("" if front_ else "-open") for front_ in on_front[part.index]],
                        size=12, color=color, line=dict(width=2, color=color)),
            hovertemplate=f"%{{text}}<br>{_title(cost, gas)} %{{x:.3g}}<br>"
                          f"{COLUMN_TITLES.get(f1, f1)} %{{y:.4f}}<extra></extra>"))
    # F1 never leaves [0, 1]; a little room above 1 keeps a perfect run's marker and label in view
    fig.update_yaxes(autorangeoptions=dict(minallowed=0, maxallowed=1.08), tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0])
    cost_title = _title(cost, gas)
    return _layout(fig, f"Test macro-F1 against {cost_title} (filled: on the Pareto front; bars: 95% interval)",
                   cost_title, COLUMN_TITLES.get(f1, f1))


# ---------------------------------------------------------------- topics

GAIN_COLOR, LOSS_COLOR = RUN_COLORS[2], RUN_COLORS[1]   # green: the topic branch helps; vermilion: it hurts
FEW_COLOR = "#d9d9d9"                                   # pale grey: too few documents for a verdict
GAIN_LEGEND = {HIGHER: GAIN_COLOR, LOWER: LOSS_COLOR,
               WITHIN_NOISE: BASELINE_COLOR, "too few documents for a verdict": FEW_COLOR}


def visualize_topic_gains(gains: pd.DataFrame, run: str, reference: str) -> go.Figure:
    """Per topic with test documents (topic_gains.topic_gains), the run's accuracy minus the reference's on the
    documents whose dominant topic it is, in the table's order (verdicts first, largest gain on top). Green:
    higher beyond the noise, vermilion: lower, both after the correction for the number of topics; grey: within
    noise; pale: too few documents for a verdict."""
    data = gains[gains["documents"] > 0].iloc[::-1]  # plotly draws bottom-up
    verdicts = data["against the reference"]
    colours = [GAIN_COLOR if v == HIGHER else LOSS_COLOR if v == LOWER
               else BASELINE_COLOR if v == WITHIN_NOISE else FEW_COLOR for v in verdicts]
    labels = [f"{plain(label)} ({n} docs)" for label, n in zip(data["label"], data["documents"], strict=True)]
    adjusted = [f"{p:.3g}" if pd.notna(p) else "none" for p in data["adjusted p"]]
    fig = go.Figure(go.Bar(
        x=data["difference"], y=labels, orientation="h", marker_color=colours, showlegend=False,
        customdata=list(zip(data["only it right"], data["only the reference right"], adjusted, verdicts, strict=True)),
        hovertemplate="%{y}<br>accuracy difference %{x:+.3f}: only this run right on %{customdata[0]}, only the "
                      "reference on %{customdata[1]}; adjusted p %{customdata[2]}: %{customdata[3]}<extra></extra>"))
    # the colours' legend: an empty bar for each verdict
    for name, colour in GAIN_LEGEND.items():
        fig.add_trace(go.Bar(x=[None], y=[None], orientation="h", marker_color=colour, name=name))
    fig.add_vline(x=0, line_color="#000000", line_width=1)
    fig.update_yaxes(type="category", automargin=True)
    fig.update_layout(height=max(360, 28 * len(data) + 180))
    return _layout(fig, f"Where the topic branch helps: {plain(run)} minus {plain(reference)}, by dominant topic",
                   "accuracy difference (colour: verdict, corrected for the number of topics)", "")


def visualize_topic_matching(matches: pd.DataFrame, run: str, other: str, apart: float | None = None) -> go.Figure:
    """Each matched pair of topics (topic_stability.match_topics) with its cosine similarity, most similar on top;
    `apart` (topic_stability.unmatched_similarity), a dotted line: how alike the pairs left apart are."""
    data = matches.iloc[::-1]
    labels = [f"{a} ↔ {b}" for a, b in zip(data["topic"], data["matched topic"], strict=True)]
    fig = go.Figure(go.Bar(
        x=data["similarity"], y=labels, orientation="h", marker_color=RUN_COLORS[0],
        customdata=[[plain(a), plain(b)] for a, b in zip(data["label"], data["matched label"], strict=True)],
        hovertemplate="%{customdata[0]}<br>↔ %{customdata[1]}<br>cosine similarity %{x:.3f}<extra></extra>"))
    x_title = "cosine similarity of the word distributions"
    if apart is not None and np.isfinite(apart):
        fig.add_vline(x=apart, line=dict(color=BASELINE_COLOR, dash="dot", width=2))
        x_title += f" (dotted: the pairs left apart, {apart:.2f} on average)"
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(type="category", automargin=True)
    fig.update_layout(height=max(320, 24 * len(data) + 160), showlegend=False)
    return _layout(fig, f"Topics of {plain(run)} matched to {plain(other)}", x_title, "topic ↔ matched topic")


# ---------------------------------------------------------------- one document

def visualize_topic_mixture(theta: np.ndarray, topic_labels: Sequence[str], top_k: int = 10) -> go.Figure:
    """A document's `top_k` heaviest topics (theta: K weights summing to 1), largest on top."""
    weights = np.asarray(theta, dtype=float).ravel()
    if len(topic_labels) != weights.size:
        raise ValueError(f"{len(topic_labels)} topic labels for {weights.size} topic weights")
    order = np.argsort(-weights, kind="stable")[:top_k][::-1]  # reversed: plotly draws bottom-up
    fig = go.Figure(go.Bar(
        x=weights[order], y=[plain(topic_labels[k]) for k in order], orientation="h",
        marker_color=RUN_COLORS[2], hovertemplate="%{y}<br>weight %{x:.3f}<extra></extra>"))
    fig.update_yaxes(type="category", automargin=True)
    fig.update_layout(height=max(300, 32 * len(order) + 120))
    return _layout(fig, "Topic mixture", "weight", "")


def visualize_class_probabilities(probs: Mapping[str, np.ndarray], classes: Sequence[str],
                                  baseline: str | None = None) -> go.Figure:
    """Class probabilities, one bar group per class and one colour per model; `baseline` names the grey one."""
    labels = [plain(c) for c in classes]
    fig = go.Figure()
    for i, (model, values) in enumerate(probs.items()):
        values = np.asarray(values, dtype=float).ravel()
        if values.size != len(classes):
            raise ValueError(f"{model}: {values.size} probabilities for {len(classes)} classes")
        is_baseline = model == baseline
        fig.add_trace(go.Bar(
            x=labels, y=values, name=plain(model) + (" (baseline)" if is_baseline else ""),
            marker=dict(color=BASELINE_COLOR if is_baseline else RUN_COLORS[i % len(RUN_COLORS)],
                        pattern_shape="/" if is_baseline else ""),
            hovertemplate=f"{plain(model)}<br>%{{x}}: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, "Class probabilities", "class", "probability")
