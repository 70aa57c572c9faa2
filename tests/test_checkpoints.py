"""Checkpoints and the best model survive a process killed while saving them."""
from __future__ import annotations

import pathlib
import types

import pytest
import safetensors.torch
import torch
from safetensors.torch import load_file

from topicbert.data.vocabulary import TopicVocabulary
from topicbert.model.encoders import load_tokenizer
from topicbert.training.callbacks import Callback
from topicbert.training.checkpoints import Checkpoints
from topicbert.training.loop import build_model, train


class Killed(BaseException):
    """What the process's death looks like from inside: nothing after it runs."""


class Start(Callback):
    def on_start(self, info):
        self.step = info["start_step"]


def test_a_save_killed_between_its_renames_resumes_from_the_last_checkpoint(tiny_config, tmp_path, monkeypatch):
    config = tiny_config.replace(variant="bert")
    real_rename = pathlib.Path.rename
    saves = []

    def rename(self, target):
        # the second rename of a swap: the new checkpoint is whole, the old one stepped aside
        if self.name == "checkpoint.tmp" and self.with_name("checkpoint.old").exists():
            saves.append(self)
            if len(saves) == 1:
                raise Killed
        return real_rename(self, target)
    monkeypatch.setattr(pathlib.Path, "rename", rename)

    class Checkpointed(Callback):
        steps = []

        def on_checkpoint(self, step, epoch, path):
            self.steps.append(step)
    with pytest.raises(Killed):
        train(config, tmp_path, [Checkpointed()])
    assert len(Checkpointed.steps) == 1  # the first save finished, the second was killed

    resumed = Start()
    result = train(config, tmp_path, [resumed], resume=True)
    assert resumed.step == Checkpointed.steps[0] > 0  # not step 0: nothing silently restarts
    assert result is not None and len(saves) >= 2  # and later saves work despite the leftover
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("checkpoint", "best"))) == [
        "best", "checkpoint"]


def test_a_best_model_killed_mid_write_leaves_the_previous_one_whole(tiny_config, tiny_model_dir, tmp_path,
                                                                     monkeypatch):
    model = build_model(tiny_config, n_classes=3, vocab_size=20)
    data = types.SimpleNamespace(classes=["a", "b", "c"],
                                 vocabulary=TopicVocabulary(tuple(f"w{i}" for i in range(20))))
    tokenizer = load_tokenizer(str(tiny_model_dir))
    checkpoints = Checkpoints(tmp_path)
    checkpoints.save_best(model, tokenizer, data, tiny_config)
    first = {k: v.clone() for k, v in model.state_dict().items()}

    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)
    real_save_file = safetensors.torch.save_file

    def save_file(tensors, path):
        if path.name == "head.safetensors":  # the encoder is written by now
            raise Killed
        real_save_file(tensors, path)
    monkeypatch.setattr(safetensors.torch, "save_file", save_file)  # what save_best imports when it saves
    with pytest.raises(Killed):
        checkpoints.save_best(model, tokenizer, data, tiny_config)

    fresh = build_model(tiny_config, n_classes=3, vocab_size=20)
    Checkpoints(tmp_path).load_best(fresh)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, first[key]), key  # every part from the first save: no mix
    assert "fusion.weight" in load_file(tmp_path / "best" / "head.safetensors")
