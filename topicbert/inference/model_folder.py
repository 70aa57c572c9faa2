"""What a model needs to classify, wherever it lies: a run's best/ folder (with the run's settings and
classes from the run), or a model folder exported from it, which travels alone.

An exported folder holds `format.json` (FORMAT and its VERSION), `run_config.json`, `classes.json`, the
files save_best wrote (the fine-tuned encoder and tokenizer in `encoder/`, `head.safetensors`, and for
TopicBERT `topic_model.safetensors` and `vocab.json`; for TF-IDF its arrays), for CombinedTM the frozen
encoder its document embeddings come from (`embedding_encoder/`), and a model card (`README.md`). A folder of
another format version, or one missing a file, is refused in one line naming what is wrong.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import RunConfig, UserError
from ..model.registry import reads_embeddings
from ..training.checkpoints import SwappedFolder
from ..training.late_fusion import FILES as LATE_FUSION_FILES
from ..training.tfidf import MODEL_FILES as TFIDF_FILES

FORMAT = "topicbert-model"
VERSION = 1
FORMAT_FILE = "format.json"
EMBEDDING_ENCODER = "embedding_encoder"
# what the encoder folder must hold to load: its settings, weights and tokenizer
ENCODER_FILES = ("config.json", "model.safetensors", "tokenizer_config.json")


class ModelFolderError(UserError):
    """A model that cannot be loaded (an unknown or unfinished run, a folder of another format or missing a
    file), worded for a person in one line."""


@dataclass(frozen=True)
class ModelParts:
    """Where a model's weights are and what it needs beside them."""
    folder: Path                     # the weights: a run's best/, or an exported folder
    config: RunConfig                # the run's settings (n_topics resolved)
    classes: list[str]               # class names, in the order of the model's outputs
    embedding_encoder: str | None    # CombinedTM: the frozen encoder its document embeddings come from

    @property
    def reads_embeddings(self) -> bool:
        return self.config.use_topics and reads_embeddings(self.config.topic_model)


def weight_files(config: RunConfig) -> list[str]:
    """The files of a model's weights, relative to its folder."""
    if not config.uses_encoder:
        return list(TFIDF_FILES)
    files = [f"encoder/{name}" for name in ENCODER_FILES] + ["head.safetensors"]
    if config.use_topics:
        files += ["topic_model.safetensors", "vocab.json"]
    if config.tfidf_fusion:  # the wide path: the TF-IDF reference and its weight, beside the encoder
        files += list(LATE_FUSION_FILES)
    return files


def _missing(folder: Path, files: list[str], what: str) -> None:
    absent = [name for name in files if not (folder / name).is_file()]
    if absent:
        raise ModelFolderError(f"{what} {folder} is missing {', '.join(absent)}")


def run_model_parts(run_dir: Path, config: RunConfig, classes: list[str]) -> ModelParts:
    """A finished run's model, from its folder: `config` and `classes` as the run stored them (its best/ keeps
    its own run_config.json, with the topic count resolved, where it has one)."""
    best = SwappedFolder(Path(run_dir) / "best").current()
    if best is None:
        raise ModelFolderError(f"run folder {run_dir} holds no best model (best/ is missing)")
    if (best / "run_config.json").is_file():
        config = RunConfig.from_json((best / "run_config.json").read_text(encoding="utf-8"))
    _missing(best, weight_files(config), "the run's model folder")
    encoder = config.model if config.use_topics and reads_embeddings(config.topic_model) else None
    return ModelParts(best, config, classes, encoder)


def exported_model_parts(folder: Path) -> ModelParts:
    """A folder export_model wrote; refused in one line if it is of another format or version, or lacks a file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"no model folder at {folder}")
    _missing(folder, [FORMAT_FILE], "model folder")
    try:
        stamp = json.loads((folder / FORMAT_FILE).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"model folder {folder}: {FORMAT_FILE} is not JSON ({error})") from None
    if not isinstance(stamp, dict) or stamp.get("format") != FORMAT:
        raise ModelFolderError(f"{folder} is not a TopicBERT model folder ({FORMAT_FILE} names format "
                               f"{stamp.get('format') if isinstance(stamp, dict) else stamp!r}, not {FORMAT!r})")
    if stamp.get("version") != VERSION:
        raise ModelFolderError(f"model folder {folder} is of format version {stamp.get('version')!r}; this "
                               f"version of TopicBERT Studio reads version {VERSION}: export the run again")
    _missing(folder, ["run_config.json", "classes.json"], "model folder")
    config = RunConfig.from_json((folder / "run_config.json").read_text(encoding="utf-8"))
    files = weight_files(config)
    encoder = None
    if config.use_topics and reads_embeddings(config.topic_model):
        files += [f"{EMBEDDING_ENCODER}/{name}" for name in ENCODER_FILES]
        encoder = str(folder / EMBEDDING_ENCODER)
    _missing(folder, files, "model folder")
    classes = json.loads((folder / "classes.json").read_text(encoding="utf-8"))
    return ModelParts(folder, config, list(classes), encoder)


def export_model(parts: ModelParts, out: Path, card: str,
                 save_embedding_encoder: Callable[[str, Path], None]) -> Path:
    """Write the model folder at `out` (which must not exist yet, its parent must): written beside it and renamed
    whole, so a failed export leaves nothing. `save_embedding_encoder(name, folder)` saves CombinedTM's frozen
    encoder (classifier.save_encoder)."""
    out = Path(out)
    if not out.parent.is_dir():
        raise ModelFolderError(f"cannot export to {out}: its folder {out.parent} does not exist")
    if out.exists():
        raise ModelFolderError(f"cannot export to {out}: it already exists (name a new folder)")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for name in weight_files(parts.config):
            if name.startswith("encoder/"):
                continue
            shutil.copy2(parts.folder / name, tmp / name)
        if parts.config.uses_encoder:
            shutil.copytree(parts.folder / "encoder", tmp / "encoder")
        if parts.embedding_encoder is not None:
            save_embedding_encoder(parts.embedding_encoder, tmp / EMBEDDING_ENCODER)
        (tmp / "run_config.json").write_text(parts.config.to_json(), encoding="utf-8")
        (tmp / "classes.json").write_text(json.dumps(parts.classes), encoding="utf-8")
        (tmp / "README.md").write_text(card, encoding="utf-8")
        (tmp / FORMAT_FILE).write_text(json.dumps({"format": FORMAT, "version": VERSION}), encoding="utf-8")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
