"""The benchmark's reference recipe: what a user would do without the Studio.

Hugging Face `Trainer` with `AutoModelForSequenceClassification`, `DataCollatorWithPadding`
and the library's defaults, on the same encoder, documents, epochs, learning rate, batch size
and precision as our BERT-512 row, choosing its best epoch on validation macro-F1 as ours does
(and stopping early with the same patience). RECIPE says what still differs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig
from ..data.corpus import Corpus
from ..model.encoders import load_tokenizer, resolve_model
from ..training.device import choose_device, uses_bf16
from ..training.metrics import macro_f1
from .measurement import Measurement, metered

RECIPE = ("the Hugging Face Trainer's defaults where they differ from ours: attention dropout 0.1 (ours 0), "
          "random batches (ours length-grouped), no warmup (ours 10%), weight decay 0 (ours 0.01), the new "
          "classifier at the encoder's learning rate (ours 1e-3) behind a tanh pooler (ours a GELU layer); "
          "the same encoder, documents, epochs, batch size, encoder learning rate, precision, per-epoch "
          "validation and best-epoch choice")


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, encodings: dict, labels: np.ndarray) -> None:
        self.encodings, self.labels = encodings, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {key: values[i] for key, values in self.encodings.items()}
        item["labels"] = int(self.labels[i])
        return item


def run_hf_trainer(config: RunConfig, corpus: Corpus, work_dir: Path) -> Measurement:
    """One measurement over the same scope as ours: loading the model, training with its per-epoch
    validation and reloading the best epoch; the test predictions metered apart."""
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        EvalPrediction,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )
    from transformers.utils import logging as transformers_logging

    tokenizer = load_tokenizer(config.model)
    class_id = {name: i for i, name in enumerate(corpus.classes)}

    def split(name: str) -> _Encoded:
        index = corpus.indices(name)
        encodings = tokenizer([corpus.texts[i] for i in index], truncation=True, max_length=config.max_len)
        return _Encoded(dict(encodings), np.array([class_id[corpus.labels[i]] for i in index]))

    train_set, validation_set, test_set = split("train"), split("validation"), split("test")
    device = choose_device(config.device)
    args = TrainingArguments(
        output_dir=str(work_dir), num_train_epochs=config.epochs, learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.eval_batch_size,
        seed=config.seed, eval_strategy="epoch", save_strategy="epoch", save_only_model=True,
        save_total_limit=1, load_best_model_at_end=True, metric_for_best_model="macro_f1",
        greater_is_better=True, logging_strategy="no", report_to=[], disable_tqdm=True,
        bf16=uses_bf16(device, config), use_cpu=device.type == "cpu")

    def validation_f1(prediction: EvalPrediction) -> dict:
        # one label and one row of logits a document: arrays, not the tuples of a model with several outputs
        labels, logits = np.asarray(prediction.label_ids), np.asarray(prediction.predictions)
        return {"macro_f1": macro_f1(labels, logits.argmax(axis=1))}

    def load_and_train() -> Trainer:
        torch.manual_seed(config.seed)
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()  # the new classifier's "missing keys" report is expected
        try:
            model = AutoModelForSequenceClassification.from_pretrained(
                resolve_model(config.model), num_labels=len(class_id), local_files_only=True)
        finally:
            transformers_logging.set_verbosity(verbosity)
        stopping: list[TrainerCallback] = (
            [EarlyStoppingCallback(config.early_stopping_patience)] if config.early_stopping_patience else [])
        trainer = Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=validation_set,
                          data_collator=DataCollatorWithPadding(tokenizer), compute_metrics=validation_f1,
                          callbacks=stopping)
        trainer.remove_callback(PrinterCallback)  # keep the benchmark's output to its own table
        trainer.train()
        return trainer

    trainer, train_seconds, energy = metered(load_and_train)
    prediction, infer_seconds, inference = metered(lambda: trainer.predict(test_set))
    logits = prediction.predictions
    assert isinstance(logits, np.ndarray)  # the classifier's logits alone: no hidden states or attentions asked for
    predicted = logits.argmax(axis=1)
    tokens_per_epoch = sum(len(ids) for ids in train_set.encodings["input_ids"])
    return Measurement(
        seed=config.seed, test_macro_f1=macro_f1(test_set.labels, predicted), train_seconds=train_seconds,
        step_seconds=train_seconds, steps=trainer.state.global_step,
        tokens_processed=int(tokens_per_epoch * trainer.state.epoch),  # epochs done: early stopping may cut
        padded_fraction=float("nan"),  # the Trainer's own batches are not visible from outside
        kwh=energy.kwh, kg_co2e=energy.kg_co2e, measured=energy.measured,
        inference_docs_per_second=len(test_set) / infer_seconds,
        inference_kwh_per_1000_docs=inference.kwh / len(test_set) * 1000,
        labels=test_set.labels, predictions=predicted)
