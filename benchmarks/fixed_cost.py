"""Where a TopicBERT run's fixed cost goes: each part of its setup before the first training step, timed, on the
home page's demo (TopicBERT-128, 400 BBC News training documents, 2 epochs). Run it twice on one TOPICBERT_HOME:
the first run computes the documents' embeddings (a fresh home), the second reads them from the corpus's cache.
The topic model is pretrained both times (its reuse is off, as in the bench). Needs a quiet machine.

    export TOPICBERT_HOME=$(mktemp -d); python -m benchmarks.fixed_cost; python -m benchmarks.fixed_cost

Each part's seconds run from the end of the part before it (the first from the call to train) to the loop's
on_phase event at its end, so they add up to the setup; fixed_seconds is the loop's own figure (from the corpus
read and its word pieces cached to the first step) and train_seconds the run's.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import script_parser
from topicbert.config import RunConfig
from topicbert.data.corpus import builtin_corpus_path
from topicbert.studio.launch import DEMO_SETTINGS
from topicbert.training.callbacks import Callback
from topicbert.training.loop import train


class PhaseClock(Callback):
    """Seconds of each part of the setup, read from the loop's events (Callback.on_phase), and its fixed cost."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def on_phase(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._last
        self._last = now

    def on_start(self, info: dict[str, Any]) -> None:
        self.seconds["fixed_seconds"] = info["fixed_seconds"]


def fixed_cost(config: RunConfig, run_dir: Path) -> dict[str, float]:
    """Train `config` in `run_dir`; the seconds of each part of its setup, its fixed cost and its training."""
    clock = PhaseClock()
    result = train(config, run_dir, [clock])
    assert result is not None  # one process: rank 0
    return {**clock.seconds, "train_seconds": result.train_seconds}


def main(argv: list[str] | None = None) -> None:
    script_parser(__doc__, __file__).parse_args(argv)  # no options: --help alone
    config = RunConfig(corpus=str(builtin_corpus_path()), topic_model_cache=False, **DEMO_SETTINGS)
    seconds = fixed_cost(config, Path(tempfile.mkdtemp()))
    print(json.dumps({name: round(value, 2) for name, value in seconds.items()}))


if __name__ == "__main__":
    main()
