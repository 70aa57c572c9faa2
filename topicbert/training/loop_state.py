"""Where a training loop stands: what its resumable checkpoint keeps and what the run's results report."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass
class LoopState:
    step: int = 0                       # optimiser steps taken, over every attempt
    wall_seconds: float = 0.0           # training time over every attempt, up to the last evaluation
    step_seconds: float = 0.0           # of which inside optimiser steps
    best_val_macro_f1: float = -1.0     # the best validation F1 so far (-1: none evaluated yet)
    best_step: int = 0                  # the step of the kept (best) model
    tokens: int = 0                     # real word pieces fed to the encoder
    padded: int = 0                     # padding pieces fed beside them
    evaluations_without_gain: int = 0   # in a row, for early stopping
    embedding_seconds: float | None = None  # the documents' embeddings for CombinedTM, when computed on the clock
    topic_model_fitted_by: str | None = None  # the folder of the earlier run whose pretrained topic model it loaded

    def improved(self, val_macro_f1: float, step: int) -> bool:
        """Counts an evaluation: True (and the new best) when it beats every earlier one."""
        if val_macro_f1 > self.best_val_macro_f1:
            self.best_val_macro_f1, self.best_step, self.evaluations_without_gain = val_macro_f1, step, 0
            return True
        self.evaluations_without_gain += 1
        return False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoopState:
        """A checkpoint's state; one written before a field existed reads that field's default."""
        saved = json.loads(text)
        return cls(**{f.name: saved[f.name] for f in dataclasses.fields(cls) if f.name in saved})
