"""A run's files for going on and for keeping: the resumable checkpoint (model, optimiser and
scheduler state) and the best model (a transformers-loadable encoder, head and topic model as
safetensors, never pickle)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..config import RunConfig
from ..data.splits import PreparedData
from ..model.topicbert import TopicBERT


class Checkpoints:
    """Files of one run: a resumable checkpoint and the best model (transformers-loadable encoder)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.resume_dir = run_dir / "checkpoint"
        self.best_dir = run_dir / "best"

    def save_resumable(self, model: TopicBERT, optimizer, scheduler, state: dict) -> Path:
        tmp = self.resume_dir.with_name("checkpoint.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
        # optimiser state holds only tensors and numbers: torch.load reads it back with weights_only
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                   tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps(state))
        if self.resume_dir.exists():
            old = self.resume_dir.with_name("checkpoint.old")
            self.resume_dir.rename(old)
            tmp.rename(self.resume_dir)
            for f in old.iterdir():
                f.unlink()
            old.rmdir()
        else:
            tmp.rename(self.resume_dir)
        return self.resume_dir

    def load_resumable(self, model: TopicBERT, optimizer, scheduler) -> dict:
        model.load_state_dict(load_file(self.resume_dir / "model.safetensors"))
        saved = torch.load(self.resume_dir / "optimizer.pt", weights_only=True)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        return json.loads((self.resume_dir / "state.json").read_text())

    def save_best(self, model: TopicBERT, tokenizer, data: PreparedData, config: RunConfig) -> None:
        """The model in two parts: encoder by save_pretrained, head and NVDM as safetensors."""
        self.best_dir.mkdir(parents=True, exist_ok=True)
        model.encoder.save_pretrained(self.best_dir / "encoder")
        tokenizer.save_pretrained(self.best_dir / "encoder")
        head = {f"fusion.{k}": v for k, v in model.fusion.state_dict().items()}
        head.update({f"classifier.{k}": v for k, v in model.classifier.state_dict().items()})
        save_file({k: v.contiguous() for k, v in head.items()}, self.best_dir / "head.safetensors")
        if model.nvdm is not None:
            save_file({k: v.contiguous() for k, v in model.nvdm.state_dict().items()},
                      self.best_dir / "nvdm.safetensors")
            data.vocabulary.save(self.best_dir / "vocab.json")
        (self.best_dir / "classes.json").write_text(json.dumps(data.classes))
        (self.best_dir / "run_config.json").write_text(config.to_json())

    def load_best(self, model: TopicBERT) -> None:
        model.encoder.load_state_dict(load_file(self.best_dir / "encoder" / "model.safetensors"))
        head = load_file(self.best_dir / "head.safetensors")
        model.fusion.load_state_dict({k[len("fusion."):]: v for k, v in head.items() if k.startswith("fusion.")})
        model.classifier.load_state_dict(
            {k[len("classifier."):]: v for k, v in head.items() if k.startswith("classifier.")})
        if model.nvdm is not None:
            model.nvdm.load_state_dict(load_file(self.best_dir / "nvdm.safetensors"))
