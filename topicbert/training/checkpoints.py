"""A run's files for going on and for keeping: the resumable checkpoint (model, optimiser and
scheduler state) and the best model (a transformers-loadable encoder, head and topic model as
safetensors, never pickle).

Both are replaced whole (SwappedFolder): a process killed while saving leaves the previous
version or the new one, never a mix and never nothing.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import RunConfig
from .loop_state import LoopState

if TYPE_CHECKING:
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler
    from transformers import PreTrainedTokenizerBase

    from ..data.splits import PreparedData
    from ..model.topicbert import TopicBERT
    from .late_fusion import LateFusion

# torch and safetensors are imported where a model is saved or loaded: `gc` and the Storage page read the
# folders' layout alone, and the command line answers them without loading torch


def _sync(path: Path) -> None:
    """Flush a file (or, on POSIX, a folder's list of names) to the disk."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SwappedFolder:
    """A folder replaced whole. The new version is written beside it (`NAME.tmp`) and synced; only
    then does the current one step aside (`NAME.old`) and the new one take its name; the old one
    is deleted last. Killed at any moment, `current()` is a whole version: the new one, or the one
    before it (while the store still names the one before: callbacks run after a save returns)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f"{path.name}.tmp")
        self.old = path.with_name(f"{path.name}.old")

    def current(self) -> Path | None:
        """The whole version, without changing anything (torchrun ranks read it at once): NAME, or
        NAME.old when a swap was cut between its two renames; None if none was ever finished."""
        for path in (self.path, self.old):
            if path.is_dir():
                return path
        return None

    def write(self, fill: Callable[[Path], None]) -> Path:
        """Write a new version with `fill(folder)` and swap it in; returns its path."""
        self._finish_cut_swap()
        shutil.rmtree(self.tmp, ignore_errors=True)  # a version a killed save left half-written
        self.tmp.mkdir(parents=True)
        fill(self.tmp)
        for path in sorted(self.tmp.rglob("*")):
            _sync(path)
        _sync(self.tmp)
        replacing = self.path.exists()
        if replacing:
            self.path.rename(self.old)
        self.tmp.rename(self.path)
        _sync(self.path.parent)
        if replacing:
            shutil.rmtree(self.old)
        return self.path

    def remove(self) -> None:
        for path in (self.tmp, self.path, self.old):
            shutil.rmtree(path, ignore_errors=True)

    def _finish_cut_swap(self) -> None:
        # NAME.old is whole whenever it exists: put it back if the new version never took NAME
        if not self.path.exists() and self.old.exists():
            self.old.rename(self.path)
        shutil.rmtree(self.old, ignore_errors=True)


class Checkpoints:
    """Files of one run: a resumable checkpoint and the best model (transformers-loadable encoder)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.resume = SwappedFolder(run_dir / "checkpoint")
        self.best = SwappedFolder(run_dir / "best")

    def resumable(self) -> Path | None:
        """The folder of the last whole resumable checkpoint, or None."""
        return self.resume.current()

    def save_resumable(self, model: TopicBERT, optimizer: Optimizer, scheduler: LRScheduler, state: LoopState) -> Path:
        import torch
        from safetensors.torch import save_file

        def fill(folder: Path) -> None:
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors")
            # optimiser state holds only tensors and numbers: torch.load reads it back with weights_only
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                       folder / "optimizer.pt")
            (folder / "state.json").write_text(state.to_json())
        return self.resume.write(fill)

    def load_resumable(self, model: TopicBERT, optimizer: Optimizer, scheduler: LRScheduler) -> LoopState:
        import torch
        from safetensors.torch import load_file

        folder = self.resumable()
        if folder is None:
            raise FileNotFoundError(f"no resumable checkpoint in {self.resume.path}")
        weights = load_file(folder / "model.safetensors")
        # checkpoints of earlier versions call the topic model "nvdm"
        model.load_state_dict({("topic_model." + k[len("nvdm."):] if k.startswith("nvdm.") else k): v
                               for k, v in weights.items()})
        saved = torch.load(folder / "optimizer.pt", weights_only=True)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        return LoopState.from_json((folder / "state.json").read_text())

    def remove_resumable(self) -> None:
        """A finished run never resumes: its checkpoint (about three times the model) can go."""
        self.resume.remove()

    def save_best(self, model: TopicBERT, tokenizer: PreTrainedTokenizerBase, data: PreparedData, config: RunConfig,
                  fusion: LateFusion | None = None) -> None:
        """The model in two parts: encoder by save_pretrained, head and topic model as safetensors; with the
        wide path, its TF-IDF model and weight (late_fusion.py) in the same swap."""
        from safetensors.torch import save_file

        def fill(folder: Path) -> None:
            model.encoder.save_pretrained(folder / "encoder")
            tokenizer.save_pretrained(folder / "encoder")
            head = {f"fusion.{k}": v for k, v in model.fusion.state_dict().items()}
            head.update({f"classifier.{k}": v for k, v in model.classifier.state_dict().items()})
            save_file({k: v.contiguous() for k, v in head.items()}, folder / "head.safetensors")
            if model.topic_model is not None:
                save_file({k: v.contiguous() for k, v in model.topic_model.state_dict().items()},
                          folder / "topic_model.safetensors")
                assert data.vocabulary is not None  # the data of a run with a topic model has its vocabulary
                data.vocabulary.save(folder / "vocab.json")
            if fusion is not None:
                fusion.save(folder)
            (folder / "classes.json").write_text(json.dumps(data.classes))
            (folder / "run_config.json").write_text(config.to_json())
        self.best.write(fill)

    def load_best(self, model: TopicBERT) -> None:
        folder = self.best.current()
        if folder is None:
            raise FileNotFoundError(f"no best model in {self.best.path}")
        load_model_parts(folder, model)


def load_model_parts(folder: Path, model: TopicBERT) -> None:
    """Put the weights save_best wrote in `folder` (a run's best/, or a model folder exported from it) into
    `model`: the encoder, the head and the topic model."""
    from safetensors.torch import load_file

    model.encoder.load_state_dict(load_file(folder / "encoder" / "model.safetensors"))
    head = load_file(folder / "head.safetensors")
    model.fusion.load_state_dict({k[len("fusion."):]: v for k, v in head.items() if k.startswith("fusion.")})
    model.classifier.load_state_dict(
        {k[len("classifier."):]: v for k, v in head.items() if k.startswith("classifier.")})
    if model.topic_model is not None:
        model.topic_model.load_state_dict(load_file(folder / "topic_model.safetensors"))
