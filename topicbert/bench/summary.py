"""The benchmark's rows from its measurements, with their uncertainty, and the text it prints.

Every F1 gets a 95% bootstrap interval over the test documents; F1 retained and every difference
are paired (both rows scored on the same resampled documents of the same seed). With several seeds
a row's figure is the mean over its seeds and ± the spread (standard deviation) over seeds; its
interval is that of the mean, each resample drawing the seeds too, so that seed-to-seed variation
widens it; a difference also gives each seed's own; speedup and energy saved give their range over seeds.
"""
from __future__ import annotations

import statistics
from typing import Optional, Sequence

import numpy as np

from ..training.metrics import (BOOTSTRAP_RESAMPLES, bootstrap_samples, macro_f1_samples, paired_from_samples,
                                percentile_interval)
from .flops import mfu
from .measurement import Measurement

TOPIC_BRANCH_NOTHING = "on this corpus the topic branch adds nothing"
WITHIN_NOISE = "within noise"


class _Bootstrap:
    """Each seed's resamples of its test documents, shared by every row (so comparisons are paired),
    and each row's macro-F1 on them."""

    def __init__(self, per_seed: dict[str, list[Measurement]]) -> None:
        self.per_seed = per_seed
        self._samples: dict[int, np.ndarray] = {}
        self._f1: dict[tuple[str, int], np.ndarray] = {}
        self._seed_picks: dict[int, np.ndarray] = {}

    def f1(self, name: str, m: Measurement) -> np.ndarray:
        if m.seed not in self._samples:
            self._samples[m.seed] = bootstrap_samples(len(m.labels), BOOTSTRAP_RESAMPLES, seed=m.seed)
        if (name, m.seed) not in self._f1:
            self._f1[(name, m.seed)] = macro_f1_samples(m.labels, m.predictions, self._samples[m.seed])
        return self._f1[(name, m.seed)]

    def mean_f1(self, name: str, runs: Sequence[Measurement]) -> np.ndarray:
        """The bootstrap distribution of the mean macro-F1 over these runs' seeds. With several seeds each
        resample draws the seeds with replacement as well as the documents, the same draw for every row
        on as many seeds (so comparisons stay paired): documents alone would leave out how much a
        model's F1 moves from one seed to the next, often the larger noise."""
        per_seed = np.stack([self.f1(name, m) for m in runs])  # (seeds, resamples)
        if len(runs) == 1:
            return per_seed[0]
        if len(runs) not in self._seed_picks:
            self._seed_picks[len(runs)] = np.random.default_rng(len(runs)).integers(
                0, len(runs), size=(per_seed.shape[1], len(runs)))
        picks = self._seed_picks[len(runs)]  # (resamples, seeds): which seeds each resample takes
        return per_seed[picks, np.arange(per_seed.shape[1])[:, None]].mean(axis=1)


def _common(a: Sequence[Measurement], b: Sequence[Measurement]) -> tuple[list[Measurement], list[Measurement]]:
    """The runs of two rows on the same seeds and test documents: what a paired comparison may use."""
    by_seed = {m.seed: m for m in b}
    pairs = [(m, by_seed[m.seed]) for m in a
             if m.seed in by_seed and np.array_equal(m.labels, by_seed[m.seed].labels)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _mean(runs: Sequence[Measurement], attr: str) -> float:
    return statistics.mean(getattr(m, attr) for m in runs)


def _range(values: Sequence[float]) -> Optional[list[float]]:
    return [min(values), max(values)] if len(values) > 1 else None


def _paired(boot: _Bootstrap, name: str, runs: Sequence[Measurement], other: str) -> Optional[dict]:
    """`name` against `other` on their common seeds: difference, retained share and their intervals."""
    mine, theirs = _common(runs, boot.per_seed.get(other, []))
    if not mine:
        return None
    p = paired_from_samples(_mean(mine, "test_macro_f1"), _mean(theirs, "test_macro_f1"),
                            boot.mean_f1(name, mine), boot.mean_f1(other, theirs))
    ratio = lambda attr: [getattr(t, attr) / getattr(m, attr) if getattr(m, attr) else float("nan")  # noqa: E731
                          for m, t in zip(mine, theirs)]
    kwh = [1 - m.kwh / t.kwh if t.kwh else float("nan") for m, t in zip(mine, theirs)]
    return {"against": other, "difference": p.difference, "difference_ci": list(p.difference_interval),
            "seed_differences": [m.test_macro_f1 - t.test_macro_f1 for m, t in zip(mine, theirs)],
            "within_noise": p.within_noise, "retained": p.retained, "retained_ci": list(p.retained_interval),
            "speedup": _mean(theirs, "train_seconds") / _mean(mine, "train_seconds"),
            "speedup_range": _range(ratio("train_seconds")),
            "energy_saved": 1 - _mean(mine, "kwh") / _mean(theirs, "kwh") if _mean(theirs, "kwh") else float("nan"),
            "energy_saved_range": _range(kwh)}


def _still_rising(runs: Sequence[Measurement]) -> Optional[int]:
    """On how many seeds the row's validation F1 still rose at its last evaluation; None if it has no epochs."""
    flags = [m.still_rising for m in runs if m.still_rising is not None]
    return sum(flags) if flags else None


def ablation_base(name: str) -> Optional[str]:
    """The row an ablation row changes one thing of: bert-512+bf16 -> bert-512."""
    return name.split("+", 1)[0] if "+" in name else None


def topic_counterpart(name: str) -> Optional[str]:
    """The BERT row that reads as much as a TopicBERT row: topicbert-128 -> bert-128 (mode and switches kept)."""
    return "bert-" + name[len("topicbert-"):] if name.startswith("topicbert-") else None


def summarize_rows(names: Sequence[str], per_seed: dict[str, list[Measurement]], baseline: str,
                   peak_tflops: Optional[float] = None) -> list[dict]:
    """One row per name (with at least one measurement); ratios against `baseline` on their common seeds."""
    boot = _Bootstrap(per_seed)
    rows = []
    for name in names:
        runs = per_seed[name]
        f1s = [m.test_macro_f1 for m in runs]
        against = _paired(boot, name, runs, baseline)
        counterpart = topic_counterpart(name)
        branch = _paired(boot, name, runs, counterpart) if counterpart in per_seed else None
        base_row = ablation_base(name)
        ablation = _paired(boot, name, runs, base_row) if base_row in per_seed and base_row != baseline else None
        flops = [m.train_flops for m in runs if m.train_flops is not None]
        row_mfu = mfu(statistics.mean(flops), _mean(runs, "step_seconds"), peak_tflops) if flops else None
        rows.append({
            "name": name, "seeds": len(runs),
            "test_macro_f1": statistics.mean(f1s),
            "test_macro_f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
            "test_macro_f1_ci": list(percentile_interval(boot.mean_f1(name, runs))),
            "test_documents": len(runs[0].labels),
            "f1_retained": against["retained"] if against else float("nan"),
            "f1_retained_ci": against["retained_ci"] if against else [float("nan")] * 2,
            "against_baseline": against, "topic_branch": branch, "ablation": ablation,
            "train_seconds": _mean(runs, "train_seconds"), "step_seconds": _mean(runs, "step_seconds"),
            "steps": _mean(runs, "steps"),
            "tokens_processed": _mean(runs, "tokens_processed"), "padded_fraction": _mean(runs, "padded_fraction"),
            "speedup": against["speedup"] if against else float("nan"),
            "kwh": _mean(runs, "kwh"), "kg_co2e": _mean(runs, "kg_co2e"),
            "energy_saved": against["energy_saved"] if against else float("nan"),
            "inference_docs_per_second": _mean(runs, "inference_docs_per_second"),
            "inference_kwh_per_1000_docs": _mean(runs, "inference_kwh_per_1000_docs"),
            "train_flops": statistics.mean(flops) if flops else None, "mfu": row_mfu,
            "still_rising_seeds": _still_rising(runs),
            "measured": runs[0].measured})
    return rows


# ---------------------------------------------------------------- text

def _f1_cell(r: dict) -> str:
    spread = f" ± {r['test_macro_f1_std']:.4f}" if r["seeds"] > 1 else ""
    low, high = r["test_macro_f1_ci"]
    return f"{r['test_macro_f1']:.4f}{spread} [{low:.4f}, {high:.4f}]"


def _retained_cell(r: dict) -> str:
    low, high = r["f1_retained_ci"]
    return f"{r['f1_retained']:.1%} [{low:.1%}, {high:.1%}]"


def _with_range(value: float, spread: Optional[list[float]], fmt: str, unit: str = "") -> str:
    """'2.50x (2.31–2.62)': the figure, and its range over seeds where there are several."""
    return format(value, fmt) + unit + (f" ({format(spread[0], fmt)}–{format(spread[1], fmt)})" if spread else "")


def markdown_table(rows: list[dict]) -> str:
    header = ("| variant | test macro-F1 [95% CI] | F1 retained [95% CI] | train s | step s | speedup | tokens "
              "| padded | kWh | kg CO2e | energy saved | infer docs/s | kWh / 1k docs |")
    lines = [header, "|" + " --- |" * 13]
    for r in rows:
        against = r["against_baseline"] or {}
        lines.append(
            f"| {r['name']} | {_f1_cell(r)} | {_retained_cell(r)} | {r['train_seconds']:.0f} "
            f"| {r['step_seconds']:.0f} | {_with_range(r['speedup'], against.get('speedup_range'), '.2f', 'x')} "
            f"| {r['tokens_processed']:,.0f} | {r['padded_fraction']:.1%} | {r['kwh']:.3g} | {r['kg_co2e']:.3g} "
            f"| {_with_range(r['energy_saved'], against.get('energy_saved_range'), '.1%')} "
            f"| {r['inference_docs_per_second']:.1f} | {r['inference_kwh_per_1000_docs']:.3g} |")
    return "\n".join(lines)


def _difference(p: dict) -> str:
    low, high = p["difference_ci"]
    seeds = p.get("seed_differences") or []  # JSON written before it was recorded has none
    each = f" (per seed: {', '.join(f'{d:+.4f}' for d in seeds)})" if len(seeds) > 1 else ""
    return f"{p['difference']:+.4f} macro-F1 [{low:+.4f}, {high:+.4f}]{each}"


def verdicts(rows: list[dict]) -> list[str]:
    """One plain sentence per comparison: against the baseline, an ablation row against the row it changes
    (an ablation of the baseline is already that), and each TopicBERT row against its BERT-x."""
    lines = []
    for r in rows:
        against = r["against_baseline"]
        if against and r["name"] != against["against"]:
            if against["within_noise"]:
                word = WITHIN_NOISE
            else:
                word = ("above" if against["difference"] > 0 else "below") + " it by more than the noise"
            lines.append(f"{r['name']} against {against['against']}: {_difference(against)}: {word}.")
        ablation = r["ablation"]
        if ablation:
            word = WITHIN_NOISE if ablation["within_noise"] else "beyond the noise"
            lines.append(f"{r['name']} against {ablation['against']}: {_difference(ablation)}: {word}; "
                         f"{ablation['speedup']:.2f}x its speed, {ablation['energy_saved']:.1%} less energy.")
        branch = r["topic_branch"]
        if branch:
            beats = branch["difference_ci"][0] > 0
            word = ("the topic branch beats plain truncation by more than the noise" if beats
                    else f"not better by more than the noise: {TOPIC_BRANCH_NOTHING}")
            lines.append(f"{r['name']} against {branch['against']}: {_difference(branch)}: {word}.")
    return lines


def convergence(rows: list[dict]) -> list[str]:
    """Whether the rows that train in epochs converged: one sentence, naming those whose validation F1 still rose."""
    trained = [r for r in rows if r.get("still_rising_seeds") is not None]
    if not trained:
        return []
    rising = [r["name"] + (f" ({r['still_rising_seeds']} of {r['seeds']} seeds)" if r["seeds"] > 1 else "")
              for r in trained if r["still_rising_seeds"]]
    if not rising:
        return ["Converged: every row's validation macro-F1 had stopped rising when its training ended."]
    return [f"Not converged: validation macro-F1 still rose at the last evaluation of {', '.join(rising)}; "
            f"more epochs might raise {'its' if len(rising) == 1 else 'their'} F1."]


def report_text(report: dict) -> str:
    """The table, how to read it, the verdicts, the recipes of the reference rows and the loop's overhead."""
    rows = report["rows"]
    seeds = max((r["seeds"] for r in rows), default=1)
    parts = [markdown_table(rows), "",
             f"Intervals: 95% bootstrap over the {'seeds and the ' if seeds > 1 else ''}"
             f"{rows[0]['test_documents']:,} test documents ({BOOTSTRAP_RESAMPLES:,} resamples), paired for F1 "
             f"retained and for differences"
             + (f"; ± is the standard deviation over {seeds} seeds, and speedup and energy saved give their "
                "range over seeds." if seeds > 1 else "; one seed.")
             + (" Rows ran different numbers of seeds (a time budget): a row's F1 is the mean over its own seeds, "
                "while F1 retained, speedup, energy saved and every difference pair it with the other row on the "
                "seeds both ran." if len({r["seeds"] for r in rows}) > 1 else ""),
             f"Scope: {report['scope']}", "", *verdicts(rows), *convergence(rows)]
    names = {r["name"] for r in rows}
    parts += [""] + [f"{name}: {recipe}." for name, recipe in report["recipes"].items() if name in names]
    o = report["loop_overhead"]
    if o:
        parts += ["", f"loop overhead: {o['overhead']:+.1%}, median of {o['steps']} paired steps over {o['rounds']} "
                      f"rounds ({o['ours_seconds_per_step']:.3f} s/step ours, {o['bare_seconds_per_step']:.3f} "
                      f"s/step bare)"]
    for r in rows:
        if r["mfu"] is not None:
            parts.append(f"{r['name']}: model FLOPs utilisation {r['mfu']:.1%} ({r['train_flops']:.3g} FLOPs "
                         f"in {r['step_seconds']:.1f} s of steps)")
    return "\n".join(parts)
