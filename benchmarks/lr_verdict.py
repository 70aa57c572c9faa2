"""Whether a candidate setting of the learning-rate search earns the default (issue 22's item 3): its runs
against the reference's, paired by corpus, row, limits, seed and machine, from files lr_search.py --json wrote.
Each corpus and row alone, then all pooled where there are several (topicbert/bench/setting_search.py says how).

    python -m benchmarks.lr_verdict benchmarks/lr_warmup_runs.json --reference 1e-4/0.1 --candidate 1e-4/0
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from benchmarks import script_parser
from topicbert.bench.setting_search import SearchRun, compare_settings, comparison_words, pair_runs


def _setting(text: str) -> tuple[float, float]:
    """'1e-4/0.1' -> (learning rate, warm-up share)."""
    rate, _, warmup = text.partition("/")
    try:
        return float(rate), float(warmup)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not RATE/WARMUP, as in 1e-4/0.1") from None


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--reference", type=_setting, required=True, help="RATE/WARMUP, the default's")
    parser.add_argument("--candidate", type=_setting, required=True, help="RATE/WARMUP")
    args = parser.parse_args(argv)
    runs = [SearchRun.from_record(r) for path in args.files for r in json.loads(path.read_text())]
    chosen = lambda setting: [r for r in runs if (r.lr, r.warmup) == setting]  # noqa: E731
    candidate, reference = chosen(args.candidate), chosen(args.reference)
    print("| corpus | row | seed | best epoch, reference | best epoch, candidate | test F1, reference "
          "| test F1, candidate |")
    print("|" + " --- |" * 7)
    pairs = pair_runs(candidate, reference)
    for mine, theirs in pairs:
        print(f"| {mine.corpus} | {mine.variant}-{mine.max_len} | {mine.seed} | {theirs.best_epoch} "
              f"| {mine.best_epoch} | {theirs.test_macro_f1:.4f} | {mine.test_macro_f1:.4f} |")
    print()
    group = lambda run: (run.corpus, run.variant, run.max_len)  # noqa: E731
    groups = {group(mine) for mine, _ in pairs}
    for (corpus, variant, max_len), grouped in itertools.groupby(sorted(pairs, key=lambda p: group(p[0])),
                                                                 key=lambda p: group(p[0])):
        members = list(grouped)
        if len(members) >= 2:
            words = comparison_words(compare_settings([m for m, _ in members], [t for _, t in members]))
            print(f"- {corpus}, {variant}-{max_len}: {words}")
    if len(groups) > 1:
        print(f"- pooled: {comparison_words(compare_settings(candidate, reference))}")


if __name__ == "__main__":
    main()
