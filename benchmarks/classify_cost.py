"""What classifying costs each preset, side by side in one process: documents a second and kWh per 1,000
documents over the same test documents, through `load_classifier`'s path (the run's model put back together),
the presets taking turns round after round (A B C, A B C), so that each round's ratio to BERT-128 is taken
between neighbours in time. Each model is first trained briefly: a forward pass costs what the weights' shapes
make it cost, not what their values are, so a briefly trained model classifies at its preset's cost.

    python -m benchmarks.classify_cost --corpus ../shared/data/20news-bydate.zip \\
        --presets bert-128,bert-128+tfidf,topicbert-128,bert-512,tfidf --docs 2000 --rounds 3
"""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import script_parser
from topicbert.bench.variants import DEFAULT_CORPUS, parse_variant
from topicbert.config import RunConfig
from topicbert.data.splits import labelled_splits, load_run_corpus
from topicbert.energy.meter import EnergyMeter
from topicbert.inference.classifier import Classifier, open_classifier
from topicbert.inference.model_folder import run_model_parts
from topicbert.training.loop import train

REFERENCE = "bert-128"   # issue 34's yardstick: a preset classifies at no more than 1.1x its cost per document


def trained_classifier(name: str, base: RunConfig, folder: Path) -> Classifier:
    """The preset `name`, trained on `base`'s few documents, loaded back as a user's classifier is."""
    config = base.replace(**parse_variant(name))
    train(config, folder)
    classes = json.loads((folder / "result.json").read_text(encoding="utf-8"))["classes"]
    return open_classifier(run_model_parts(folder, config, classes), config.device)


def classify_once(classifier: Classifier, texts: list[str], meter: EnergyMeter) -> tuple[float, float]:
    """Seconds and kWh of classifying `texts` once (kWh: nan where the meter reads nothing)."""
    before = meter.read()
    started = time.perf_counter()
    classifier.predict_proba(texts)
    seconds = time.perf_counter() - started
    after = meter.read()
    kwh = after.kwh - before.kwh if before is not None and after is not None else float("nan")
    return seconds, kwh


def measure(presets: list[str], base: RunConfig, docs: int, rounds: int) -> dict:
    """Each preset's seconds and kWh per round over the same `docs` test documents, and its cost per document
    against BERT-128's round by round."""
    # the whole test split, not the few documents the models train and validate on
    texts = labelled_splits(load_run_corpus(base.replace(limit_eval=None))).texts["test"][:docs]
    meter = EnergyMeter()
    with tempfile.TemporaryDirectory() as tmp:
        classifiers = {name: trained_classifier(name, base, Path(tmp) / name) for name in presets}
        for classifier in classifiers.values():   # kernels chosen and caches filled before any clock runs
            classifier.predict_proba(texts[:64])
        meter.start()
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in presets}
        for _ in range(rounds):
            for name, classifier in classifiers.items():
                timings[name].append(classify_once(classifier, texts, meter))
        meter.stop()
    rows = {}
    for name, runs in timings.items():
        ratios = [seconds / reference[0] for (seconds, _), reference in zip(runs, timings[REFERENCE], strict=True)]
        rows[name] = {"docs_per_second": statistics.median(len(texts) / seconds for seconds, _ in runs),
                      "kwh_per_1000_docs": statistics.median(kwh / len(texts) * 1000 for _, kwh in runs),
                      f"cost_per_doc_vs_{REFERENCE}": ratios}
    return {"documents": len(texts), "rounds": rounds, "device": base.device, "rows": rows}


def table(report: dict) -> str:
    lines = [f"| preset | docs/s (median of {report['rounds']}) | kWh / 1k docs | cost per document against "
             f"{REFERENCE}: median [lowest, highest round] |", "| --- | ---: | ---: | --- |"]
    for name, row in report["rows"].items():
        ratios = row[f"cost_per_doc_vs_{REFERENCE}"]
        lines.append(f"| {name} | {row['docs_per_second']:,.1f} | {row['kwh_per_1000_docs']:.3g} | "
                     f"{statistics.median(ratios):.3f}x [{min(ratios):.3f}x, {max(ratios):.3f}x] |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--presets", default=f"{REFERENCE},{REFERENCE}+tfidf,topicbert-128,bert-512,tfidf",
                        help=f"bench variant names, comma-separated; {REFERENCE} is always measured")
    parser.add_argument("--docs", type=int, default=2000, help="test documents each preset classifies a round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit-train", type=int, default=200, help="documents each model is trained on first")
    parser.add_argument("--model", default=RunConfig.model)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", dest="json_file", default=None)
    args = parser.parse_args(argv)
    presets = list(dict.fromkeys([REFERENCE, *[p.strip() for p in args.presets.split(",") if p.strip()]]))
    base = RunConfig(corpus=args.corpus, model=args.model, device=args.device, epochs=1,
                     limit_train=args.limit_train, limit_eval=args.limit_train, resumable_checkpoints=False)
    report = measure(presets, base, args.docs, args.rounds)
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
