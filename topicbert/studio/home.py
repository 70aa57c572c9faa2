"""What Home shows of the demo and of the latest comparison: the demo's runs and where they stand (so the button
queues no second demo while one runs), and once runs to compare finished (the demo's, or any TopicBERT run's with
its baseline), the verdict card's first answer that leads to Compare, on the runs Compare opens on."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import RunConfig
from ..runs.store import ACTIVE, Store
from ..stats.time_to_accuracy import DEFAULT_TARGET
from .compare_choices import baseline_choices, default_runs
from .compare_summary import summary_frame
from .launch import demo_config
from .run_files import load_predictions, no_texts
from .run_identity import TOPICBERT_ROLE, role_of
from .uncertainty import run_scores
from .verdict_card import VerdictCard, verdict_card


@dataclass(frozen=True)
class DemoRuns:
    """The newest demo queued on a corpus: TopicBERT-128, then its BERT-512 baseline and TF-IDF reference (those
    still in the store), with their statuses."""
    ids: list[int]
    statuses: list[str]

    @property
    def running(self) -> bool:
        """Some run is queued or training: a second demo would only queue the same runs again."""
        return any(status in ACTIVE for status in self.statuses)

    def waiting_words(self) -> str:
        """Why the demo button waits, in one line."""
        ids = ", ".join(f"#{i}" for i in self.ids)
        return (f"The demo's runs ({ids}) are queued or training: follow them on the Runs page. The button comes "
                "back once they end, and a line here then leads to their comparison.")


def demo_runs(store: Store, corpus_row: dict) -> DemoRuns | None:
    """The newest demo on this corpus (a TopicBERT run with the demo's settings), or None if none was queued."""
    config = demo_config(corpus_row)
    runs = store.list_runs()  # newest first
    topic = next((run for run in runs if role_of(run) == TOPICBERT_ROLE
                  and RunConfig.from_dict(run["config"]) == config), None)
    if topic is None:
        return None
    baseline_id = topic["paired_run_id"]
    # the TF-IDF reference is linked to the baseline (services.submit_run)
    references = [run for run in runs if run["id"] == baseline_id
                  or (baseline_id is not None and run["paired_run_id"] == baseline_id and run["id"] > topic["id"]
                      and run["variant"] == "tfidf")]
    chosen = [topic] + sorted(references, key=lambda run: run["id"])
    return DemoRuns([run["id"] for run in chosen], [run["status"] for run in chosen])


@dataclass(frozen=True)
class Comparison:
    """The runs Compare opens on (compare_choices.default_runs) and the reference it first takes among them."""
    ids: list[int]
    baseline_id: int


def latest_comparison(store: Store) -> Comparison | None:
    """The newest finished TopicBERT run (every seed of it) with its finished baseline and reference; None
    before one finished."""
    ids = default_runs(store)
    baselines = baseline_choices(store, ids) if ids else []
    return Comparison(ids, baselines[0]) if ids and baselines else None


def comparison_card(store: Store, ids: list[int], baseline_id: int | None) -> VerdictCard:
    """The verdict card of these finished runs as Compare shows it when it opens (its target, CO2 where each run
    ran)."""
    runs = [store.get_run(i) for i in ids]
    scores = {run["id"]: run_scores(load_predictions(run["run_dir"], read_texts=no_texts))
              for run in runs if run is not None}
    return verdict_card(summary_frame(store, ids, baseline_id, scores), DEFAULT_TARGET)
