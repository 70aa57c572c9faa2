"""Issue 22's item 3, the learning-rate search: for each learning rate of the encoder (the head and the topic
model keep theirs) and each warm-up (the share of the steps the rate climbs over), how many epochs a row takes to
its best validation macro-F1 and what it then scores on the test documents. Early-stopped as the bench's converged
tables are; the topic model is pretrained once per seed and reused by the other rates (so train s is not
comparable across rates for TopicBERT). --json adds each run, with its test predictions, to a file that
benchmarks/lr_verdict.py reads to say whether a setting earns the default.

    python -m benchmarks.lr_search --corpus bbc --variant topicbert --max-len 128 --rates 1e-4,2e-4,4e-4 \\
        --seeds 42,43 --limit-train 800 --epochs 6 --patience 2
    python -m benchmarks.lr_search --corpus bbc --variant bert --max-len 512 --rates 1e-4,2e-4 --warmups 0.1,0 \\
        --seeds 42,43,44 --limit-train 800 --epochs 6 --patience 2
"""
from __future__ import annotations

import itertools
import json
import statistics
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import script_parser
from topicbert.bench.side_by_side import machine_description
from topicbert.config import RunConfig
from topicbert.data.corpus import builtin_corpus_path, source_name
from topicbert.training.callbacks import Callback
from topicbert.training.loop import train


class ValidationCurve(Callback):
    def __init__(self) -> None:
        self.f1: list[float] = []

    def on_evaluate(self, step: int, epoch: float, wall_seconds: float, metrics: dict[str, float]) -> None:
        self.f1.append(metrics["val_macro_f1"])


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--corpus", required=True, help="a corpus path, or bbc for the built-in BBC News")
    parser.add_argument("--variant", default="topicbert")
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--rates", default="1e-4,2e-4,4e-4")
    parser.add_argument("--warmups", default=str(RunConfig.warmup_frac),
                        help="comma-separated shares of the steps the rate warms up over (the default's alone)")
    parser.add_argument("--seeds", default="42,43")
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--json", type=Path, help="add each run to this file (created if missing)")
    args = parser.parse_args(argv)
    base = RunConfig(corpus=str(builtin_corpus_path()) if args.corpus == "bbc" else args.corpus,
                     variant=args.variant, max_len=args.max_len, limit_train=args.limit_train, epochs=args.epochs,
                     early_stopping_patience=args.patience, resumable_checkpoints=False)
    print("| lr | warm-up | seed | epochs run | best epoch | best val macro-F1 | test macro-F1 | train s |")
    print("|" + " --- |" * 8)
    for rate, warmup in itertools.product(_floats(args.rates), _floats(args.warmups)):
        best_epochs, test_f1 = [], []
        for seed in (int(s) for s in args.seeds.split(",")):
            curve = ValidationCurve()
            with tempfile.TemporaryDirectory() as run_dir:
                result = train(base.replace(lr=rate, warmup_frac=warmup, seed=seed), Path(run_dir), [curve])
                assert result is not None
                if args.json:
                    _record(args.json, base, rate, warmup, seed, curve.f1, result.test_macro_f1, Path(run_dir))
            best = max(range(len(curve.f1)), key=curve.f1.__getitem__)
            best_epochs.append(best + 1)
            test_f1.append(result.test_macro_f1)
            print(f"| {rate:g} | {warmup:g} | {seed} | {len(curve.f1)} | {best + 1} | {curve.f1[best]:.4f} "
                  f"| {result.test_macro_f1:.4f} | {result.train_seconds:.0f} |", flush=True)
        print(f"| {rate:g} | {warmup:g} | mean | | {statistics.mean(best_epochs):.1f} | "
              f"| {statistics.mean(test_f1):.4f} | |", flush=True)


def _record(path: Path, base: RunConfig, rate: float, warmup: float, seed: int, curve: list[float],
            test_f1: float, run_dir: Path) -> None:
    """Add one run (setting, validation curve, test labels and predictions) to the JSON list at `path`."""
    with np.load(run_dir / "test_predictions.npz") as saved:
        labels, predictions = saved["labels"].tolist(), saved["probabilities"].argmax(axis=1).tolist()
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append({"corpus": source_name(base.corpus), "variant": base.variant, "max_len": base.max_len,
                 "limit_train": base.limit_train, "epochs": base.epochs, "patience": base.early_stopping_patience,
                 "machine": machine_description(base), "lr": rate, "warmup": warmup, "seed": seed,
                 "validation_f1": curve, "test_macro_f1": test_f1, "labels": labels, "predictions": predictions})
    # written whole to a temporary file and moved over: a run cut off mid-write leaves the earlier ones intact
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(runs))
    partial.replace(path)


def _floats(listed: str) -> list[float]:
    return [float(x) for x in listed.split(",")]


if __name__ == "__main__":
    main()
