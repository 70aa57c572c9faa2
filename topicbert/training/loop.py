"""The training loop: topic-model pretraining, joint fine-tuning, an evaluation after each epoch
(and every N steps), checkpoints.

It knows nothing of SQLite or Streamlit: it reports through callbacks. It runs unchanged under
torchrun (DistributedDataParallel: gloo on CPU, nccl on CUDA).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from transformers import get_linear_schedule_with_warmup

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


def train(config: RunConfig, run_dir: Path, callbacks: Sequence[Callback] = (), resume: bool = False,
          data: PreparedData | None = None) -> TrainResult | None:
    """Train, test and write the run's results into `run_dir`; the result on rank 0, None on the other ranks
    of a torchrun group (rank 0 alone evaluates, tests and writes)."""
    run_dir = Path(run_dir)
    if not config.uses_encoder:  # the TF-IDF reference: seconds on a CPU, nothing to resume
        return train_tfidf(config, run_dir, callbacks, data)
    rank, world_size = world()
    main = rank == 0
    callbacks = list(callbacks) if main else []
    distributed = world_size > 1
    device = choose_device(config.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    rank0_done = None
    if distributed:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        # a group of its own, on the CPU, with its own timeout: the wait for rank 0's work
        rank0_done = dist.new_group(backend="gloo", timeout=RANK0_WORK_TIMEOUT)
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
    embedding_seconds = None
    if config.use_topics:
        # a topic count the run leaves open is chosen from its training documents, once they are known
        config = config.replace(n_topics=config.topics_for(len(data.train)))
        if reads_embeddings(config.topic_model) and data.train.embeddings is None:
            # on the clock: the embeddings are TopicBERT's own cost, unlike the word pieces every run shares
            # (the test documents' come with classifying them: results.test_and_write)
            with rank0_first(rank0_done):
                embedding_seconds = add_document_embeddings(config, device, data.train, data.validation)
            phase_done(callbacks, "embeddings")
    # the wide path's TF-IDF reference, fitted on the clock (it is this run's cost) by the rank that evaluates;
    # a resumed run fits it again (the same fit: the same documents and seed) rather than keep a second copy
    wide = ValidationFusion.fit(data, config.seed) if config.tfidf_fusion and main else None
    if wide is not None:
        phase_done(callbacks, "tfidf_fusion")
    model = build_model(config, len(data.classes), len(data.vocabulary) if data.vocabulary else None).to(device)
    phase_done(callbacks, "model")
    checkpoints = Checkpoints(run_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

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
    elapsed_before = state.wall_seconds

    def wall() -> float:
        return elapsed_before + time.perf_counter() - started

    ddp_model: Callable[..., Any]  # what the steps call: the model, wrapped for torchrun, compiled if asked
    if distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp_model = model
    if config.compile:
        # dynamic shapes: length-grouped batches vary in width, and each width would recompile
        ddp_model = torch.compile(ddp_model, dynamic=True)
    step = state.step
    # what this attempt paid before its first step (loading, pretraining): the fixed cost no epoch count shrinks
    fixed_seconds = wall() - elapsed_before
    for cb in callbacks:
        cb.on_start({"device": str(device), "n_train": len(data.train), "n_val": len(data.validation),
                     "n_test": len(data.test), "total_steps": total_steps, "steps_per_epoch": steps_per_epoch,
                     "start_step": step, "start_epoch": step / max(steps_per_epoch, 1),
                     "classes": data.classes, "world_size": world_size, "fixed_seconds": fixed_seconds})
        if pretrained_at is not None:
            cb.on_pretrained(pretrained_at)

    def evaluate_and_checkpoint(train_loss: float) -> None:
        epoch = step / steps_per_epoch
        if main:
            output = evaluate(model, data.validation, config, device, pad_id)
            fusion = None
            if wide is not None:  # the TF-IDF weight that fuses best with the encoder as it stands now
                fusion, fused = wide.weigh(output.probabilities)
                output = output.with_probabilities(fused, data.validation.labels)
            metrics = validation_scores(data.validation, output)
            metrics["train_loss"] = train_loss
            if fusion is not None:
                metrics["tfidf_weight"] = fusion.weight
            if state.improved(metrics["val_macro_f1"], step):
                checkpoints.save_best(model, tokenizer, data, config, fusion)
            state.step, state.wall_seconds = step, wall()
            for cb in callbacks:
                cb.on_evaluate(step, epoch, state.wall_seconds, metrics)
            if config.resumable_checkpoints:
                path = checkpoints.save_resumable(model, optimizer, scheduler, state)
                for cb in callbacks:
                    cb.on_checkpoint(step, epoch, path)
        if distributed:
            dist.barrier(group=rank0_done)

    def patience_spent() -> bool:
        """Early stopping: as many evaluations in a row without a better validation F1 as the run allows.
        Rank 0 decides (it alone evaluates) and tells the others, so every rank stops at the same step."""
        if config.early_stopping_patience is None:
            return False
        spent = torch.tensor([float(state.evaluations_without_gain >= config.early_stopping_patience)],
                             device=device)
        if distributed:
            dist.broadcast(spent, src=0)
        return bool(spent.item())

    model.train()
    loss_sum = torch.zeros((), device=device)
    loss_count = 0
    stop = patience_spent()  # a resumed run may have spent its patience just before it was interrupted
    while step < total_steps and not stop:
        epoch = step // steps_per_epoch
        batches = epoch_batches(data.train, config, epoch, rank, world_size)
        for batch_indices in batches[step - epoch * steps_per_epoch:]:
            step_started = time.perf_counter()
            batch = next(iterate_batches(data.train.examples, [batch_indices], data.train.labels,
                                         data.train.bow, pad_id, data.train.embeddings)).to(device)
            with autocast(device, config):
                out = ddp_model(batch.input_ids, batch.attention_mask, batch.bow, batch.labels, batch.embedding)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += out.loss.detach()   # summed on the device: no sync inside the step
            loss_count += 1
            state.tokens += batch.real_tokens
            state.padded += batch.padded_tokens
            step += 1
            state.step_seconds += time.perf_counter() - step_started
            for cb in callbacks:
                cb.on_step(step, total_steps)
            at_epoch_end = step % steps_per_epoch == 0
            if at_epoch_end or (config.eval_every_steps and step % config.eval_every_steps == 0):
                evaluate_and_checkpoint(float(loss_sum) / max(loss_count, 1))
                loss_sum.zero_()
                loss_count = 0
                stop = patience_spent()
                if stop:
                    break
    if distributed:
        reduced = torch.tensor([state.tokens, state.padded], dtype=torch.float64, device=device)
        dist.all_reduce(reduced)
        state.tokens, state.padded = int(reduced[0]), int(reduced[1])

    result = None
    if main:
        checkpoints.load_best(model)
        best_folder = checkpoints.best.current()
        assert best_folder is not None  # load_best found it
        fusion = load_fusion(best_folder, config)  # the wide path as a loader reads it back
        state.step = step
        trained_seconds = wall()
        for cb in callbacks:
            cb.on_trained(trained_seconds)
        result = test_and_write(config, run_dir, model, data, device, pad_id, state, trained_seconds, callbacks,
                                fusion)
        for cb in callbacks:
            cb.on_end(result)
    if distributed:
        dist.barrier(group=rank0_done)
        dist.destroy_process_group()
    return result
