"""What the Classify page computes when a person pastes a 500-word text and clicks: the chosen TopicBERT-128 run's
label, class probabilities and topic mixture, and its BERT-512 baseline's prediction beside it
(`studio.classify.classify_text` on each), with both models loaded and cached, as the page keeps them after its
first load. The browser's round trip is not in it.

    python -m benchmarks.classify_text_latency --corpus "$BBC" --words 500 --repeats 5
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from topicbert.config import RunConfig
from topicbert.data.splits import labelled_splits, load_run_corpus
from topicbert.studio.classify import classify_text

from . import script_parser
from .classify_cost import trained_classifier

PRESETS = ("topicbert-128", "bert-512")   # the page's default run and its baseline


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--corpus", required=True, help="the models train on it briefly; the text is its test words")
    parser.add_argument("--words", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit-train", type=int, default=100, help="documents each model is trained on first")
    args = parser.parse_args(argv)
    base = RunConfig(corpus=args.corpus, epochs=1, limit_train=args.limit_train, limit_eval=args.limit_train,
                     resumable_checkpoints=False)
    text = " ".join(" ".join(labelled_splits(load_run_corpus(base)).texts["test"]).split()[:args.words])
    with tempfile.TemporaryDirectory() as tmp:
        models = [trained_classifier(name, base, Path(tmp) / name) for name in PRESETS]
        for model in models:   # the page's first click loads and warms each; later clicks find them cached
            classify_text(model, text)
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            for model in models:
                classify_text(model, text)
            seconds.append(time.perf_counter() - started)
    print(f"{len(text.split())} words, {' and '.join(PRESETS)}: median {statistics.median(seconds):.3f} s "
          f"(each of {args.repeats}: {', '.join(f'{s:.3f}' for s in seconds)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
