"""A finished run's model put to use from the store: a run id (or an exported model folder) loaded as a
classifier, a run exported as a model folder with its model card, and what the Classify page shows of one text,
as plain data.

The run's side (which run, whether it finished, its facts) is read from the store here; the model itself is
inference/'s, which knows nothing of the store.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import RunConfig
from ..inference.classifier import Classifier, open_classifier, save_encoder
from ..inference.model_card import CardFacts, Comparison, model_card
from ..inference.model_folder import ModelFolderError, ModelParts, export_model, exported_model_parts, run_model_parts
from ..model.encoders import DEFAULT_MODEL
from ..runs.store import Store
from .run_cost import per_thousand
from .run_files import load_predictions, no_texts
from .run_identity import finished_runs, run_label, test_set_of
from .trust import measurement_badge
from .uncertainty import compare_over_seeds, difference_words, run_scores


def run_parts(store: Store, run_id: int) -> ModelParts:
    """A finished run's model; an unknown run, or one that is not done, is a one-line ModelFolderError."""
    run = store.get_run(run_id)
    if run is None:
        raise ModelFolderError(f"no run {run_id} in the store ({store.path})")
    if run["status"] != "done":
        raise ModelFolderError(f"run {run_id} is {run['status']}: only a finished (done) run has a model to load")
    folder = Path(run["run_dir"] or "")
    documents = folder / "test_documents.json"
    if not documents.is_file():
        raise ModelFolderError(f"run {run_id}'s folder {folder} is missing test_documents.json (its classes)")
    classes = json.loads(documents.read_text(encoding="utf-8"))["classes"]
    return run_model_parts(folder, RunConfig.from_dict(run["config"]), classes)


def run_id_of(source: str | int | Path) -> int | None:
    """The run id `source` names (7, "7"), or None for a folder; a folder named "7" that exists is a folder."""
    if isinstance(source, int):
        return source
    if isinstance(source, str) and source.isdigit() and not Path(source).exists():
        return int(source)
    return None


def load_classifier(source: str | int | Path, device: str = "auto", store: Store | None = None) -> Classifier:
    """The classifier of a run of the store (its id) or of a model folder export_model wrote. `device`: "auto"
    (a GPU when there is one), "cpu", "cuda", "mps"."""
    run_id = run_id_of(source)
    if run_id is None:
        return open_classifier(exported_model_parts(Path(str(source))), device)
    if store is not None:
        return open_classifier(run_parts(store, run_id), device)
    with Store() as own:
        return open_classifier(run_parts(own, run_id), device)


# ---------------------------------------------------------------- the model card


def compared_runs(store: Store, run: dict) -> list[dict]:
    """The finished runs queued with this one (its baseline, the reference, the run whose baseline it is), tested
    on the same documents."""
    anchors = {run["id"], run["paired_run_id"]} - {None}
    others = [other for other in finished_runs(store)
              if other["id"] != run["id"] and (other["id"] in anchors or other["paired_run_id"] in anchors)]
    return [other for other in others if test_set_of(other) == test_set_of(run)]


def _comparison(run: dict, other: dict) -> Comparison:
    mine = run_scores(load_predictions(run["run_dir"], read_texts=no_texts))
    theirs = run_scores(load_predictions(other["run_dir"], read_texts=no_texts))
    compared = compare_over_seeds([(mine, theirs)]) if mine is not None and theirs is not None else None
    return Comparison(other["name"], other["id"], (other["final_metrics"] or {}).get("test_macro_f1"),
                      difference_words(compared.difference) if compared else "")


def _limits(config: RunConfig, final: dict) -> str:
    n_test = sum(map(sum, final.get("confusion") or []))
    limits = []
    if config.limit_train:
        limits.append(f"at most {config.limit_train:,} training documents")
    if config.limit_eval:
        limits.append(f"at most {config.limit_eval:,} validation and test documents")
    kept = "; ".join(limits) if limits else "every document of the corpus"
    return f"{n_test:,} test documents; {kept} (seed {config.seed})"


def card_facts(store: Store, run_id: int) -> CardFacts:
    run = store.get_run(run_id)
    assert run is not None  # run_parts checked it first
    parts = run_parts(store, run_id)
    config, final = parts.config, run["final_metrics"] or {}
    energy = store.last_energy(run_id)
    info = run.get("energy_info") or energy or {}
    badge = measurement_badge(info, run.get("machine_load"))
    corpus = store.find_corpus(config.corpus)
    hardware = ", ".join(str(info[key]) for key in ("cpu_model", "gpu_model") if info.get(key))
    low, high = final.get("test_macro_f1_ci") or (float("nan"), float("nan"))
    return CardFacts(
        name=config.name, run_id=run_id, variant=config.variant,
        encoder=("all-MiniLM-L6-v2 (the bundled default)" if config.model in ("", DEFAULT_MODEL) else config.model)
        if config.uses_encoder else "",
        topic_model=f"{config.topic_model} ({config.n_topics} topics)" if config.use_topics else None,
        classes=parts.classes, corpus=corpus["name"] if corpus else Path(config.corpus).name,
        corpus_limits=_limits(config, final), test_documents=sum(map(sum, final.get("confusion") or [])),
        test_macro_f1=final.get("test_macro_f1", float("nan")), test_macro_f1_ci=(low, high),
        train_seconds=final.get("train_seconds"), kwh=energy["kwh"] if energy else None,
        kg_co2e=energy["kg_co2e"] if energy else None, energy_source=badge.reason, energy_estimated=badge.estimated,
        location=str(info.get("country_name") or ""), hardware=hardware,
        precision={True: "bf16", False: "float32", None: "float64 (scikit-learn)"}[final.get("bf16")],
        infer_seconds_per_1000=per_thousand(run.get("inference"), "seconds"),
        infer_kwh_per_1000=per_thousand(run.get("inference"), "kwh"),
        comparisons=[_comparison(run, other) for other in compared_runs(store, run)])


def export_run(store: Store, run_id: int, out: Path) -> Path:
    """Write run `run_id`'s model folder, with its model card, at `out`."""
    parts = run_parts(store, run_id)
    return export_model(parts, Path(out), model_card(card_facts(store, run_id)), save_encoder)


# ---------------------------------------------------------------- the Classify page


def classify_choices(store: Store) -> tuple[dict[int, str], int | None]:
    """Every finished run by id with its label, and the default: the newest finished TopicBERT run (else the
    newest finished run; None when none has finished)."""
    runs = finished_runs(store)  # newest first
    labels = {run["id"]: run_label(run) for run in runs}
    default = next((run["id"] for run in runs if run["variant"] == "topicbert"), next(iter(labels), None))
    return labels, default


def baseline_of(store: Store, run_id: int) -> int | None:
    """The finished BERT-512 baseline queued with this run, if there is one."""
    run = store.get_run(run_id)
    baseline = store.get_run(run["paired_run_id"]) if run and run["paired_run_id"] else None
    return baseline["id"] if baseline and baseline["status"] == "done" and baseline["variant"] == "bert" else None


@dataclass
class TextVerdict:
    label: str
    probability: float                  # the label's
    probabilities: np.ndarray           # (C,) each class's, in classes' order
    classes: list[str]
    topic_mixture: np.ndarray | None    # (K,) TopicBERT only
    topic_labels: list[str] | None      # each topic as its number and top words


def classify_text(classifier: Classifier, text: str, topic_words: int = 6) -> TextVerdict:
    """One text's label, every class's probability and (TopicBERT) its topic mixture with each topic's words."""
    predictions = classifier.classify([text])
    probabilities = predictions.probabilities[0]
    best = int(probabilities.argmax())
    mixture = labels = None
    if predictions.topic_mixtures is not None:
        mixture = predictions.topic_mixtures[0]
        labels = [f"{k}: {' '.join(words)}" for k, words in enumerate(classifier.topic_words(topic_words))]
    return TextVerdict(str(classifier.classes_[best]), float(probabilities[best]), probabilities,
                       list(classifier.classes_), mixture, labels)
