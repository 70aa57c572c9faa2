"""Compare as one self-contained HTML file to attach to a review or a pull request: the verdict card, the
curves (interactive: plotly's JavaScript inlined, no internet needed), the summary, the per-topic view, the
runs' settings and how far to trust their energy.

Every text from users (run names, corpus names, topic words) is HTML-escaped: pandas' to_html escapes cells,
html.escape the sentences, and figures carry their labels as plotly draws them (text, not markup).
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from .verdict_card import VerdictCard

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2rem auto; padding: 0 1rem; color: #222; }
#verdict-card { border: 1px solid #ccc; border-radius: 8px; padding: 0.5rem 1.5rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; }
.table { overflow-x: auto; margin-bottom: 1rem; }
.note { color: #555; font-size: 0.9rem; }
"""


def _card(card: VerdictCard) -> str:
    lines = "".join(f"<p><b>{html.escape(line.question)}</b> {html.escape(line.answer)}</p>" for line in card.lines)
    return f'<section id="verdict-card"><p>{html.escape(card.title)}</p>{lines}</section>'


def _table(frame: pd.DataFrame) -> str:
    table = frame.to_html(index=False, escape=True, na_rep="–", float_format="{:.4g}".format)
    return f'<div class="table">{table}</div>'


def compare_report(card: VerdictCard, figures: Sequence[go.Figure], summary: pd.DataFrame,
                   gains: pd.DataFrame | None, settings: pd.DataFrame, caveats: Sequence[str], created: str) -> str:
    """The report as one HTML document. `summary`: Compare's summary as its tables show it; `gains`: the per-topic
    table (None without a TopicBERT run); `settings`: the runs' settings; `caveats`: sentences on the energy;
    `created`: when, in words."""
    # plotly's JavaScript once, inlined with the first figure; the others draw with it
    charts = "".join(figure.to_html(full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False})
                     for i, figure in enumerate(figures))
    topics = ("<h2>Where the topic branch helps</h2>" + _table(gains)) if gains is not None else ""
    notes = "".join(f"<li>{html.escape(caveat)}</li>" for caveat in caveats)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>TopicBERT Studio report</title>'
            f"<style>{STYLE}</style></head><body>"
            f'<h1>TopicBERT Studio report</h1><p class="note">{html.escape(created)}</p>'
            f"{_card(card)}<h2>Curves</h2>{charts}<h2>Summary</h2>{_table(summary)}{topics}"
            f"<h2>The runs' settings</h2>{_table(settings)}"
            f"<h2>The energy: how far to trust it</h2><ul>{notes}</ul></body></html>")
