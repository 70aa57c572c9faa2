"""A pretrained topic model kept for the next run that would pretrain the very same one.

The Studio queues TopicBERT-128 beside TopicBERT-256 on one corpus, and the same settings again: their topic
models start from the same weights, read the same bags of words (and embeddings) and pretrain alike, so a
later run loads what the first one fitted instead of fitting it again. The key hashes everything pretraining
reads (the topic model's initial weights, the random generator's state, its training and validation inputs,
the pretraining settings, the device type), so the model loaded is the one the run would have fitted: on a
CPU bit for bit (tests/test_topic_model_cache.py). The random generator's state after pretraining is kept
with it and put back, so fine-tuning then draws what it would have drawn. Kept in the corpus's cache folder
(`gc` removes it with the corpus); a run's `topic_model_cache` off makes it pretrain, as the benchmark's rows do.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..config import RunConfig
from ..data.batching import TopicInputs
from ..data.shared_texts import write_whole
from ..data.token_cache import corpus_cache_folder, make_corpus_cache_folder
from ..model.topic_model import TopicModel
from .pretrain import pretrain_topic_model

# what pretraining reads of a run's settings, besides its inputs and the model's first weights
PRETRAINING_SETTINGS = ("topic_model", "tm_input", "tm_hidden", "n_topics", "tm_lr", "tm_pretrain_epochs",
                        "tm_patience", "seed")
_RNG = "random_state."  # the generator states, kept beside the weights


@dataclass(frozen=True)
class Fitted:
    """A topic model an earlier run pretrained."""
    fitted_by: str   # that run's folder
    seconds: float   # what its pretraining took


def pretraining_key(topic_model: TopicModel, train: TopicInputs, validation: TopicInputs, config: RunConfig,
                    device: torch.device) -> str:
    digest = hashlib.sha256(type(topic_model).__name__.encode())
    digest.update(json.dumps({name: getattr(config, name) for name in PRETRAINING_SETTINGS}).encode())
    digest.update(device.type.encode())
    for state in _random_states(device).values():  # what pretraining's dropout and sampling will draw
        digest.update(state.numpy().tobytes())
    for name, tensor in sorted(topic_model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for inputs in (train, validation):
        bow = inputs.bow.tocsr()
        for part in (np.asarray(bow.shape), bow.indptr, bow.indices, bow.data):
            digest.update(np.ascontiguousarray(part).tobytes())
        if inputs.embeddings is not None:
            digest.update(np.ascontiguousarray(inputs.embeddings).tobytes())
    return digest.hexdigest()[:32]


def _paths(config: RunConfig, key: str) -> tuple[Path, Path]:
    folder = corpus_cache_folder(config.corpus)
    return folder / f"topic-model-{key}.safetensors", folder / f"topic-model-{key}.json"


def _random_states(device: torch.device) -> dict[str, torch.Tensor]:
    states: dict[str, torch.Tensor] = {f"{_RNG}cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states[f"{_RNG}cuda"] = torch.cuda.get_rng_state(device)
    return states


def _load(topic_model: TopicModel, config: RunConfig, key: str, device: torch.device) -> Fitted | None:
    weights_path, about_path = _paths(config, key)
    if not (weights_path.exists() and about_path.exists()):
        return None
    saved = load_file(weights_path)
    topic_model.load_state_dict({name: value for name, value in saved.items() if not name.startswith(_RNG)})
    torch.set_rng_state(saved[f"{_RNG}cpu"])
    if device.type == "cuda" and f"{_RNG}cuda" in saved:
        torch.cuda.set_rng_state(saved[f"{_RNG}cuda"], device)
    about = json.loads(about_path.read_text(encoding="utf-8"))
    return Fitted(about["fitted_by"], about["seconds"])


def _save(topic_model: TopicModel, config: RunConfig, key: str, device: torch.device, fitted: Fitted) -> None:
    make_corpus_cache_folder(config.corpus)
    weights_path, about_path = _paths(config, key)
    tensors = {name: value.detach().cpu().contiguous() for name, value in topic_model.state_dict().items()}
    tensors.update(_random_states(device))
    # the weights first: a reader finds the description only once the weights are whole
    write_whole(weights_path, lambda tmp: save_file(tensors, str(tmp)))
    write_whole(about_path, lambda tmp: tmp.write_text(json.dumps(vars(fitted)), encoding="utf-8"))


def pretrain_or_reuse(topic_model: TopicModel, train: TopicInputs, validation: TopicInputs, config: RunConfig,
                      device: torch.device, run_dir: Path) -> Fitted | None:
    """Pretrain the topic model, or load the one an earlier run pretrained from the same start on the same
    inputs. Returns who fitted it when it was loaded; None when this run pretrained it."""
    if not config.topic_model_cache:
        pretrain_topic_model(topic_model, train, validation, config, device)
        return None
    key = pretraining_key(topic_model, train, validation, config, device)
    reused = _load(topic_model, config, key, device)
    if reused is not None:
        return reused
    started = time.perf_counter()
    pretrain_topic_model(topic_model, train, validation, config, device)
    _save(topic_model, config, key, device, Fitted(str(run_dir), time.perf_counter() - started))
    return None
