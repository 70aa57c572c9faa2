"""Where a TopicBERT run's fixed cost goes: each phase before its first training step, timed, on the home page's
demo (TopicBERT-128, 400 BBC News training documents, 2 epochs). Run it twice on one TOPICBERT_HOME: the first
run computes the documents' embeddings (a fresh home), the second reads them from the corpus's cache. The topic
model is pretrained both times (its reuse is off, as in the bench). Needs a quiet machine.

    export TOPICBERT_HOME=$(mktemp -d); python benchmarks/fixed_cost.py; python benchmarks/fixed_cost.py
"""
from __future__ import annotations

import functools
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from topicbert.config import RunConfig  # noqa: E402
from topicbert.data.corpus import builtin_corpus_path  # noqa: E402
from topicbert.studio.launch import DEMO_SETTINGS  # noqa: E402
from topicbert.training import loop  # noqa: E402
from topicbert.training.callbacks import Callback  # noqa: E402

PHASES = ("load_run_corpus", "tokenize_splits", "prepare_data", "add_document_embeddings", "build_model",
          "pretrain_or_reuse")


def timed(seconds: dict[str, float], name: str) -> None:
    """Make the loop's `name` add its wall time to seconds[name]."""
    real = getattr(loop, name)

    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
    setattr(loop, name, wrapper)


class FixedSeconds(Callback):
    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    def on_start(self, info: dict) -> None:
        self.seconds["fixed_seconds"] = info["fixed_seconds"]


def main() -> None:
    seconds: dict[str, float] = {}
    for name in PHASES:
        timed(seconds, name)
    config = RunConfig(corpus=str(builtin_corpus_path()), topic_model_cache=False, **DEMO_SETTINGS)
    result = loop.train(config, Path(tempfile.mkdtemp()), [FixedSeconds(seconds)])
    assert result is not None
    seconds["train_seconds"] = result.train_seconds
    print(json.dumps({name: round(value, 2) for name, value in seconds.items()}))


if __name__ == "__main__":
    main()
