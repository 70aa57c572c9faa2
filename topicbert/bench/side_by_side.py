"""The side-by-side benchmark: every variant in one process, on one subset, split and seeds.

Ratios (speedup, energy saved, F1 retained) are taken against BERT-512 measured in the
same run, because absolute times on a shared machine drift from one run to the next.
Every F1 carries a 95% bootstrap interval over the test documents (paired for F1 retained
and for differences); with several seeds, the spread over seeds too.
"""
from __future__ import annotations

import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig
from ..data.splits import PreparedData, load_run_corpus, prepare_data
from ..energy.meter import EnergyMeter
from ..model.encoders import encoder_dimensions, load_tokenizer
from ..stats.time_to_accuracy import DEFAULT_TARGET
from ..training.device import choose_device, cpu_info, uses_bf16
from ..training.loop import epoch_batches, train
from .flops import training_flops
from .hf_trainer import RECIPE as HF_RECIPE
from .hf_trainer import run_hf_trainer
from .measurement import Measurement, Stopwatch
from .overhead import loop_overhead
from .summary import summarize_rows
from .variants import BASELINE, HF_TRAINER, TFIDF, parse_variant

TFIDF_RECIPE = ("TF-IDF of word 1-2-grams (sublinear tf) and a linear SVM, its C chosen on validation macro-F1; "
                "no encoder, on the CPU whatever the device: tokens, padding and model FLOPs do not apply")
SCOPE = ("train s and kWh cover training as a user waits for it: loading the model, topic-model pretraining "
         "(TopicBERT), every optimiser step, the validation evaluation after each epoch and keeping the best "
         "epoch (the Trainer row: its model loading and trainer.train() with the same per-epoch validation; "
         "TF-IDF: fitting and choosing C). The infer columns meter the test pass apart: classifying the test "
         "documents with the best model, and nothing after it (no result files, topic scores or intervals), "
         "the same scope for every row.")


@dataclass(frozen=True)
class BenchPlan:
    """What one benchmark run measures. `base` holds the settings every row shares (encoder, optimiser,
    device, precision, patience, first seed)."""
    corpus: str
    variants: Sequence[str]
    epochs: int
    seeds: int
    limit_train: int | None
    limit_eval: int | None
    hf_trainer: bool
    base: RunConfig
    # seconds the whole benchmark may take: a second or later seed of a row starts only if it fits
    time_budget: float | None = None
    peak_tflops: float | None = None      # the device's peak, for model FLOPs utilisation
    target: float = DEFAULT_TARGET           # time to accuracy: this share of BERT-512's best validation F1
    # BERT-512 by seed, measured by an earlier bench of this setting on this machine (merge.baseline_from):
    # its seeds are read, not trained again, and `baseline_source` names the file in the JSON
    baseline: dict[int, Measurement] = field(default_factory=dict)
    baseline_overhead: dict | None = None
    baseline_source: str | None = None

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([BASELINE, *[v.strip() for v in self.variants if v.strip()]]))


def step_shapes(config: RunConfig, data: PreparedData, steps: int) -> list[tuple[int, int]]:
    """(rows, width) of the first `steps` training batches, as train() drew them."""
    shapes: list[tuple[int, int]] = []
    lengths = data.train.example_lengths
    for epoch in range(config.epochs):
        for batch in epoch_batches(data.train, config, epoch, 0, 1):
            if len(shapes) == steps:
                return shapes
            shapes.append((len(batch), max(lengths[i] for i in batch)))
    return shapes


def measure_variant(config: RunConfig, data: PreparedData, work_dir: Path, pad_id: int) -> Measurement:
    """One row, one seed: training and its test pass metered apart in one train() call."""
    meter = EnergyMeter()
    meter.start()
    watch = Stopwatch(meter)
    result = train(config, work_dir, [watch], data=data)
    meter.stop()
    assert result is not None  # the bench trains in one process: rank 0
    energy = watch.training
    test_seconds, test_energy = watch.test_pass()
    with np.load(work_dir / "test_predictions.npz") as saved:
        predictions = saved["probabilities"].argmax(axis=1)
    flops = None
    if config.uses_encoder:
        layers, hidden, intermediate = encoder_dimensions(config.model)
        flops = training_flops(step_shapes(config, data, result.steps), layers, hidden, intermediate)
    return Measurement(
        seed=config.seed, test_macro_f1=result.test_macro_f1, train_seconds=result.train_seconds,
        step_seconds=result.step_seconds, steps=result.steps, tokens_processed=result.tokens_processed,
        padded_fraction=result.padded_fraction, kwh=energy.kwh, kg_co2e=energy.kg_co2e, measured=energy.measured,
        inference_docs_per_second=len(data.test) / test_seconds,
        inference_kwh_per_1000_docs=test_energy.kwh / len(data.test) * 1000,
        labels=data.test.labels, predictions=predictions, train_flops=flops,
        best_step=result.best_step if config.uses_encoder else None, fixed_seconds=watch.fixed_seconds,
        evaluations=watch.evaluations)


def _progress(name: str, m: Measurement) -> None:
    """One line per finished variant on standard error: a long benchmark shows where it is."""
    print(f"[bench] {name} seed {m.seed}: test macro-F1 {m.test_macro_f1:.4f}, {m.train_seconds:.0f} s, "
          f"{m.kwh:.3g} kWh", file=sys.stderr, flush=True)


def run_bench(plan: BenchPlan, on_update: Callable[[dict], None] | None = None) -> dict:
    """Every row for every seed (seed by seed); `on_update` gets the report so far after each row."""
    started = time.monotonic()
    names = plan.names + ([HF_TRAINER] if plan.hf_trainer else [])
    per_seed: dict[str, list[Measurement]] = {name: [] for name in names}
    tokenizer = load_tokenizer(plan.base.model)
    pad_id = tokenizer.pad_token_id or 0
    overhead = plan.baseline_overhead
    setting = {**bench_setting(plan), **({"baseline_from": plan.baseline_source} if plan.baseline_source else {})}

    def report(partial: bool) -> dict:
        return bench_report(setting, names, per_seed, overhead, plan.peak_tflops, partial, plan.target)

    def fits(name: str, first_seed: bool) -> bool:
        """A first seed always runs; a later one only if the row's first took less than the time left."""
        if first_seed or plan.time_budget is None:
            return True
        left = plan.time_budget - (time.monotonic() - started)
        return per_seed[name][0].train_seconds * 1.2 < left

    def record(name: str, measurement: Measurement) -> None:
        per_seed[name].append(measurement)
        _progress(name, measurement)
        if on_update is not None:
            on_update(report(partial=True))

    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(plan.base.seed, plan.base.seed + plan.seeds):
            # nothing here is ever resumed: no row pays for writing resumable checkpoints; every row pays for
            # its documents' embeddings (CombinedTM) and its topic model's pretraining, as a first run does,
            # rather than read an earlier row's
            seeded = plan.base.replace(corpus=plan.corpus, epochs=plan.epochs, seed=seed,
                                       limit_train=plan.limit_train, limit_eval=plan.limit_eval,
                                       resumable_checkpoints=False, embedding_cache=False,
                                       topic_model_cache=False)
            corpus = load_run_corpus(seeded)
            first = seed == plan.base.seed
            for name in plan.names:
                if name == BASELINE and seed in plan.baseline:
                    record(name, plan.baseline[seed])
                    continue
                if not fits(name, first):
                    continue
                config = seeded.replace(**parse_variant(name))
                data = prepare_data(config, tokenizer, corpus)
                record(name, measure_variant(config, data, Path(tmp) / f"{name}-{seed}", pad_id))
                if name == BASELINE and overhead is None:
                    overhead = loop_overhead(config, data, pad_id)
            if plan.hf_trainer and fits(HF_TRAINER, first):
                record(HF_TRAINER, run_hf_trainer(seeded.replace(**parse_variant(BASELINE)), corpus,
                                                  Path(tmp) / f"hf-{seed}"))
    return report(partial=False)


def bench_setting(plan: BenchPlan) -> dict:
    """What the bench's JSON records of how it ran: corpus, epochs, seeds, limits, shared settings, machine."""
    return {"corpus": plan.corpus, "epochs": plan.epochs, "seeds": plan.seeds, "limit_train": plan.limit_train,
            "limit_eval": plan.limit_eval, "config": plan.base.to_dict(), "machine": machine_description(plan.base)}


# what a bench's JSON records of how it ran, besides its seeds: runs that agree on these can be merged
SETTING_KEYS = ("corpus", "epochs", "limit_train", "limit_eval", "config", "machine")


def bench_report(setting: dict, names: Sequence[str], per_seed: dict[str, list[Measurement]],
                 overhead: dict | None, peak_tflops: float | None, partial: bool,
                 target: float = DEFAULT_TARGET) -> dict:
    """The bench's JSON: its setting (corpus, epochs, seeds, limits, config, machine), the rows with their
    intervals, verdicts' figures and time to `target` of the baseline's best validation F1, and every measurement
    with its test predictions and validation curve, for a later merge."""
    names = [n for n in names if per_seed.get(n)]
    return {**setting, "scope": SCOPE, "recipes": {HF_TRAINER: HF_RECIPE, TFIDF: TFIDF_RECIPE},
            "baseline": BASELINE, "target": target,
            "rows": summarize_rows(names, per_seed, BASELINE, peak_tflops, target),
            "loop_overhead": overhead, "peak_tflops": peak_tflops, "partial": partial,
            "measurements": {n: [m.to_record() for m in per_seed[n]] for n in names}}


def machine_description(config: RunConfig) -> str:
    """The device and the precision the rows ran in (an ablation suffix may change the latter)."""
    device = choose_device(config.device)
    precision = "bf16 autocast" if uses_bf16(device, config) else "float32"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), {precision}, torch {torch.__version__}"
    # the kernels torch and MKL pick follow the instruction set: runs on another CPU round differently
    return (f"{_cpu_model()} ({torch.backends.cpu.get_cpu_capability()} kernels), {torch.get_num_threads()} threads, "
            f"{precision}, torch {torch.__version__}")


def _cpu_model() -> str:
    """The CPU's marketing name where Linux tells it, else the architecture."""
    return cpu_info().get("model name") or platform.machine() + " CPU"
