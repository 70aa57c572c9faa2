"""The benchmark's PNG: test macro-F1 (with its 95% interval) against kWh per variant, with the Pareto front."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen: render straight to a file
import matplotlib.pyplot as plt  # noqa: E402

from ..stats.pareto import pareto_front  # noqa: E402


def save_pareto_png(rows: list[dict], path: Path, title: str = "") -> None:
    kwh = [r["kwh"] for r in rows]
    f1 = [r["test_macro_f1"] for r in rows]
    front = pareto_front(list(zip(f1, kwh, strict=True)))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    # each row's 95% bootstrap interval of test macro-F1
    below = [r["test_macro_f1"] - r["test_macro_f1_ci"][0] for r in rows]
    above = [r["test_macro_f1_ci"][1] - r["test_macro_f1"] for r in rows]
    ax.errorbar(kwh, f1, yerr=[below, above], fmt="o", color="#4c78a8", ecolor="#4c78a8", elinewidth=1, capsize=3,
                zorder=3)
    for row, x, y in zip(rows, kwh, f1, strict=True):
        ax.annotate(row["name"], (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ordered = sorted(front, key=lambda i: kwh[i])
    # front points ringed in red, joined when there are several
    ax.plot([kwh[i] for i in ordered], [f1[i] for i in ordered], color="#e45756", linestyle="--",
            marker="o", markersize=11, markerfacecolor="none", markeredgewidth=2, label="Pareto front", zorder=2)
    ax.set_xlabel("training energy (kWh)")
    ax.set_ylabel("test macro-F1 (bars: 95% interval)")
    ax.set_title(f"F1 against energy{': ' + title if title else ''}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
