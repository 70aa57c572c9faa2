"""One row of a bench JSON against one row of another, paired seed by seed on the same test documents, with the
bench's own intervals over seeds and documents (stats/noise.py). The bench compares the rows of one run; this
compares code of two commits (a row before a change and after it), each benched on its own. Seeds whose test
documents differ between the two files are left out, and said so.

    python -m benchmarks.compare_benches AFTER.json topicbert-128 BEFORE.json topicbert-128
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks import script_parser
from topicbert.bench.measurement import Measurement
from topicbert.stats.bootstrap import bootstrap_samples, macro_f1_samples
from topicbert.stats.noise import difference_over_seeds, mean_over_seeds


def measurements(path: str, row: str) -> dict[int, Measurement]:
    """Each seed's measurement of `row` in the bench JSON at `path`."""
    report = json.loads(Path(path).read_text())
    if row not in report["measurements"]:
        raise SystemExit(f"{path} has no row {row!r}; it has {', '.join(report['measurements'])}")
    return {m.seed: m for m in map(Measurement.from_record, report["measurements"][row])}


def compare(after: dict[int, Measurement], before: dict[int, Measurement]) -> str:
    seeds = [s for s in sorted(after) if s in before and np.array_equal(after[s].labels, before[s].labels)]
    left_out = sorted(set(after) ^ set(before) | {s for s in set(after) & set(before) if s not in seeds})
    if not seeds:
        return "no seed on the same test documents in both files"
    samples = {s: bootstrap_samples(len(after[s].labels)) for s in seeds}
    f1 = {name: ([runs[s].test_macro_f1 for s in seeds],
                 [macro_f1_samples(runs[s].labels, runs[s].predictions, samples[s]) for s in seeds])
          for name, runs in (("after", after), ("before", before))}
    difference = difference_over_seeds(*f1["after"], *f1["before"])
    lines = [f"seeds {', '.join(map(str, seeds))}" + (f" (left out, other documents or absent: {left_out})"
                                                       if left_out else "")]
    for name in ("after", "before"):
        mean = mean_over_seeds(*f1[name])
        lines.append(f"{name}: mean test macro-F1 {mean.value:.4f} [{mean.low:.4f}, {mean.high:.4f}]; per seed "
                     + ", ".join(f"{v:.4f}" for v in f1[name][0]))
    verdict = difference.noise_words() if difference.within_noise else f"{difference.verdict} beyond the noise"
    per_seed = ", ".join(f"{a - b:+.4f}" for a, b in zip(f1["after"][0], f1["before"][0], strict=True))
    lines.append(f"after - before: {difference.value:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}]; per "
                 f"seed {per_seed}; {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("after_file", metavar="AFTER.json", help="a bench JSON of the code after the change")
    parser.add_argument("after_row", metavar="ROW", help="its row, as in topicbert-128")
    parser.add_argument("before_file", metavar="BEFORE.json", help="a bench JSON of the code before it")
    parser.add_argument("before_row", metavar="ROW", help="its row")
    args = parser.parse_args(argv)
    print(compare(measurements(args.after_file, args.after_row), measurements(args.before_file, args.before_row)))


if __name__ == "__main__":
    main()
