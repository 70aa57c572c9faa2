"""The report Compare downloads (one HTML file that opens offline) and the runs' settings side by side."""
from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from topicbert.config import RunConfig
from topicbert.runs.store import Store
from topicbert.studio import report, run_settings
from topicbert.studio.verdict_card import Line, VerdictCard

EVIL = "<script>alert('x')</script>"


def test_the_report_holds_the_card_inline_charts_and_escaped_user_text():
    card = VerdictCard(f"{EVIL} (#1) against BERT-512 (#2), on one seed.",
                       [Line("As accurate?", "No. It scores less.")])
    figures = [go.Figure(go.Scatter(x=[1, 2], y=[0.5, 0.6], name=EVIL)), go.Figure(go.Bar(x=["a"], y=[1]))]
    summary = pd.DataFrame([{"run": EVIL, "against the reference": "lower beyond the noise", "F1 difference": -0.03}])
    settings = pd.DataFrame([{"run": "#1 x", "corpus": EVIL}])
    page = report.compare_report(card, figures, summary, None, settings, [f"{EVIL}: estimated."], "Made now")
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert "<b>As accurate?</b> No. It scores less." in page
    assert EVIL not in page and "&lt;script&gt;alert(" in page  # the card, the tables, the caveats
    # plotly's JavaScript once, inline: nothing fetched from the internet
    assert page.count("plotly.js v") == 1 and not re.search(r"<script[^>]+src=", page)
    assert page.count("Plotly.newPlot") == 2
    assert "Where the topic branch helps" not in page  # no per-topic table was given


def test_settings_side_by_side_show_only_what_differs(store: Store):
    base = RunConfig(corpus="/data/bbc.csv", variant="bert", max_len=512, limit_train=400, limit_eval=250)
    ids = [store.create_run(base), store.create_run(base.replace(variant="topicbert", max_len=128, lr=2e-4)),
           store.create_run(base.replace(variant="tfidf"))]
    runs = [store.get_run(i) for i in ids]
    frame = run_settings.settings_frame(runs, {"/data/bbc.csv": "BBC News"})
    first = frame.iloc[0]
    assert (first["corpus"], first["preset"], first["encoder"], first["epochs"], first["learning rate"], first["seed"],
            first["limits"], first["topic model"]) == ("BBC News", "BERT-512", "all-MiniLM-L6-v2", 3, "0.0001", 42,
                                                       "400 training, 250 evaluation", "none")
    assert frame.iloc[1]["topic model"] == "combinedtm, topics chosen from the corpus"
    assert frame.iloc[2]["encoder"] == "none" and frame.iloc[2]["learning rate"] == ""
    pair = run_settings.differences(frame.iloc[:2])
    assert list(pair.columns) == ["run", "preset", "learning rate", "topic model"]
    assert list(run_settings.differences(frame.iloc[:1]).columns) == run_settings.SETTING_COLUMNS
