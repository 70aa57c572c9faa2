"""How long each page's script run takes with a large store, under Streamlit's AppTest.

    python -m benchmarks.page_timings --docs 20000 --runs 200            # seconds per page
    python -m benchmarks.page_timings --docs 20000 --runs 200 --memory   # what each page holds

A scratch TOPICBERT_HOME gets a synthetic corpus of --docs documents (saved as the Corpora page
saves one) and --runs finished runs on it (TopicBERT and BERT-512 pairs) with metrics, energy
readings, topics and result files as the runner and training/results.py leave them. Each page
then runs once (its first load fills its caches), --repeats times again, and once after a change
of a setting; the table gives the seconds of each. With --memory, every page runs once (so what
they import is loaded), then each runs twice from empty caches under tracemalloc, and the table
gives the Python memory it still holds against the size of one copy of the corpus's texts (and of
its test texts, what Documents shows). The worker is
never started and the built-in sample is not added: only the pages' own work is timed.
"""
from __future__ import annotations

import gc
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from benchmarks import script_parser, stored_run

if TYPE_CHECKING:  # imported where used: TOPICBERT_HOME is set first, and Streamlit only for the pages
    from streamlit.testing.v1 import AppTest

    from topicbert.config import RunConfig
    from topicbert.data.corpus import Corpus
    from topicbert.runs.store import Store

ROOT = Path(__file__).resolve().parents[1]  # the pages import widgets.py from there: run it from the root

PAGES = ["app.py", "app_pages/1_Corpora.py", "app_pages/2_Train.py", "app_pages/3_Runs.py", "app_pages/4_Compare.py",
         "app_pages/5_Topics.py", "app_pages/6_Documents.py"]
LIMIT_SECONDS = 2.0
N_CLASSES = 20
N_TOPICS = 50
TOPIC_VOCABULARY = 2000
EVALUATIONS = 10


# ---------------------------------------------------------------- the store

def synthetic_corpus(n_docs: int, seed: int = 0) -> Corpus:
    """Documents of about 150 words, each class with words of its own among shared ones."""
    from topicbert.data.corpus import Corpus

    rng = random.Random(seed)
    shared = [f"word{i}" for i in range(3000)]
    own = {c: [f"class{c}term{i}" for i in range(60)] for c in range(N_CLASSES)}
    texts, labels = [], []
    for i in range(n_docs):
        label = i % N_CLASSES
        words = [rng.choice(own[label]) if rng.random() < 0.2 else rng.choice(shared)
                 for _ in range(rng.randint(60, 240))]
        texts.append(" ".join(words))
        labels.append(f"class {label}")
    splits = ["train" if i % 10 < 8 else "validation" if i % 10 == 8 else "test" for i in range(n_docs)]
    return Corpus(texts, labels, splits, "synthetic.csv")


def energy_row(kwh: float, seconds: float) -> dict:
    return {"duration_s": seconds, "cpu_kwh": kwh * 0.8, "gpu_kwh": 0.0, "ram_kwh": kwh * 0.2, "kwh": kwh,
            "kg_co2e": kwh * 0.4, "cpu_power_w": 40.0, "gpu_power_w": 0.0, "ram_power_w": 10.0, "country": "USA",
            "country_name": "United States", "carbon_intensity": 400.0, "cpu_measured": False,
            "gpu_measured": None, "ram_measured": False, "measured": "cpu estimated; ram estimated", "codecarbon": {}}


def write_run_files(run_dir: Path, classes: list[str], labels: np.ndarray, test_texts: list[str], topicbert: bool,
                    rng: np.random.Generator) -> None:
    """The files a finished run leaves (training/results.py): predictions, test documents, topics."""
    from topicbert.data.shared_texts import save_texts

    probabilities = rng.dirichlet(np.ones(len(classes)), size=len(labels)).astype(np.float32)
    arrays: dict[str, Any] = {"labels": labels, "probabilities": probabilities}
    if topicbert:
        arrays["topic_mixtures"] = rng.dirichlet(np.ones(N_TOPICS), size=len(labels)).astype(np.float32)
        vocab = [f"word{i}" for i in range(TOPIC_VOCABULARY)]
        np.savez_compressed(run_dir / "topics.npz",
                            topic_term=rng.dirichlet(np.ones(TOPIC_VOCABULARY), size=N_TOPICS).astype(np.float32),
                            doc_topic=rng.dirichlet(np.ones(N_TOPICS), size=4 * len(labels)).astype(np.float32),
                            doc_lengths=rng.integers(20, 200, size=4 * len(labels)),
                            term_frequency=rng.integers(1, 500, size=TOPIC_VOCABULARY))
        (run_dir / "vocab.json").write_text(json.dumps(vocab))
    np.savez_compressed(run_dir / "test_predictions.npz", **arrays)
    (run_dir / "test_documents.json").write_text(json.dumps({"classes": classes,
                                                              "texts_digest": save_texts(test_texts)}))


def finished_run(store: Store, config: RunConfig, corpus_id: int, paired: int | None, classes: list[str],
                 labels: np.ndarray, test_texts: list[str], rng: np.random.Generator) -> int:
    """A run as the runner leaves one: done, with evaluations, energy, topics, final metrics and files."""
    run_id = store.create_run(config, corpus_id, paired_run_id=paired)
    store.claim_run(run_id, None, "cpu")
    steps_per_evaluation, seconds = 100, float(rng.uniform(200, 2000))
    for k in range(1, EVALUATIONS + 1):
        step, wall = k * steps_per_evaluation, seconds * k / EVALUATIONS
        store.add_metrics(run_id, step, k / 2, wall, {"val_macro_f1": 0.5 + 0.04 * k * rng.uniform(0.8, 1),
                                                      "val_micro_f1": 0.6, "val_loss": 1.0 / k, "train_loss": 1.2 / k})
        store.add_energy(run_id, step, k / 2, wall, energy_row(1e-5 * wall, wall))
    if config.use_topics:
        store.set_topics(run_id, [[(f"word{rng.integers(3000)}", float(w)) for w in range(10, 0, -1)]
                                  for _ in range(N_TOPICS)])
    f1 = float(rng.uniform(0.7, 0.9))
    store.set_final_metrics(run_id, {
        "variant": config.variant, "name": config.name, "max_len": config.max_len, "test_macro_f1": f1,
        "test_micro_f1": f1, "train_seconds": seconds, "step_seconds": seconds * 0.8,
        "tokens_processed": int(seconds * 1700), "padded_fraction": 0.1,
        "per_class": {c: {"precision": f1, "recall": f1, "f1": f1, "support": 100} for c in classes},
        "confusion": [[int(i == j) * 100 for j in range(len(classes))] for i in range(len(classes))],
        "classes": classes})
    store.set_progress(run_id, EVALUATIONS * steps_per_evaluation, EVALUATIONS * steps_per_evaluation)
    write_run_files(Path(stored_run(store, run_id)["run_dir"]), classes, labels, test_texts, config.use_topics, rng)
    store.finish_run(run_id, "done")
    return run_id


def populate(n_docs: int, n_runs: int) -> list[str]:
    """The corpus and the runs, in the TOPICBERT_HOME of this process; returns the corpus's texts."""
    from topicbert.config import RunConfig
    from topicbert.runs import saved_corpora
    from topicbert.runs.services import baseline_config
    from topicbert.runs.store import Store

    corpus = synthetic_corpus(n_docs)
    rng = np.random.default_rng(0)
    with Store() as store:
        corpus_id = saved_corpora.register_corpus(store, corpus, "synthetic")
        row = store.get_corpus(corpus_id)
        assert row is not None  # registered just above
        classes = corpus.classes
        test = corpus.indices("test")
        labels = np.array([classes.index(corpus.labels[i]) for i in test])
        test_texts = [corpus.texts[i] for i in test]
        lengths = (64, 128, 256, 512)
        for k in range(n_runs // 2):
            config = RunConfig(**saved_corpora.run_settings(row), variant="topicbert", max_len=lengths[k % 4],
                               device="cpu")
            baseline = finished_run(store, baseline_config(config), corpus_id, None, classes, labels, test_texts,
                                    rng)
            finished_run(store, config, corpus_id, baseline, classes, labels, test_texts, rng)
    return corpus.texts


# ---------------------------------------------------------------- the pages

class Rerun(Protocol):
    """What a change on a page returns: the page, or the widget changed, either of which reruns the page."""

    def run(self) -> AppTest: ...


def change(page: str) -> Callable[[AppTest], Rerun]:
    """A setting a person changes on the page (the page's rerun after it is timed)."""
    def train(at: AppTest) -> Rerun:  # two settings the projection does not read the corpus for
        at.number_input(key="train_epochs").set_value(4)
        at.number_input(key="train_limit_eval").set_value(100)
        return at.button[0].click()  # "Estimate cost" submits the form

    def runs(at: AppTest) -> Rerun:
        box = at.selectbox(key="runs_selected")
        return box.set_value(box.options and int(box.options[-1].split()[0].lstrip("#")))

    actions = {"app_pages/2_Train.py": train, "app_pages/3_Runs.py": runs,
               "app_pages/4_Compare.py": lambda at: at.selectbox(key="compare_cost").set_value("kwh"),
               "app_pages/6_Documents.py": lambda at: at.text_input(key="documents_query").set_value("term1")}
    return actions.get(page, lambda at: at)


def app_test(page: str) -> AppTest:
    import logging

    from streamlit.testing.v1 import AppTest
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "missing ScriptRunContext": AppTest's, harmless

    from topicbert.runs import saved_corpora, services
    services.ensure_worker = lambda store, *a, **k: False  # no worker: only the pages are timed
    saved_corpora.ensure_builtin_corpus = lambda store: None
    return AppTest.from_file(str(ROOT / page), default_timeout=900)


def timed(step: Callable[[], AppTest]) -> float:
    began = time.perf_counter()
    at = step()
    seconds = time.perf_counter() - began
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception[0].message}")
    return seconds


def time_page(page: str, repeats: int) -> dict:
    at = app_test(page)
    first = timed(at.run)
    again = [timed(at.run) for _ in range(repeats)]
    changed = timed(lambda: change(page)(at).run())
    return {"page": page, "first load s": first, "rerun s (worst)": max(again), "after a change s": changed}


def time_pages(repeats: int) -> list[dict]:
    return [time_page(page, repeats) for page in PAGES]


def memory_of_pages(texts: list[str], test_texts: int) -> list[dict]:
    import streamlit as st

    one_copy = sum(sys.getsizeof(t) for t in texts) / 1e6
    for page in PAGES:  # once untraced first: what a page imports is not what it holds
        app_test(page).run()
    rows = []
    for page in PAGES:
        st.cache_data.clear()
        st.cache_resource.clear()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        at = app_test(page)
        at.run()
        at.run()
        gc.collect()
        held = (tracemalloc.get_traced_memory()[0] - before) / 1e6
        tracemalloc.stop()
        rows.append({"page": page, "held MB": held, "corpus texts MB": one_copy,
                     "copies of the corpus": held / one_copy})
        del at
    return rows + [{"page": f"(the test texts alone, {test_texts:,} documents)", "held MB": None,
                    "corpus texts MB": one_copy / 10, "copies of the corpus": None}]


def print_table(rows: list[dict]) -> None:
    columns = list(rows[0])
    print("  ".join(f"{c:>18}" if i else f"{c:<46}" for i, c in enumerate(columns)))
    for row in rows:
        print("  ".join(f"{row[c]:>18.3f}" if isinstance(row[c], float) else
                        (f"{'':>18}" if row[c] is None else f"{row[c]:<46}") for c in columns))


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--docs", type=int, default=20_000, help="documents in the corpus")
    parser.add_argument("--runs", type=int, default=200, help="finished runs in the store")
    parser.add_argument("--repeats", type=int, default=3, help="reruns timed after the first load")
    parser.add_argument("--memory", action="store_true", help="Python memory each page holds, not seconds")
    parser.add_argument("--home", default=None, help="scratch TOPICBERT_HOME (default: a new temporary folder)")
    args = parser.parse_args(argv)
    os.environ["TOPICBERT_HOME"] = args.home or tempfile.mkdtemp(prefix="topicbert-pages-")
    began = time.perf_counter()
    texts = populate(args.docs, args.runs)
    print(f"store: {args.docs:,} documents, {args.runs} finished runs in {os.environ['TOPICBERT_HOME']} "
          f"({time.perf_counter() - began:.0f} s to make)")
    if args.memory:
        print_table(memory_of_pages(texts, len(texts) // 10))
        return 0
    rows = time_pages(args.repeats)
    print_table(rows)
    slow = [row["page"] for row in rows if max(row["rerun s (worst)"], row["after a change s"]) >= LIMIT_SECONDS]
    print(f"every page under {LIMIT_SECONDS:.0f} s after its first load" if not slow else
          f"over {LIMIT_SECONDS:.0f} s after the first load: {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
