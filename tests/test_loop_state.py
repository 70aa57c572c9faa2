"""The loop's state: what a resumable checkpoint keeps, read back whole, and early stopping's count."""
from __future__ import annotations

import json

import torch

from topicbert.training.checkpoints import Checkpoints
from topicbert.training.loop import build_model, make_optimizer
from topicbert.training.loop_state import LoopState


def test_a_checkpoint_gives_back_the_state_it_kept(tiny_config, tmp_path):
    config = tiny_config.replace(variant="bert")
    model = build_model(config, 2, None)
    optimizer = make_optimizer(model, config, torch.device("cpu"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    kept = LoopState(step=12, wall_seconds=3.5, step_seconds=2.25, best_val_macro_f1=0.8, best_step=8, tokens=900,
                     padded=100, evaluations_without_gain=1, embedding_seconds=0.5)
    checkpoints = Checkpoints(tmp_path)
    checkpoints.save_resumable(model, optimizer, scheduler, kept)
    assert checkpoints.load_resumable(model, optimizer, scheduler) == kept


def test_a_checkpoint_from_before_a_field_existed_reads_its_default():
    older = json.dumps({"step": 30, "wall_seconds": 9.0, "step_seconds": 7.0, "best_val_macro_f1": 0.7,
                        "best_step": 20, "tokens": 5000, "padded": 300})
    state = LoopState.from_json(older)
    assert (state.step, state.best_step, state.evaluations_without_gain, state.embedding_seconds) == (30, 20, 0, None)


def test_only_a_better_f1_resets_the_count_of_evaluations_without_gain():
    state = LoopState()
    assert [state.improved(f1, step) for step, f1 in enumerate((0.3, 0.85, 0.85, 0.8, 0.86), 1)] == \
        [True, True, False, False, True]
    assert (state.best_val_macro_f1, state.best_step, state.evaluations_without_gain) == (0.86, 5, 0)
    state.improved(0.5, 6)
    assert state.evaluations_without_gain == 1
