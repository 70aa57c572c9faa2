"""Issue 22's item 3, the learning-rate search: for each learning rate of the encoder (the head and the topic
model keep theirs) and each warm-up (the share of the steps the rate climbs over), how many epochs a row takes to
its best validation macro-F1 and what it then scores on the test documents. Early-stopped as the bench's converged
tables are; the topic model is pretrained once per seed and reused by the other rates (so train s is not
comparable across rates for TopicBERT).

    python benchmarks/lr_search.py --corpus bbc --variant topicbert --max-len 128 --rates 1e-4,2e-4,4e-4 \\
        --seeds 42,43 --limit-train 800 --epochs 6 --patience 2
    python benchmarks/lr_search.py --corpus bbc --variant bert --max-len 512 --rates 1e-4,2e-4 --warmups 0.1,0 \\
        --seeds 42,43,44 --limit-train 800 --epochs 6 --patience 2
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from topicbert.config import RunConfig  # noqa: E402
from topicbert.data.corpus import builtin_corpus_path  # noqa: E402
from topicbert.training.callbacks import Callback  # noqa: E402
from topicbert.training.loop import train  # noqa: E402


class ValidationCurve(Callback):
    def __init__(self) -> None:
        self.f1: list[float] = []

    def on_evaluate(self, step: int, epoch: float, wall_seconds: float, metrics: dict[str, float]) -> None:
        self.f1.append(metrics["val_macro_f1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    args = parser.parse_args()
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
            best = max(range(len(curve.f1)), key=curve.f1.__getitem__)
            best_epochs.append(best + 1)
            test_f1.append(result.test_macro_f1)
            print(f"| {rate:g} | {warmup:g} | {seed} | {len(curve.f1)} | {best + 1} | {curve.f1[best]:.4f} "
                  f"| {result.test_macro_f1:.4f} | {result.train_seconds:.0f} |", flush=True)
        print(f"| {rate:g} | {warmup:g} | mean | | {statistics.mean(best_epochs):.1f} | "
              f"| {statistics.mean(test_f1):.4f} | |", flush=True)


def _floats(listed: str) -> list[float]:
    return [float(x) for x in listed.split(",")]


if __name__ == "__main__":
    main()
