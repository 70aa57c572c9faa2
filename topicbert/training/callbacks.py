"""How training reports progress: hooks a caller overrides (as minGPT's trainer does)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import TrainResult


class Callback:
    """All hooks do nothing; subclass and override the ones you need."""

    def on_phase(self, name: str) -> None:
        """Before the first step, as each part of the setup ends, in this order: "tokenizer", "corpus" (read),
        "word_pieces" (cached), "splits" (prepared), "embeddings" (CombinedTM's, computed or read back),
        "tfidf_fusion" (the wide path's reference fitted), "model" (built), "pretraining" (the topic model's,
        pretrained or reused). A part the run does not do (data handed in, no embeddings, a resumed run that
        does not pretrain) sends no event. No time is passed: a caller reads its own clock, so the parts add
        up to the setup (benchmarks/fixed_cost.py)."""

    def on_start(self, info: dict[str, Any]) -> None:
        """info: device, n_train, n_val, n_test, total_steps, steps_per_epoch, start_step, start_epoch, classes,
        world_size, fixed_seconds (this attempt's seconds before its first step: loading, pretraining)."""

    def on_pretrained(self, wall_seconds: float) -> None:
        """Right after on_start, when this attempt pretrained the topic model: pretraining ended
        `wall_seconds` into the run (a run resumed from a checkpoint does not pretrain again)."""

    def on_step(self, step: int, total_steps: int) -> None:
        """After each optimiser step. Cheap: no loss is passed, so the device is never synchronised."""

    def on_evaluate(self, step: int, epoch: float, wall_seconds: float, metrics: dict[str, float]) -> None:
        """After each evaluation on the validation split."""

    def on_checkpoint(self, step: int, epoch: float, path: Path) -> None:
        """A resumable checkpoint was written."""

    def on_trained(self, wall_seconds: float) -> None:
        """Training is over and the best model chosen; the test evaluation comes next. What a run
        costs to train (train_seconds, and the benchmark's energy) is measured up to here."""

    def on_tested(self, n_docs: int) -> None:
        """The best model has classified the `n_docs` test documents; their result files come next.
        What using the model costs is measured from on_trained to here."""

    def on_end(self, result: TrainResult) -> None:
        """Training and the test evaluation are done."""


def phase_done(callbacks: Sequence[Callback], name: str) -> None:
    """Tell each callback that the setup's part `name` ended (Callback.on_phase)."""
    for cb in callbacks:
        cb.on_phase(name)


class ProgressBar(Callback):
    """A tqdm bar on standard error for the command line."""

    def __init__(self) -> None:
        self._bar = None

    def on_start(self, info: dict[str, Any]) -> None:
        from tqdm import tqdm
        self._bar = tqdm(total=info["total_steps"], initial=info["start_step"], unit="step",
                         desc=f"training on {info['device']}")

    def on_step(self, step: int, total_steps: int) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_evaluate(self, step: int, epoch: float, wall_seconds: float, metrics: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix(epoch=f"{epoch:.2f}", val_f1=f"{metrics['val_macro_f1']:.3f}")

    def on_end(self, result: TrainResult) -> None:
        if self._bar is not None:
            self._bar.close()
