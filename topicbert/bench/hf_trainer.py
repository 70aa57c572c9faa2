"""The benchmark's reference recipe: what a user would do without the Studio.

Hugging Face `Trainer` with `AutoModelForSequenceClassification`, `DataCollatorWithPadding`
and the library's defaults, on the same encoder, documents, epochs, learning rate and
batch size as our BERT-512 row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import RunConfig
from ..data.corpus import Corpus
from ..model.encoders import load_tokenizer, resolve_model
from ..training.metrics import macro_f1


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, encodings: dict, labels: np.ndarray) -> None:
        self.encodings, self.labels = encodings, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {key: values[i] for key, values in self.encodings.items()}
        item["labels"] = int(self.labels[i])
        return item


def run_hf_trainer(config: RunConfig, corpus: Corpus, work_dir: Path, metered: Callable) -> dict:
    """The fields of one benchmark measurement; `metered(fn)` gives (value, seconds, energy reading)."""
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )
    from transformers.utils import logging as transformers_logging

    tokenizer = load_tokenizer(config.model)
    class_id = {name: i for i, name in enumerate(corpus.classes)}

    def split(name: str) -> _Encoded:
        index = corpus.indices(name)
        encodings = tokenizer([corpus.texts[i] for i in index], truncation=True, max_length=config.max_len)
        return _Encoded(dict(encodings), np.array([class_id[corpus.labels[i]] for i in index]))

    train_set, test_set = split("train"), split("test")
    torch.manual_seed(config.seed)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # the new classifier's "missing keys" report is expected
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            resolve_model(config.model), num_labels=len(class_id), local_files_only=True)
    finally:
        transformers_logging.set_verbosity(verbosity)
    args = TrainingArguments(
        output_dir=str(work_dir), num_train_epochs=config.epochs, learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.eval_batch_size,
        seed=config.seed, save_strategy="no", eval_strategy="no", logging_strategy="no", report_to=[],
        disable_tqdm=True, use_cpu=config.device == "cpu")
    trainer = Trainer(model=model, args=args, train_dataset=train_set,
                      data_collator=DataCollatorWithPadding(tokenizer))
    trainer.remove_callback(PrinterCallback)  # keep the benchmark's output to its own table
    _, train_seconds, reading = metered(trainer.train)
    prediction, infer_seconds, inference = metered(lambda: trainer.predict(test_set))
    predicted = prediction.predictions.argmax(axis=1)
    tokens = sum(len(ids) for ids in train_set.encodings["input_ids"]) * config.epochs
    steps = int(np.ceil(len(train_set) / config.batch_size)) * config.epochs
    return dict(
        test_macro_f1=macro_f1(test_set.labels, predicted), train_seconds=train_seconds,
        step_seconds=train_seconds, steps=steps, tokens_processed=tokens,
        padded_fraction=float("nan"),  # the Trainer's own batches are not visible from outside
        kwh=reading.kwh, kg_co2e=reading.kg_co2e, measured=reading.measured,
        inference_docs_per_second=len(test_set) / infer_seconds,
        inference_kwh_per_1000_docs=inference.kwh / len(test_set) * 1000)
