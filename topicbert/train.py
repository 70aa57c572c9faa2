"""The training loop: NVDM pretraining, joint fine-tuning, evaluation, checkpoints.

It knows nothing of SQLite or Streamlit; it reports through callbacks. It runs unchanged
under torchrun (DistributedDataParallel: gloo on CPU, nccl on CUDA).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from transformers import get_linear_schedule_with_warmup

from .batching import (GROUP_BATCHES, average_chunk_probabilities, iterate_batches, length_grouped_order,
                       sorted_order)
from .callbacks import Callback
from .config import RunConfig
from .data import PreparedData, SplitData, prepare_data
from .encoders import load_encoder, load_tokenizer
from .metrics import confusion, macro_f1, micro_f1, per_class_report
from .model import TopicBERT
from .nvdm import NVDM, perplexity
from .pretrain import pretrain_nvdm

__all__ = ["Callback", "TrainResult", "train", "choose_device", "is_main_process", "evaluate"]

TOP_WORDS = 10


@dataclass
class TrainResult:
    config: RunConfig
    run_dir: Path
    device: str
    classes: list[str]
    best_step: int
    best_val_macro_f1: float
    test_macro_f1: float
    test_micro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    train_seconds: float          # wall time of the whole run: NVDM pretraining, steps, evaluations
    step_seconds: float           # wall time inside optimiser steps only
    tokens_processed: int         # real (non-padding) word pieces fed to the encoder in training
    padded_fraction: float        # share of computed positions that were padding
    perplexity: Optional[float]
    n_topics: Optional[int]
    topics: Optional[list[list[tuple[str, float]]]] = field(default=None, repr=False)

    def summary(self) -> dict:
        return {
            "variant": self.config.variant, "name": self.config.name, "max_len": self.config.max_len,
            "mode": self.config.mode, "device": self.device,
            "val_macro_f1": self.best_val_macro_f1, "best_step": self.best_step,
            "test_macro_f1": self.test_macro_f1, "test_micro_f1": self.test_micro_f1,
            "train_seconds": self.train_seconds, "step_seconds": self.step_seconds,
            "tokens_processed": self.tokens_processed, "padded_fraction": self.padded_fraction,
            "n_topics": self.n_topics, "perplexity": self.perplexity, "run_dir": str(self.run_dir),
        }


@dataclass
class EvalOutput:
    probabilities: np.ndarray        # (n_docs, C), chunk softmaxes averaged per document
    loss: float                      # mean cross-entropy of the document probabilities
    topic_vectors: Optional[np.ndarray]  # (n_docs, K) NVDM mu, TopicBERT only
    perplexity: Optional[float]

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def choose_device(requested: str = "auto") -> torch.device:
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main_process() -> bool:
    return world()[0] == 0


def _autocast(device: torch.device, config: RunConfig):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda" and config.bf16)


def build_model(config: RunConfig, n_classes: int, vocab_size: Optional[int]) -> TopicBERT:
    encoder = load_encoder(config.model, attention_dropout=config.attention_dropout)
    nvdm = NVDM(vocab_size, config.n_topics, config.tm_hidden) if config.use_topics else None
    return TopicBERT(encoder, n_classes, nvdm, dropout=config.dropout, alpha=config.alpha)


@torch.inference_mode()
def evaluate(model: TopicBERT, split: SplitData, config: RunConfig, device: torch.device,
             pad_id: int) -> EvalOutput:
    model.eval()
    order = sorted_order(split.example_lengths, config.eval_batch_size)
    chunk_probs, chunk_docs = [], []
    for batch in iterate_batches(split.examples, order, split.labels, split.bow, pad_id):
        batch = batch.to(device)
        with _autocast(device, config):
            out = model(batch.input_ids, batch.attention_mask, batch.bow)
        chunk_probs.append(torch.softmax(out.logits.float(), dim=-1).cpu())
        chunk_docs.append(batch.docs)
    probs = average_chunk_probabilities(torch.cat(chunk_probs), torch.cat(chunk_docs), len(split))
    labels = torch.from_numpy(split.labels)
    loss = float(torch.nn.functional.nll_loss(torch.log(probs.clamp_min(1e-12)), labels))
    topic_vectors = ppl = None
    if model.nvdm is not None:
        topic_vectors, losses = nvdm_document_outputs(model.nvdm, split, device)
        ppl = perplexity(torch.from_numpy(losses), torch.from_numpy(np.asarray(split.bow.sum(axis=1)).ravel()))
    model.train()
    return EvalOutput(probs.numpy(), loss, topic_vectors, ppl)


@torch.inference_mode()
def nvdm_document_outputs(nvdm: NVDM, split: SplitData, device: torch.device,
                          batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (mu) topic vectors and NVDM losses of every document in the split."""
    was_training = nvdm.training
    nvdm.eval()
    mus, losses = [], []
    for start in range(0, len(split), batch_size):
        bow = torch.from_numpy(split.bow[start:start + batch_size].toarray()).to(device)
        out = nvdm(bow)
        mus.append(out.mu.float().cpu())
        losses.append(out.loss.float().cpu())
    nvdm.train(was_training)
    return torch.cat(mus).numpy(), torch.cat(losses).numpy()


def _scores(split: SplitData, output: EvalOutput) -> dict[str, float]:
    metrics = {"val_macro_f1": macro_f1(split.labels, output.predictions),
               "val_micro_f1": micro_f1(split.labels, output.predictions),
               "val_loss": output.loss}
    if output.perplexity is not None:
        metrics["val_perplexity"] = output.perplexity
    return metrics


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


def make_optimizer(model: TopicBERT, config: RunConfig) -> torch.optim.Optimizer:
    """AdamW: the encoder at config.lr, the freshly initialised head and NVDM at config.head_lr."""
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    encoder_ids = {id(p) for p in encoder_params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
    return torch.optim.AdamW([{"params": encoder_params, "lr": config.lr},
                              {"params": head_params, "lr": config.head_lr}],
                             weight_decay=config.weight_decay)


def epoch_batches(split: SplitData, config: RunConfig, epoch: int, rank: int, world_size: int) -> list[list[int]]:
    # without grouping, every window is one batch: plain random batches
    group_batches = GROUP_BATCHES if config.length_grouping else 1
    order = length_grouped_order(split.example_lengths, config.batch_size, seed=config.seed * 1000 + epoch,
                                 group_batches=group_batches)
    if world_size == 1:
        return order
    # each rank takes its share of every global batch: the same steps, batch size and data as
    # one process, so learning rates and schedules carry over; a tail batch too small to share
    # is dropped so every rank's all-reduces line up
    return [batch[rank::world_size] for batch in order if len(batch) >= world_size]


def train(config: RunConfig, run_dir: Path, callbacks: Sequence[Callback] = (), resume: bool = False,
          data: Optional[PreparedData] = None) -> TrainResult:
    run_dir = Path(run_dir)
    rank, world_size = world()
    main = rank == 0
    callbacks = list(callbacks) if main else []
    distributed = world_size > 1
    device = choose_device(config.device)
    if distributed:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)

    tokenizer = load_tokenizer(config.model)
    data = data if data is not None else prepare_data(config, tokenizer)
    model = build_model(config, len(data.classes), len(data.vocabulary) if data.vocabulary else None).to(device)
    checkpoints = Checkpoints(run_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    steps_per_epoch = len(epoch_batches(data.train, config, 0, rank, world_size))
    total_steps = steps_per_epoch * config.epochs
    optimizer = make_optimizer(model, config)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_frac * total_steps), total_steps)

    state = {"step": 0, "wall_seconds": 0.0, "step_seconds": 0.0, "best_val_macro_f1": -1.0,
             "best_step": 0, "tokens": 0, "padded": 0}
    if resume and checkpoints.resume_dir.exists():
        state = checkpoints.load_resumable(model, optimizer, scheduler)
    elif model.nvdm is not None:
        pretrain_nvdm(model.nvdm, data.train.bow, data.validation.bow, config, device)
    elapsed_before = state["wall_seconds"]

    def wall() -> float:
        return elapsed_before + time.perf_counter() - started

    if distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp_model = model
    if config.compile:
        # dynamic shapes: length-grouped batches vary in width, and each width would recompile
        ddp_model = torch.compile(ddp_model, dynamic=True)
    step = state["step"]
    for cb in callbacks:
        cb.on_start({"device": str(device), "n_train": len(data.train), "n_val": len(data.validation),
                     "n_test": len(data.test), "total_steps": total_steps, "steps_per_epoch": steps_per_epoch,
                     "start_step": step, "start_epoch": step / max(steps_per_epoch, 1),
                     "classes": data.classes, "world_size": world_size})

    def evaluate_and_checkpoint(train_loss: float) -> None:
        epoch = step / steps_per_epoch
        if main:
            output = evaluate(model, data.validation, config, device, pad_id)
            metrics = _scores(data.validation, output)
            metrics["train_loss"] = train_loss
            if metrics["val_macro_f1"] > state["best_val_macro_f1"]:
                state["best_val_macro_f1"], state["best_step"] = metrics["val_macro_f1"], step
                checkpoints.save_best(model, tokenizer, data, config)
            state.update(step=step, wall_seconds=wall())
            for cb in callbacks:
                cb.on_evaluate(step, epoch, state["wall_seconds"], metrics)
            if config.resumable_checkpoints:
                path = checkpoints.save_resumable(model, optimizer, scheduler, state)
                for cb in callbacks:
                    cb.on_checkpoint(step, epoch, path)
        if distributed:
            dist.barrier()

    model.train()
    loss_sum = torch.zeros((), device=device)
    loss_count = 0
    while step < total_steps:
        epoch = step // steps_per_epoch
        batches = epoch_batches(data.train, config, epoch, rank, world_size)
        for batch_indices in batches[step - epoch * steps_per_epoch:]:
            step_started = time.perf_counter()
            batch = next(iterate_batches(data.train.examples, [batch_indices], data.train.labels,
                                         data.train.bow, pad_id)).to(device)
            with _autocast(device, config):
                out = ddp_model(batch.input_ids, batch.attention_mask, batch.bow, batch.labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += out.loss.detach()   # summed on the device: no sync inside the step
            loss_count += 1
            state["tokens"] += batch.real_tokens
            state["padded"] += batch.padded_tokens
            step += 1
            state["step_seconds"] += time.perf_counter() - step_started
            for cb in callbacks:
                cb.on_step(step, total_steps)
            at_epoch_end = step % steps_per_epoch == 0
            if at_epoch_end or (config.eval_every_steps and step % config.eval_every_steps == 0):
                evaluate_and_checkpoint(float(loss_sum) / max(loss_count, 1))
                loss_sum.zero_()
                loss_count = 0
    if distributed:
        reduced = torch.tensor([state["tokens"], state["padded"]], dtype=torch.float64, device=device)
        dist.all_reduce(reduced)
        state["tokens"], state["padded"] = int(reduced[0]), int(reduced[1])

    result = None
    if main:
        checkpoints.load_best(model)
        result = _finish(config, run_dir, model, data, device, pad_id, state, wall())
        for cb in callbacks:
            cb.on_end(result)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return result


def _finish(config: RunConfig, run_dir: Path, model: TopicBERT, data: PreparedData, device: torch.device,
            pad_id: int, state: dict, wall_seconds: float) -> TrainResult:
    """Test metrics of the best model, and the per-document results the app shows later."""
    output = evaluate(model, data.test, config, device, pad_id)
    predictions = output.predictions
    topics = ppl = None
    arrays = {"labels": data.test.labels, "probabilities": output.probabilities.astype(np.float32)}
    if model.nvdm is not None:
        ppl = output.perplexity
        topics = top_words(model.nvdm, data.vocabulary.words)
        arrays["topic_vectors"] = output.topic_vectors.astype(np.float32)
        _save_topic_arrays(run_dir, model.nvdm, data, device)
    np.savez_compressed(run_dir / "test_predictions.npz", **arrays)
    (run_dir / "test_documents.json").write_text(json.dumps(
        {"classes": data.classes, "texts": data.test.texts}))
    total = state["tokens"] + state["padded"]
    result = TrainResult(
        config=config, run_dir=run_dir, device=str(device), classes=data.classes,
        best_step=state["best_step"], best_val_macro_f1=state["best_val_macro_f1"],
        test_macro_f1=macro_f1(data.test.labels, predictions),
        test_micro_f1=micro_f1(data.test.labels, predictions),
        per_class=per_class_report(data.test.labels, predictions, data.classes),
        confusion=confusion(data.test.labels, predictions, len(data.classes)),
        train_seconds=wall_seconds, step_seconds=state["step_seconds"],
        tokens_processed=state["tokens"], padded_fraction=state["padded"] / total if total else 0.0,
        perplexity=ppl, n_topics=config.n_topics if config.use_topics else None, topics=topics)
    summary = result.summary()
    summary.update(per_class=result.per_class, confusion=result.confusion, classes=result.classes)
    (run_dir / "result.json").write_text(json.dumps(summary, indent=1))
    return result


def top_words(nvdm: NVDM, words: Sequence[str], k: int = TOP_WORDS) -> list[list[tuple[str, float]]]:
    weights = nvdm.topic_word_logits().float().cpu()
    values, indices = weights.topk(min(k, weights.shape[1]), dim=1)
    return [[(words[i], float(v)) for v, i in zip(row_v.tolist(), row_i.tolist())]
            for row_v, row_i in zip(values, indices)]


def _save_topic_arrays(run_dir: Path, nvdm: NVDM, data: PreparedData, device: torch.device) -> None:
    """What pyLDAvis needs: p(word|topic), training documents' topic mixtures and lengths."""
    mu, _ = nvdm_document_outputs(nvdm, data.train, device)
    doc_topic = torch.softmax(torch.from_numpy(mu), dim=1).numpy()
    np.savez_compressed(
        run_dir / "topics.npz",
        topic_term=nvdm.topic_word_distribution().cpu().numpy().astype(np.float32),
        doc_topic=doc_topic.astype(np.float32),
        doc_lengths=np.asarray(data.train.bow.sum(axis=1)).ravel(),
        term_frequency=np.asarray(data.train.bow.sum(axis=0)).ravel())
    data.vocabulary.save(run_dir / "vocab.json")
