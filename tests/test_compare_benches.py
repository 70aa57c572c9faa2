"""benchmarks/compare_benches.py: a row of one bench JSON against a row of another (two commits' code), paired
seed by seed on the same test documents, with the bench's intervals."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from test_bench import measurement, noisy

from benchmarks import compare_benches


def bench_json(path: Path, row: str, seeds: dict[int, float]) -> str:
    """A bench JSON holding `row` at each seed, missing a share seeds[seed] of 2,000 test documents."""
    runs = []
    for seed, wrong in seeds.items():
        labels = np.random.default_rng(seed).integers(0, 4, 2000)
        runs.append(measurement(seed, labels, noisy(labels, wrong, seed + 7), 100.0, 0.01).to_record())
    path.write_text(json.dumps({"measurements": {row: runs}}))
    return str(path)


def test_rows_of_two_benches_are_paired_seed_by_seed(tmp_path):
    after = compare_benches.measurements(bench_json(tmp_path / "a.json", "topicbert-128",
                                                    {42: 0.05, 43: 0.06, 44: 0.05}), "topicbert-128")
    before = compare_benches.measurements(bench_json(tmp_path / "b.json", "topicbert-128", {42: 0.30, 43: 0.31}),
                                          "topicbert-128")
    said = compare_benches.compare(after, before)
    assert said.startswith("seeds 42, 43 (left out, other documents or absent: [44])")
    assert "higher beyond the noise" in said
    # a row against itself: no difference, within noise
    assert "after - before: +0.0000" in compare_benches.compare(before, before)
    assert "within noise" in compare_benches.compare(before, before)
