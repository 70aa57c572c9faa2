"""TopicBERT Studio: TopicBERT (BERT + a neural topic model) against a BERT baseline, with energy and CO2.

Where things live (imports point down this list, never up; tests/test_layout.py checks it):

    config.py, paths.py  RunConfig (every setting of a run) and TOPICBERT_HOME: leaves every layer may use
    stats/               the statistics that compare runs (bootstrap, noise over seeds, many verdicts, time to
                         accuracy, the Pareto front): numpy and scipy alone, a leaf training/ and above use
    model/               nn.Modules and encoder loading: the topic model, TopicBERT; no I/O
    data/                corpora (readers with clear errors, uploads), splits, topic vocabulary, batching,
                         the token cache
    training/            the loop (callbacks, no store), evaluation, checkpoints, pretraining, result files,
                         F1 and topic quality, the device
    energy/              codecarbon's readings, and a run's projected cost
    inference/           a finished run's model as a classifier, the model folder that travels, predictions
                         over a file in chunks
    runs/                the SQLite store (every query), the worker, the runner, the services pages and
                         the command line call, the saved corpus list, storage (disk use, deletes, gc)
    studio/              what the pages show: frames, figures, run files, LDAvis; never streamlit itself
    bench/               the side-by-side benchmark and its references
    cli.py               the command line (python -m topicbert ...)

Nothing in topicbert/ imports streamlit: the widgets live in app_pages/, app.py and widgets.py, which import
only studio/, runs/, config.py and paths.py from here (the same test checks it).
"""
from __future__ import annotations

import os
from typing import Any

# Repeatable on CPU whatever the number of threads: MKL splits the long sums of the topic model's
# vocabulary-wide products across threads, so their rounding, the pretrained topic model and then
# TopicBERT's F1 followed the thread count (issue 11; BERT's products are not split and did not move).
# Strict conditional numerical reproducibility keeps each product the same for any thread count on
# one kind of CPU. MKL reads the setting at its first call: importing topicbert comes before that.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
# No model hub: nothing is downloaded, ever. Set here, before any module of the package (the loop, the Train
# page's tokenizer, the encoders) imports transformers, which reads these when it is first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def __getattr__(name: str) -> Any:
    """`from topicbert import load_classifier`: imported when first asked for, so `import topicbert` loads no torch
    (the command line answers status, cancel and --help without it)."""
    if name == "load_classifier":
        from .studio.classify import load_classifier
        return load_classifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
