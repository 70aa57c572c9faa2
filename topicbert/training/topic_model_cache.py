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
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..config import RunConfig
from ..data.batching import TopicInputs
from ..data.shared_texts import write_whole
from ..data.token_cache import corpus_cache_folder, make_corpus_cache_folder
from ..model.topic_model import TopicModel
from .pretrain import MIN_GAIN, pretrain_topic_model

# what pretraining reads of a run's settings, besides its inputs and the model's first weights
PRETRAINING_SETTINGS = ("topic_model", "tm_input", "tm_hidden", "n_topics", "tm_lr", "tm_pretrain_epochs",
                        "tm_patience", "seed", "fused_optimizer")
_RNG = "random_state."  # the generator states, kept beside the weights
FITTED_BY = "fitted_by"  # the file's metadata: the folder of the run that pretrained it


def pretraining_key(topic_model: TopicModel, train: TopicInputs, validation: TopicInputs, config: RunConfig,
                    device: torch.device) -> str:
    digest = hashlib.sha256(type(topic_model).__name__.encode())
    digest.update(json.dumps({name: getattr(config, name) for name in PRETRAINING_SETTINGS}).encode())
    # and its stopping rule: a model kept under another rule is not the one this run would fit
    digest.update(json.dumps([MIN_GAIN, topic_model.pretrain_steps]).encode())
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


def _path(config: RunConfig, key: str) -> Path:
    return corpus_cache_folder(config.corpus) / f"topic-model-{key}.safetensors"


def _random_states(device: torch.device) -> dict[str, torch.Tensor]:
    states: dict[str, torch.Tensor] = {f"{_RNG}cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states[f"{_RNG}cuda"] = torch.cuda.get_rng_state(device)
    return states


def _load(topic_model: TopicModel, config: RunConfig, key: str, device: torch.device) -> str | None:
    """The folder of the run that fitted the kept model, once its weights and random state are loaded."""
    path = _path(config, key)
    if not path.exists():
        return None
    with safe_open(path, "pt") as kept:
        # safetensors' handle has keys() but cannot be iterated itself
        saved = {name: kept.get_tensor(name) for name in kept.keys()}  # noqa: SIM118
        fitted_by = kept.metadata()[FITTED_BY]
    topic_model.load_state_dict({name: value for name, value in saved.items() if not name.startswith(_RNG)})
    torch.set_rng_state(saved[f"{_RNG}cpu"])
    if device.type == "cuda" and f"{_RNG}cuda" in saved:
        torch.cuda.set_rng_state(saved[f"{_RNG}cuda"], device)
    return fitted_by


def _save(topic_model: TopicModel, config: RunConfig, key: str, device: torch.device, run_dir: Path) -> None:
    make_corpus_cache_folder(config.corpus)
    tensors = {name: value.detach().cpu().contiguous() for name, value in topic_model.state_dict().items()}
    tensors.update(_random_states(device))
    # one file, written whole: weights, random state and who fitted them appear together or not at all
    write_whole(_path(config, key), lambda tmp: save_file(tensors, str(tmp), metadata={FITTED_BY: str(run_dir)}))


def pretrain_or_reuse(topic_model: TopicModel, train: TopicInputs, validation: TopicInputs, config: RunConfig,
                      device: torch.device, run_dir: Path) -> str | None:
    """Pretrain the topic model, or load the one an earlier run pretrained from the same start on the same
    inputs. Returns the folder of the run that fitted it when it was loaded; None when this run pretrained it."""
    if not config.topic_model_cache:
        pretrain_topic_model(topic_model, train, validation, config, device)
        return None
    key = pretraining_key(topic_model, train, validation, config, device)
    reused = _load(topic_model, config, key, device)
    if reused is not None:
        return reused
    pretrain_topic_model(topic_model, train, validation, config, device)
    _save(topic_model, config, key, device, run_dir)
    return None
