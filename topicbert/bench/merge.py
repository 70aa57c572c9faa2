"""Bench JSONs of one setting run apart (other seeds, another day, another GPU loan) as one report.

Each JSON keeps every measurement with its test predictions, so the merged rows are summarised
as if one bench had run every seed: means, spreads, and intervals paired and resampled afresh.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..config import RunConfig
from ..data.corpus import source_name
from ..stats.time_to_accuracy import DEFAULT_TARGET
from .measurement import Measurement
from .side_by_side import SETTING_KEYS, bench_report
from .variants import BASELINE

_BENCH_KEYS = [*SETTING_KEYS, "loop_overhead", "peak_tflops", "partial"]


def _setting(report: dict) -> dict:
    """What must agree for runs to be one benchmark: the corpus (by name: its path may differ from machine
    to machine), epochs, limits, the settings every row shares but the seed, and the machine."""
    # read through RunConfig, so that a setting added since the file was written compares as its default
    config = {key: value for key, value in RunConfig.from_dict(report["config"]).to_dict().items()
              if key not in ("seed", "corpus")}
    return {**{key: report[key] for key in SETTING_KEYS}, "corpus": source_name(report["corpus"]), "config": config}


def _differences(setting: dict, reference: dict) -> list[str]:
    """The names of what differs, a config's settings one by one."""
    config, reference_config = setting["config"], reference["config"]
    return ([key for key in setting if key != "config" and setting[key] != reference[key]]
            + [f"config's {key}" for key in sorted(config.keys() | reference_config.keys())
               if config.get(key) != reference_config.get(key)])


def _check_bench(name: str, report: dict, first_name: str, first: dict) -> None:
    """ValueError naming the file and what is wrong, unless `report` is a bench JSON of `first`'s setting."""
    missing = [key for key in _BENCH_KEYS if key not in report] if isinstance(report, dict) else _BENCH_KEYS
    if missing:
        raise ValueError(f"{name}: not a bench JSON (it has no {', '.join(missing)})")
    if "measurements" not in report:
        raise ValueError(f"{name}: written before the bench kept each row's test predictions, so its "
                         f"intervals cannot be computed again; rerun it to merge it")
    differ = _differences(_setting(report), _setting(first))
    if differ:
        raise ValueError(f"{name}: {', '.join(differ)} differ from {first_name}'s: only runs of one setting "
                         f"on one machine merge")


def baseline_from(name: str, report: dict, setting: dict, seeds: Sequence[int]) -> tuple[dict[int, Measurement],
                                                                                         dict | None]:
    """BERT-512's measurements of `seeds` and its loop overhead from an earlier bench JSON of the same `setting`
    on the same machine, so that new rows finish its table without training the baseline again. ValueError,
    naming the file and what is wrong, for another setting or a seed it lacks."""
    _check_bench(name, report, "this bench", setting)
    measured = {record["seed"]: Measurement.from_record(record) for record in report["measurements"].get(BASELINE, [])}
    lacking = [seed for seed in seeds if seed not in measured]
    if lacking:
        raise ValueError(f"{name}: has no {BASELINE} row for seed {', '.join(map(str, lacking))}")
    return {seed: measured[seed] for seed in seeds}, report["loop_overhead"]


def merge_reports(reports: Sequence[tuple[str, dict]], target: float | None = None) -> dict:
    """(file name, bench JSON) pairs -> one bench JSON over all their seeds, its time to accuracy at `target`
    (None: the first file's). ValueError, naming the file and what is wrong, for a JSON without measurements, a
    setting that differs, or a row and seed measured twice."""
    if not reports:
        raise ValueError("no bench JSON to merge")
    first_name, first = reports[0]
    per_seed: dict[str, list[Measurement]] = {}
    kept: dict[tuple[str, int], dict] = {}  # each (row, seed)'s record as first read
    loop_overhead = None
    for name, report in reports:
        _check_bench(name, report, first_name, first)
        for row, records in report["measurements"].items():
            measurements = per_seed.setdefault(row, [])
            for record in records:
                earlier = kept.setdefault((row, record["seed"]), record)
                if earlier is record:
                    measurements.append(Measurement.from_record(record))
                elif earlier != record:  # the very measurement (bench --baseline-from copies it) counts once
                    raise ValueError(f"{name}: {row} seed {record['seed']} is in an earlier file too, measured apart")
        loop_overhead = loop_overhead or report["loop_overhead"]
    if BASELINE not in per_seed:
        raise ValueError(f"none of the files has a {BASELINE} row: every ratio is taken against it")
    for measurements in per_seed.values():
        measurements.sort(key=lambda m: m.seed)
    seeds = {m.seed for measurements in per_seed.values() for m in measurements}
    setting = {key: first[key] for key in SETTING_KEYS}
    # partial when a row lacks a seed another row has: a bench cut off after some rows is whole once another
    # file brings the rest, since a file only ever holds finished measurements
    partial = any({m.seed for m in measurements} != seeds for measurements in per_seed.values())
    merged = bench_report({**setting, "seeds": len(seeds)}, list(per_seed), per_seed, loop_overhead,
                          first["peak_tflops"], partial=partial,
                          target=target or first.get("target", DEFAULT_TARGET))
    return {**merged, "merged_from": [name for name, _ in reports]}
