"""The benchmark's rows from its measurements, with their uncertainty, and the text it prints.

Every F1 gets a 95% interval; F1 retained and every difference are paired (both rows scored on the same
seeds and the same resampled test documents). One seed: a bootstrap over the test documents, which covers
them alone. Several seeds: a row's figure is the mean over its seeds, ± their spread (standard deviation),
and its interval adds the seeds' variance to the documents' under Student's t with seeds - 1 degrees of
freedom (stats/noise.py: with two or three seeds anything narrower breaks its promised coverage); a
difference also gives each seed's own; speedup and energy saved give their range over seeds.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

from ..energy.meter import DEFAULT_TRACKING_MODE, estimate_band
from ..stats.bootstrap import BOOTSTRAP_RESAMPLES, bootstrap_samples, macro_f1_samples
from ..stats.noise import (
    HIGHER,
    LOWER,
    NoiseInterval,
    as_share,
    difference_over_seeds,
    mean_over_seeds,
    not_shown_words,
)
from ..stats.time_to_accuracy import DEFAULT_TARGET, first_reaching, target_f1
from .flops import mfu
from .measurement import Measurement


class _Bootstrap:
    """Each row's macro-F1 on each seed's resampled test documents. Test sets of one size share their
    resamples (bootstrap_samples' default seed), so rows and seeds tested on the same documents are paired."""

    def __init__(self, per_seed: dict[str, list[Measurement]]) -> None:
        self.per_seed = per_seed
        self._samples: dict[int, np.ndarray] = {}
        self._f1: dict[tuple[str, int], np.ndarray] = {}

    def f1(self, name: str, m: Measurement) -> np.ndarray:
        n_docs = len(m.labels)
        if n_docs not in self._samples:
            self._samples[n_docs] = bootstrap_samples(n_docs, BOOTSTRAP_RESAMPLES)
        if (name, m.seed) not in self._f1:
            self._f1[(name, m.seed)] = macro_f1_samples(m.labels, m.predictions, self._samples[n_docs])
        return self._f1[(name, m.seed)]

    def mean_f1(self, name: str, runs: Sequence[Measurement]) -> NoiseInterval:
        """The mean macro-F1 over these runs' seeds, with its interval over seeds and test documents."""
        return mean_over_seeds([m.test_macro_f1 for m in runs], [self.f1(name, m) for m in runs])


def _common(a: Sequence[Measurement], b: Sequence[Measurement]) -> tuple[list[Measurement], list[Measurement]]:
    """The runs of two rows on the same seeds and test documents: what a paired comparison may use."""
    by_seed = {m.seed: m for m in b}
    pairs = [(m, by_seed[m.seed]) for m in a
             if m.seed in by_seed and np.array_equal(m.labels, by_seed[m.seed].labels)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _mean(runs: Sequence[Measurement], attr: str) -> float:
    return statistics.mean(getattr(m, attr) for m in runs)


def _range(values: Sequence[float]) -> list[float] | None:
    return [min(values), max(values)] if len(values) > 1 else None


def _paired(boot: _Bootstrap, name: str, runs: Sequence[Measurement], other: str) -> dict | None:
    """`name` against `other` on their common seeds: difference, retained share, their intervals and the verdict."""
    mine, theirs = _common(runs, boot.per_seed.get(other, []))
    if not mine:
        return None
    difference = difference_over_seeds([m.test_macro_f1 for m in mine], [boot.f1(name, m) for m in mine],
                                       [t.test_macro_f1 for t in theirs], [boot.f1(other, t) for t in theirs])
    retained = as_share(difference, _mean(theirs, "test_macro_f1"))
    ratio = lambda attr: [getattr(t, attr) / getattr(m, attr) if getattr(m, attr) else float("nan")  # noqa: E731
                          for m, t in zip(mine, theirs, strict=True)]
    kwh = [1 - m.kwh / t.kwh if t.kwh else float("nan") for m, t in zip(mine, theirs, strict=True)]
    return {"against": other, "difference": difference.value, "difference_ci": list(difference.interval),
            "seed_differences": [m.test_macro_f1 - t.test_macro_f1 for m, t in zip(mine, theirs, strict=True)],
            "verdict": difference.verdict, "within_noise": difference.within_noise,
            # None (JSON's null) where nothing varied: no size can be given
            "smallest_detectable": None if math.isnan(detectable := difference.smallest_detectable()) else detectable,
            "seeds": difference.seeds,
            "retained": retained.value, "retained_ci": list(retained.interval),
            "speedup": _mean(theirs, "train_seconds") / _mean(mine, "train_seconds"),
            "speedup_range": _range(ratio("train_seconds")),
            "energy_saved": 1 - _mean(mine, "kwh") / _mean(theirs, "kwh") if _mean(theirs, "kwh") else float("nan"),
            "energy_saved_range": _range(kwh)}


def _still_rising(runs: Sequence[Measurement]) -> int | None:
    """On how many seeds the row's validation F1 still rose at its last evaluation; None if it has no epochs."""
    flags = [m.still_rising for m in runs if m.still_rising is not None]
    return sum(flags) if flags else None


def ablation_base(name: str) -> str | None:
    """The row an ablation row changes one thing of: bert-512+bf16 -> bert-512."""
    return name.split("+", 1)[0] if "+" in name else None


def topic_counterpart(name: str) -> str | None:
    """The BERT row that reads as much as a TopicBERT row: topicbert-128 -> bert-128 (mode and switches kept)."""
    return "bert-" + name[len("topicbert-"):] if name.startswith("topicbert-") else None


def _to_target(runs: Sequence[Measurement], references: Sequence[Measurement], target: float) -> dict:
    """Time to accuracy against the reference seed by seed, judged only on the seeds where both curves were
    recorded: the seconds and kWh until the row's validation F1 first reached `target` times the reference's best
    (None where a judged seed never did), the speedup and energy saved to that point, on how many of the judged
    seeds it was reached, and which of the row's seeds have no reference run to set a target (a time budget
    skips the longest row's later seeds first, and bench-merge can join such files)."""
    by_seed = {m.seed: m for m in references}
    reached = []
    for m in runs:
        reference = by_seed.get(m.seed)
        goal = target_f1(reference.evaluations, target) if reference is not None else None
        if reference is not None and goal is not None and m.evaluations:
            reached.append((first_reaching(m.evaluations, goal), first_reaching(reference.evaluations, goal)))
    every = bool(reached) and all(mine for mine, _ in reached)
    mine = [point for point, _ in reached if point]
    theirs = [point for _, point in reached]
    mean = lambda points, i: statistics.mean(point[i] for point in points)  # noqa: E731
    return {"seconds_to_target": mean(mine, 0) if every else None, "kwh_to_target": mean(mine, 1) if every else None,
            "speedup_to_target": mean(theirs, 0) / mean(mine, 0) if every else None,
            "speedup_to_target_range": _range([t[0] / m[0] for m, t in reached if m and t]) if every else None,
            "energy_saved_to_target": 1 - mean(mine, 1) / mean(theirs, 1) if every and mean(theirs, 1) else None,
            "target_reached_seeds": len(mine) if reached else None,
            "target_judged_seeds": len(reached) if reached else None,
            "seeds_without_reference": [m.seed for m in runs if m.seed not in by_seed]}


def summarize_rows(names: Sequence[str], per_seed: dict[str, list[Measurement]], baseline: str,
                   peak_tflops: float | None = None, target: float = DEFAULT_TARGET) -> list[dict]:
    """One row per name (with at least one measurement); ratios against `baseline` on their common seeds, and
    time to accuracy: to `target` times the baseline's best validation macro-F1, seed by seed."""
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
        fixed = [m.fixed_seconds for m in runs if m.fixed_seconds is not None]
        row_mfu = mfu(statistics.mean(flops), _mean(runs, "step_seconds"), peak_tflops) if flops else None
        rows.append({
            "name": name, "seeds": len(runs),
            "test_macro_f1": statistics.mean(f1s),
            "test_macro_f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
            "test_macro_f1_ci": list(boot.mean_f1(name, runs).interval),
            "test_documents": len(runs[0].labels),
            "f1_retained": against["retained"] if against else float("nan"),
            "f1_retained_ci": against["retained_ci"] if against else [float("nan")] * 2,
            "against_baseline": against, "topic_branch": branch, "ablation": ablation,
            "train_seconds": _mean(runs, "train_seconds"), "step_seconds": _mean(runs, "step_seconds"),
            "steps": _mean(runs, "steps"),
            "tokens_processed": _mean(runs, "tokens_processed"), "padded_fraction": _mean(runs, "padded_fraction"),
            # of step time: how well a row's batches use the machine, whatever its sequence length
            "tokens_per_second": (_mean(runs, "tokens_processed") / _mean(runs, "step_seconds")
                                  if _mean(runs, "step_seconds") else float("nan")),
            "fixed_seconds": statistics.mean(fixed) if len(fixed) == len(runs) else None,
            **_to_target(runs, per_seed[baseline], target),
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


def _with_range(value: float, spread: list[float] | None, fmt: str, unit: str = "") -> str:
    """'2.50x (2.31–2.62)': the figure, and its range over seeds where there are several."""
    return format(value, fmt) + unit + (f" ({format(spread[0], fmt)}–{format(spread[1], fmt)})" if spread else "")


def _optional(value: float | None, fmt: str, unit: str = "", missing: str = "not reached") -> str:
    return missing if value is None else format(value, fmt) + unit


def _speedup_to_target(row: dict) -> str:
    if not row["speedup_to_target"]:
        return ""
    return _with_range(row["speedup_to_target"], row["speedup_to_target_range"], ".2f", "x")


def markdown_table(rows: list[dict], target: float = DEFAULT_TARGET) -> str:
    header = ("| variant | test macro-F1 [95% CI] | F1 retained [95% CI] | train s | fixed s | step s | speedup "
              f"| s to {target:.0%} | speedup to {target:.0%} | tokens | tokens/s | padded | kWh | kg CO2e "
              "| energy saved | infer docs/s | kWh / 1k docs |")
    lines = [header, "|" + " --- |" * 17]
    for r in rows:
        against = r["against_baseline"] or {}
        curve = r["target_reached_seeds"] is not None   # rows whose validation curve was recorded
        lines.append(
            f"| {r['name']} | {_f1_cell(r)} | {_retained_cell(r)} | {r['train_seconds']:.0f} "
            f"| {_optional(r['fixed_seconds'], '.0f', missing='')} | {r['step_seconds']:.0f} "
            f"| {_with_range(r['speedup'], against.get('speedup_range'), '.2f', 'x')} "
            f"| {_optional(r['seconds_to_target'], '.0f', missing='not reached' if curve else '')} "
            f"| {_speedup_to_target(r)} "
            f"| {r['tokens_processed']:,.0f} | {r['tokens_per_second']:,.0f} | {r['padded_fraction']:.1%} "
            f"| {r['kwh']:.3g} | {r['kg_co2e']:.3g} "
            f"| {_with_range(r['energy_saved'], against.get('energy_saved_range'), '.1%')} "
            f"| {r['inference_docs_per_second']:.1f} | {r['inference_kwh_per_1000_docs']:.3g} |")
    return "\n".join(lines)


def _sooner_or_later(speedup: float, spread: list[float] | None) -> str:
    """'1.50x sooner (1.20–1.80)' or, for a row slower than the reference, '1.50x later': the words follow the
    sign and the figure is at least 1; a range over seeds on both sides of 1 is said in words at each end."""
    if speedup == 1 and not spread:
        return "as soon"
    if spread and min(spread) < 1 < max(spread):
        return (f"{_times(speedup)} on average (from {_times(max(spread))} to {_times(min(spread))} "
                "over seeds)")
    if speedup < 1:
        return _with_range(1 / speedup, sorted(1 / x for x in spread) if spread else None, ".2f", "x") + " later"
    return _with_range(speedup, spread, ".2f", "x") + " sooner"


def _times(speedup: float) -> str:
    return f"{1 / speedup:.2f}x later" if speedup < 1 else f"{speedup:.2f}x sooner"


def _less_or_more(saved: float) -> str:
    """'50.0% less energy', or '50.0% more energy' when nothing was saved."""
    if not math.isfinite(saved):
        return "no energy reading to compare"
    return f"{abs(saved):.1%} {'less' if saved >= 0 else 'more'} energy"


def _seed_list(seeds: Sequence[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(seed) for seed in seeds)


def _it(items: Sequence) -> str:
    return "it" if len(items) == 1 else "them"


def time_to_accuracy(rows: list[dict], baseline: str, target: float = DEFAULT_TARGET) -> list[str]:
    """One line: how much sooner (or later) each row reached `target` of the baseline's best validation F1, with
    how much less (or more) energy, or on how many seeds it did not; judged on the seeds the baseline ran, naming
    those it did not."""
    said = []
    for r in rows:
        if r["name"] == baseline or r["target_reached_seeds"] is None:
            continue
        judged = r["target_judged_seeds"]
        if r["speedup_to_target"] is None:
            words = (f"{r['name']} did not reach it on {judged - r['target_reached_seeds']} of {judged} "
                     f"seed{'s' if judged > 1 else ''}")
        else:
            saved = r["energy_saved_to_target"]
            words = (f"{r['name']} {_sooner_or_later(r['speedup_to_target'], r['speedup_to_target_range'])}"
                     + (f", {_less_or_more(saved)} to that point" if saved is not None else ""))
        unpaired = r["seeds_without_reference"]
        if unpaired:
            words += f" ({_seed_list(unpaired)} not judged: {baseline} did not run {_it(unpaired)})"
        said.append(words)
    if not said:
        return []
    return [f"Time to accuracy (to {target:.0%} of {baseline}'s best validation macro-F1, counting everything "
            f"before that evaluation, pretraining included; no stopping rule in it): {'; '.join(said)}."]


def _difference(p: dict) -> str:
    low, high = p["difference_ci"]
    seeds = p["seed_differences"]
    each = f" (per seed: {', '.join(f'{d:+.4f}' for d in seeds)})" if len(seeds) > 1 else ""
    return f"{p['difference']:+.4f} macro-F1 [{low:+.4f}, {high:+.4f}]{each}"


# a comparison's three verdicts, as each kind of comparison words them: (higher, lower)
_AGAINST_BASELINE = ("above it by more than the noise", "below it by more than the noise")
_ABLATION = ("higher beyond the noise", "lower beyond the noise")
_TOPIC_BRANCH = ("the topic branch adds F1 beyond the noise", "the topic branch costs F1 beyond the noise")


def _verdict(p: dict, words: tuple[str, str]) -> str:
    if p["verdict"] == HIGHER:
        return words[0]
    if p["verdict"] == LOWER:
        return words[1]
    either_way = "; the topic branch is not shown either way" if words is _TOPIC_BRANCH else ""
    return not_shown_words(p["smallest_detectable"], p["seeds"]) + either_way


def verdicts(rows: list[dict]) -> list[str]:
    """One plain sentence per comparison: against the baseline, an ablation row against the row it changes
    (an ablation of the baseline is already that), and each TopicBERT row against its BERT-x. Each says
    higher or lower beyond the noise, or that the difference is not shown either way, with the smallest
    difference that could have shown."""
    lines = []
    for r in rows:
        against = r["against_baseline"]
        if against and r["name"] != against["against"]:
            lines.append(f"{r['name']} against {against['against']}: {_difference(against)}: "
                         f"{_verdict(against, _AGAINST_BASELINE)}.")
        ablation = r["ablation"]
        if ablation:
            lines.append(f"{r['name']} against {ablation['against']}: {_difference(ablation)}: "
                         f"{_verdict(ablation, _ABLATION)}; {ablation['speedup']:.2f}x its speed, "
                         f"{_less_or_more(ablation['energy_saved'])}.")
        branch = r["topic_branch"]
        if branch:
            lines.append(f"{r['name']} against {branch['against']}: {_difference(branch)}: "
                         f"{_verdict(branch, _TOPIC_BRANCH)}.")
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


def _estimate_note(rows: list[dict]) -> list[str]:
    """Where the energy is codecarbon's estimate: the band a kWh figure carries, and how far a saving between rows
    (one machine, one meter) can be read (studio/trust.py argues it)."""
    band = next((words for r in rows if (words := estimate_band(str(r["measured"]), DEFAULT_TRACKING_MODE))), "")
    if not band:
        return []
    return [f"Energy: some of it is {band}; a kWh figure carries that. Every row ran on this machine under one meter, "
            "so in the energy one row saves against another the TDP cancels: at equal CPU loads the saving is the "
            "time saved, and at unequal loads it is off by how power bends with load, which the bench does not "
            "record: read an energy saving as real where the time saved bears it out."]


def report_text(report: dict) -> str:
    """The table, how to read it, the verdicts, the recipes of the reference rows and the loop's overhead."""
    rows = report["rows"]
    seeds = max((r["seeds"] for r in rows), default=1)
    parts = [markdown_table(rows, report.get("target", DEFAULT_TARGET)), "",
             f"Intervals: 95%, over the {rows[0]['test_documents']:,} test documents (bootstrap, "
             f"{BOOTSTRAP_RESAMPLES:,} resamples)"
             + (f" and the seeds: Student's t over {seeds} seeds with {seeds - 1} degrees of freedom, the documents' "
                "variance added to the seeds' (few seeds make wide intervals: that is their honest width); ± is the "
                "standard deviation over seeds, and speedup and energy saved give their range over seeds"
                if seeds > 1 else "; one seed, so they say nothing of how another seed would score")
             + "; F1 retained and differences are paired (the same seeds and resampled documents)."
             + (" Rows ran different numbers of seeds (a time budget): a row's F1 is the mean over its own seeds, "
                "while F1 retained, speedup, energy saved and every difference pair it with the other row on the "
                "seeds both ran." if len({r["seeds"] for r in rows}) > 1 else ""),
             f"Scope: {report['scope']}", *_estimate_note(rows), "", *verdicts(rows),
             *time_to_accuracy(rows, report.get("baseline", rows[0]["name"]), report.get("target", DEFAULT_TARGET)),
             *convergence(rows)]
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
