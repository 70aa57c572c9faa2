"""A run's settings as a person reads them (corpus, preset, encoder, epochs, learning rate, seed, limits, topic
model), and for runs side by side only the settings in which they differ, as MLflow's run comparison shows them."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..config import RunConfig
from .run_identity import encoder_name, run_label

SETTING_COLUMNS = ["run", "corpus", "preset", "encoder", "epochs", "learning rate", "batch size", "seed", "limits",
                   "mode", "topic model"]


def _limits(config: RunConfig) -> str:
    if config.limit_train is None and config.limit_eval is None:
        return "every document"
    return (f"{config.limit_train:,}" if config.limit_train else "all") + " training, " + \
        (f"{config.limit_eval:,}" if config.limit_eval else "all") + " evaluation"


def _topic_model(config: RunConfig) -> str:
    if not config.use_topics:
        return "none"
    topics = f"{config.n_topics} topics" if config.n_topics else "topics chosen from the corpus"
    return f"{config.topic_model}, {topics}"


def settings_row(run: dict, corpus_names: Mapping[str, str]) -> dict:
    """One run's settings; `corpus_names`: saved corpora's names by path (a corpus not listed: its file's name)."""
    config = RunConfig.from_dict(run["config"])
    encoder = encoder_name(config.model) if config.uses_encoder else "none"
    return {"run": run_label(run), "corpus": corpus_names.get(config.corpus) or Path(config.corpus).name,
            "preset": run["name"], "encoder": encoder, "epochs": config.epochs,
            "learning rate": f"{config.lr:g}" if config.uses_encoder else "",
            "batch size": config.batch_size if config.uses_encoder else "", "seed": config.seed,
            "limits": _limits(config), "mode": config.mode if config.uses_encoder else "",
            "topic model": _topic_model(config)}


def settings_frame(runs: Sequence[dict], corpus_names: Mapping[str, str]) -> pd.DataFrame:
    """Each run's settings, one row a run."""
    return pd.DataFrame([settings_row(run, corpus_names) for run in runs], columns=SETTING_COLUMNS)


def differences(frame: pd.DataFrame) -> pd.DataFrame:
    """The runs with only the settings in which they differ (the run's name always); with one run, all of them."""
    if len(frame) < 2:
        return frame
    differing = [column for column in frame.columns[1:] if frame[column].astype(str).nunique() > 1]
    return frame[["run", *differing]]


def as_list(frame: pd.DataFrame) -> pd.DataFrame:
    """One run's settings as a list (setting, value): narrow enough for any window."""
    row = frame.iloc[0]
    return pd.DataFrame({"setting": list(frame.columns[1:]), "value": [str(row[c]) for c in frame.columns[1:]]})
