"""Who a run is, as every page names it: its label, its role (TopicBERT, the BERT baseline or the TF-IDF
reference), its encoder, the test documents it compares on, and the runs looked up in the store by status
or id."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..config import RunConfig
from ..runs.store import Store
from .figures import BASELINE_ROLE, TFIDF_ROLE

TOPICBERT_ROLE = "topicbert"
# model.encoders' DEFAULT_MODEL and what its DEFAULT_PACKAGE holds (not imported: that module loads transformers,
# which no page showing tables needs)
DEFAULT_MODEL, DEFAULT_ENCODER_NAME = "default", "all-MiniLM-L6-v2"


def run_label(run: dict) -> str:
    """Unique display name: two runs may share a config name."""
    return f"#{run['id']} {run['name']}"


def encoder_name(model: str) -> str:
    """A run's encoder as a person knows it: the bundled default by its name, a folder by its own name, a Hugging
    Face id as written. The presets say "BERT" whatever the encoder is."""
    if model in ("", DEFAULT_MODEL):
        return DEFAULT_ENCODER_NAME
    return Path(model).name or model


def encoders_sentence(named: Iterable[tuple[str, str]]) -> str:
    """'TopicBERT-128 and BERT-512 run all-MiniLM-L6-v2': the encoder beside each (preset, encoder) whose preset
    says BERT but whose encoder is not BERT itself, each name once; "" when there is none."""
    by_encoder: dict[str, list[str]] = {}
    for preset, encoder in named:
        if encoder and "BERT" in preset and not encoder.startswith("bert-"):
            names = by_encoder.setdefault(encoder, [])
            if preset not in names:
                names.append(preset)
    return "; ".join(f"{' and '.join(names)} run{'s' if len(names) == 1 else ''} {encoder}"
                     for encoder, names in by_encoder.items())


def runs_encoders_sentence(runs: Iterable[dict | None]) -> str:
    """encoders_sentence for runs (a missing one, None, left out), for a page to say once."""
    configs = [(run["name"], RunConfig.from_dict(run["config"])) for run in runs if run is not None]
    return encoders_sentence((name, encoder_name(config.model)) for name, config in configs if config.uses_encoder)


def role_of(run: dict) -> str:
    return {"bert": BASELINE_ROLE, "tfidf": TFIDF_ROLE}.get(run["variant"], TOPICBERT_ROLE)


def test_set_of(run: dict) -> str:
    """What decides the run's test documents (RunConfig.test_set): runs compare only within one."""
    return RunConfig.from_dict(run["config"]).test_set


def finished_runs(store: Store) -> list[dict]:
    return store.list_runs("done")


def existing_runs(store: Store, run_ids: Sequence[int]) -> list[dict]:
    """The rows of those runs still in the store, in the order given."""
    return [run for run in (store.get_run(i) for i in run_ids) if run is not None]
