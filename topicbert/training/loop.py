"""The training loop: topic-model pretraining, joint fine-tuning, an evaluation after each epoch
(and every N steps), checkpoints.

It knows nothing of SQLite or Streamlit: it reports through callbacks. It runs unchanged under
torchrun (DistributedDataParallel: gloo on CPU, nccl on CUDA).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from transformers import PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from ..config import ConfigError, RunConfig
from ..data.batching import GROUP_BATCHES, iterate_batches, length_grouped_order
from ..data.splits import PreparedData, SplitData, load_run_corpus, prepare_data, tokenize_splits
from ..model.encoders import load_encoder, load_tokenizer
from ..model.registry import build_topic_model, reads_embeddings
from ..model.topicbert import TopicBERT
from .callbacks import Callback, phase_done
from .checkpoints import Checkpoints
from .device import autocast, choose_device, fused_optimizer, world
from .document_embeddings import add_document_embeddings
from .evaluation import evaluate, validation_scores
from .late_fusion import ValidationFusion, load_fusion
from .loop_state import LoopState
from .results import TrainResult, test_and_write
from .tfidf import train_tfidf
from .topic_model_cache import pretrain_or_reuse

# How long the other ranks wait while rank 0 alone evaluates, saves the best model and checkpoints,
# and tests at the end: far past the collective timeout, since a long evaluation is normal. A rank 0
# that dies does not leave them waiting this long: torchrun ends the whole group.
RANK0_WORK_TIMEOUT = timedelta(hours=24)


def build_model(config: RunConfig, n_classes: int, vocab_size: int | None) -> TopicBERT:
    encoder = load_encoder(config.model, attention_dropout=config.attention_dropout)
    topic_model = None
    if config.use_topics:
        # the loop sizes both first: the vocabulary on the training split, the topic count from its size
        assert vocab_size is not None and config.n_topics is not None
        topic_model = build_topic_model(config.topic_model, vocab_size, config.n_topics, config.tm_hidden,
                                        config.tm_input, embedding_size=encoder.config.hidden_size)
    return TopicBERT(encoder, n_classes, topic_model, dropout=config.dropout, alpha=config.alpha)


def make_optimizer(model: TopicBERT, config: RunConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW: the encoder at config.lr, the freshly initialised head and topic model at config.head_lr;
    fused where the device has the kernel."""
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    encoder_ids = {id(p) for p in encoder_params}
    head_params = [p for p in model.parameters() if p.requires_grad and id(p) not in encoder_ids]
    return torch.optim.AdamW([{"params": encoder_params, "lr": config.lr},
                              {"params": head_params, "lr": config.head_lr}],
                             weight_decay=config.weight_decay, fused=fused_optimizer(device, config))


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


@contextmanager
def rank0_first(group: dist.ProcessGroup | None) -> Iterator[None]:
    """Under torchrun, rank 0 runs the block first (and fills the caches), the other ranks after it
    (and read them); alone (`group` None), just the block."""
    later = group is not None and dist.get_rank() != 0
    if later:
        dist.barrier(group=group)
    yield
    if group is not None and not later:
        dist.barrier(group=group)


@dataclass
class Training:
    """What the step loop works with, set up once before its first step (_set_up)."""
    config: RunConfig
    run_dir: Path
    callbacks: list[Callback]             # rank 0's: the other ranks report nothing
    rank: int
    world_size: int
    device: torch.device
    rank0_done: dist.ProcessGroup | None  # under torchrun, the group that waits for rank 0's work
    tokenizer: PreTrainedTokenizerBase
    data: PreparedData
    wide: ValidationFusion | None         # the wide path's TF-IDF reference, on the rank that evaluates
    model: TopicBERT
    stepped: Callable[..., Any]           # what the steps call: the model, wrapped for torchrun, compiled if asked
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    checkpoints: Checkpoints
    state: LoopState
    steps_per_epoch: int
    total_steps: int
    started: float                        # time.perf_counter() when this attempt's clock started
    elapsed_before: float                 # the training seconds of the attempts before this one

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def wall(self) -> float:
        """The run's training seconds so far, over every attempt."""
        return self.elapsed_before + time.perf_counter() - self.started


def train(config: RunConfig, run_dir: Path, callbacks: Sequence[Callback] = (), resume: bool = False,
          data: PreparedData | None = None) -> TrainResult | None:
    """Train, test and write the run's results into `run_dir`; the result on rank 0, None on the other ranks
    of a torchrun group (rank 0 alone evaluates, tests and writes)."""
    run_dir = Path(run_dir)
    if not config.uses_encoder:  # the TF-IDF reference: seconds on a CPU, nothing to resume
        return train_tfidf(config, run_dir, callbacks, data)
    training = _set_up(config, run_dir, callbacks, resume, data)
    step = _run_steps(training)
    if training.distributed:
        _count_every_ranks_tokens(training)
    result = _finish(training, step) if training.main else None
    if training.distributed:
        dist.barrier(group=training.rank0_done)
        dist.destroy_process_group()
    return result


def _set_up(config: RunConfig, run_dir: Path, callbacks: Sequence[Callback], resume: bool,
            data: PreparedData | None) -> Training:
    """Everything before the first step: the process group, the data, the model and its optimiser, and where
    training starts (a resumable checkpoint, or a freshly pretrained topic model). Callbacks hear on_start."""
    rank, world_size, device, rank0_done = _join_world(config)
    callbacks = list(callbacks) if rank == 0 else []  # rank 0's: the other ranks report nothing
    tokenizer = load_tokenizer(config.model)
    phase_done(callbacks, "tokenizer")
    corpus = None
    if data is None:  # the clock starts once the corpus is read and its word pieces cached (tokenize_splits)
        corpus = load_run_corpus(config)
        phase_done(callbacks, "corpus")
        tokenize_splits(config, tokenizer, corpus)
        phase_done(callbacks, "word_pieces")
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = prepare_data(config, tokenizer, corpus)
        phase_done(callbacks, "splits")
    config, embedding_seconds = _settle_topics(config, data, device, rank0_done, callbacks)
    # the wide path's TF-IDF reference, fitted on the clock (it is this run's cost) by the rank that evaluates;
    # a resumed run fits it again (the same fit: the same documents and seed) rather than keep a second copy
    wide = ValidationFusion.fit(data, config.seed) if config.tfidf_fusion and rank == 0 else None
    if wide is not None:
        phase_done(callbacks, "tfidf_fusion")
    model = build_model(config, len(data.classes), len(data.vocabulary) if data.vocabulary else None).to(device)
    phase_done(callbacks, "model")
    checkpoints = Checkpoints(run_dir)

    steps_per_epoch = len(epoch_batches(data.train, config, 0, rank, world_size))
    if steps_per_epoch == 0:
        raise ConfigError(f"{len(data.train)} training documents in batches of {config.batch_size} over "
                          f"{world_size} processes make no training step")
    total_steps = steps_per_epoch * config.epochs
    optimizer = make_optimizer(model, config, device)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_frac * total_steps), total_steps)

    state = LoopState(embedding_seconds=embedding_seconds)
    pretrained_at = None  # when this attempt's topic-model pretraining ended, if it pretrained
    if resume and checkpoints.resumable() is not None:
        state = checkpoints.load_resumable(model, optimizer, scheduler)
    elif model.topic_model is not None:
        state.topic_model_fitted_by = pretrain_or_reuse(model.topic_model, data.train.topic_inputs,
                                                        data.validation.topic_inputs, config, device, run_dir)
        pretrained_at = time.perf_counter() - started  # a run that pretrains starts afresh: no time before it
        phase_done(callbacks, "pretraining")

    training = Training(
        config=config, run_dir=run_dir, callbacks=callbacks, rank=rank,
        world_size=world_size, device=device, rank0_done=rank0_done, tokenizer=tokenizer, data=data, wide=wide,
        model=model, stepped=_stepped(model, config, device, world_size > 1), optimizer=optimizer,
        scheduler=scheduler, checkpoints=checkpoints, state=state, steps_per_epoch=steps_per_epoch,
        total_steps=total_steps, started=started, elapsed_before=state.wall_seconds)
    _announce_start(training, pretrained_at)
    return training


def _join_world(config: RunConfig) -> tuple[int, int, torch.device, dist.ProcessGroup | None]:
    """This process's rank, the world size, its device and, under torchrun, the group that waits for rank 0."""
    rank, world_size = world()
    device = choose_device(config.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world_size == 1:
        return rank, world_size, device, None
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # a group of its own, on the CPU, with its own timeout: the wait for rank 0's work
    return rank, world_size, device, dist.new_group(backend="gloo", timeout=RANK0_WORK_TIMEOUT)


def _settle_topics(config: RunConfig, data: PreparedData, device: torch.device, rank0_done: dist.ProcessGroup | None,
                   callbacks: Sequence[Callback]) -> tuple[RunConfig, float | None]:
    """The run's config with its topic count chosen, and the seconds the documents' embeddings took where its
    topic model reads them and they were computed here (None otherwise)."""
    if not config.use_topics:
        return config, None
    # a topic count the run leaves open is chosen from its training documents, once they are known
    config = config.replace(n_topics=config.topics_for(len(data.train)))
    if not reads_embeddings(config.topic_model) or data.train.embeddings is not None:
        return config, None
    # on the clock: the embeddings are TopicBERT's own cost, unlike the word pieces every run shares
    # (the test documents' come with classifying them: results.test_and_write)
    with rank0_first(rank0_done):
        seconds = add_document_embeddings(config, device, data.train, data.validation)
    phase_done(callbacks, "embeddings")
    return config, seconds


def _stepped(model: TopicBERT, config: RunConfig, device: torch.device, distributed: bool) -> Callable[..., Any]:
    """What the steps call: the model, wrapped for torchrun, compiled if asked."""
    stepped: Callable[..., Any] = model
    if distributed:
        stepped = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        # dynamic shapes: length-grouped batches vary in width, and each width would recompile
        stepped = torch.compile(stepped, dynamic=True)
    return stepped


def _announce_start(training: Training, pretrained_at: float | None) -> None:
    data = training.data
    # what this attempt paid before its first step (loading, pretraining): the fixed cost no epoch count shrinks
    fixed_seconds = training.wall() - training.elapsed_before
    for cb in training.callbacks:
        cb.on_start({"device": str(training.device), "n_train": len(data.train), "n_val": len(data.validation),
                     "n_test": len(data.test), "total_steps": training.total_steps,
                     "steps_per_epoch": training.steps_per_epoch, "start_step": training.state.step,
                     "start_epoch": training.state.step / max(training.steps_per_epoch, 1),
                     "classes": data.classes, "world_size": training.world_size, "fixed_seconds": fixed_seconds})
        if pretrained_at is not None:
            cb.on_pretrained(pretrained_at)


def _run_steps(training: Training) -> int:
    """The optimiser steps from where the run stands to its last, with an evaluation at each epoch's end (and
    every eval_every_steps), until the steps or early stopping's patience run out. Returns the last step."""
    config, data, state, device = training.config, training.data, training.state, training.device
    training.model.train()
    loss_sum = torch.zeros((), device=device)
    loss_count = 0
    step = state.step
    stop = _patience_spent(training)  # a resumed run may have spent its patience just before it was interrupted
    while step < training.total_steps and not stop:
        epoch = step // training.steps_per_epoch
        batches = epoch_batches(data.train, config, epoch, training.rank, training.world_size)
        for batch_indices in batches[step - epoch * training.steps_per_epoch:]:
            step_started = time.perf_counter()
            batch = next(iterate_batches(data.train.examples, [batch_indices], data.train.labels,
                                         data.train.bow, training.pad_id, data.train.embeddings)).to(device)
            with autocast(device, config):
                out = training.stepped(batch.input_ids, batch.attention_mask, batch.bow, batch.labels,
                                       batch.embedding)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(training.model.parameters(), config.clip)
            training.optimizer.step()
            training.scheduler.step()
            training.optimizer.zero_grad(set_to_none=True)
            loss_sum += out.loss.detach()   # summed on the device: no sync inside the step
            loss_count += 1
            state.tokens += batch.real_tokens
            state.padded += batch.padded_tokens
            step += 1
            state.step_seconds += time.perf_counter() - step_started
            for cb in training.callbacks:
                cb.on_step(step, training.total_steps)
            at_epoch_end = step % training.steps_per_epoch == 0
            if at_epoch_end or (config.eval_every_steps and step % config.eval_every_steps == 0):
                _evaluate_and_checkpoint(training, step, float(loss_sum) / max(loss_count, 1))
                loss_sum.zero_()
                loss_count = 0
                stop = _patience_spent(training)
                if stop:
                    break
    return step


def _evaluate_and_checkpoint(training: Training, step: int, train_loss: float) -> None:
    """Rank 0 evaluates on the validation split, keeps the best model and writes a resumable checkpoint; the
    other ranks wait for it."""
    config, data, state, model = training.config, training.data, training.state, training.model
    epoch = step / training.steps_per_epoch
    if training.main:
        output = evaluate(model, data.validation, config, training.device, training.pad_id)
        fusion = None
        if training.wide is not None:  # the TF-IDF weight that fuses best with the encoder as it stands now
            fusion, fused = training.wide.weigh(output.probabilities)
            output = output.with_probabilities(fused, data.validation.labels)
        metrics = validation_scores(data.validation, output)
        metrics["train_loss"] = train_loss
        if fusion is not None:
            metrics["tfidf_weight"] = fusion.weight
        if state.improved(metrics["val_macro_f1"], step):
            training.checkpoints.save_best(model, training.tokenizer, data, config, fusion)
        state.step, state.wall_seconds = step, training.wall()
        for cb in training.callbacks:
            cb.on_evaluate(step, epoch, state.wall_seconds, metrics)
        if config.resumable_checkpoints:
            path = training.checkpoints.save_resumable(model, training.optimizer, training.scheduler, state)
            for cb in training.callbacks:
                cb.on_checkpoint(step, epoch, path)
    if training.distributed:
        dist.barrier(group=training.rank0_done)


def _patience_spent(training: Training) -> bool:
    """Early stopping: as many evaluations in a row without a better validation F1 as the run allows.
    Rank 0 decides (it alone evaluates) and tells the others, so every rank stops at the same step."""
    patience = training.config.early_stopping_patience
    if patience is None:
        return False
    spent = torch.tensor([float(training.state.evaluations_without_gain >= patience)], device=training.device)
    if training.distributed:
        dist.broadcast(spent, src=0)
    return bool(spent.item())


def _count_every_ranks_tokens(training: Training) -> None:
    """The word pieces every rank fed, summed: what the run's results report."""
    state = training.state
    reduced = torch.tensor([state.tokens, state.padded], dtype=torch.float64, device=training.device)
    dist.all_reduce(reduced)
    state.tokens, state.padded = int(reduced[0]), int(reduced[1])


def _finish(training: Training, step: int) -> TrainResult:
    """Rank 0's end: the best model back, tested, and the run's result files written."""
    model, state, callbacks = training.model, training.state, training.callbacks
    training.checkpoints.load_best(model)
    best_folder = training.checkpoints.best.current()
    assert best_folder is not None  # load_best found it
    fusion = load_fusion(best_folder, training.config)  # the wide path as a loader reads it back
    state.step = step
    trained_seconds = training.wall()
    for cb in callbacks:
        cb.on_trained(trained_seconds)
    result = test_and_write(training.config, training.run_dir, model, training.data, training.device,
                            training.pad_id, state, trained_seconds, callbacks, fusion)
    for cb in callbacks:
        cb.on_end(result)
    return result
