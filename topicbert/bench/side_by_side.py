"""The side-by-side benchmark: every variant in one process, on one subset, split and seeds.

Ratios (speedup, energy saved, F1 retained) are taken against BERT-512 measured in the
same run, because absolute times on a shared machine drift from one run to the next.
"""
from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from ..config import TOPIC_MODELS, RunConfig
from ..data.splits import PreparedData, load_run_corpus, prepare_data
from ..energy.meter import EnergyMeter
from ..model.encoders import load_tokenizer
from ..training.checkpoints import Checkpoints
from ..training.device import choose_device
from ..training.evaluation import evaluate
from ..training.loop import build_model, epoch_batches, train
from .hf_trainer import run_hf_trainer
from .overhead import loop_overhead

BASELINE = "bert-512"
HF_TRAINER = "hf-trainer-512"
DEFAULT_VARIANTS = "bert-512,topicbert-512,topicbert-256,topicbert-128,topicbert-128-partition"
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "20news-bydate.zip"


# ablation suffixes: each switches one speed change off (or on) for a row of its own
# (and +nvdm / +prodlda choose the topic model of a TopicBERT row)
SWITCHES = {"nogroup": {"length_grouping": False}, "compile": {"compile": True},
            **{name: {"topic_model": name} for name in TOPIC_MODELS}}


def parse_variant(name: str) -> dict:
    """'topicbert-128-partition' -> {variant: topicbert, max_len: 128, mode: partition};
    'bert-512+nogroup' adds {length_grouping: False}."""
    base, *switches = name.strip().lower().split("+")
    parts = base.split("-")
    if len(parts) not in (2, 3) or parts[0] not in ("bert", "topicbert") or not parts[1].isdigit():
        raise ValueError(f"variant {name!r} is not like bert-512 or topicbert-128[-partition][+switch]")
    unknown = [s for s in switches if s not in SWITCHES]
    if unknown:
        raise ValueError(f"variant {name!r}: unknown switch {unknown[0]!r}; known: {', '.join(SWITCHES)}")
    settings = {"variant": parts[0], "max_len": int(parts[1]), "mode": parts[2] if len(parts) == 3 else "truncate"}
    for switch in switches:
        settings.update(SWITCHES[switch])
    return settings


@dataclass
class Measurement:
    """One variant, one seed."""
    test_macro_f1: float
    train_seconds: float
    step_seconds: float
    steps: int
    tokens_processed: int
    padded_fraction: float
    kwh: float
    kg_co2e: float
    measured: str
    inference_docs_per_second: float
    inference_kwh_per_1000_docs: float


@dataclass(frozen=True)
class Energy:
    kwh: float
    kg_co2e: float
    measured: str


def _metered(fn: Callable[[], object]) -> tuple[object, float, Energy]:
    """fn's value, its wall seconds and its energy; NaN energy if the tracker failed (it is logged)."""
    meter = EnergyMeter()
    meter.start()
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    reading = meter.stop()
    if reading is None:
        return value, seconds, Energy(float("nan"), float("nan"), "energy tracker failed")
    return value, seconds, Energy(reading.kwh, reading.kg_co2e, reading.measured)


def measure_variant(config: RunConfig, data: PreparedData, work_dir: Path, pad_id: int) -> Measurement:
    result, _, reading = _metered(lambda: train(config, work_dir, data=data))
    # inference on the test split with the best model, metered on its own
    device = choose_device(config.device)
    model = build_model(config, len(data.classes), len(data.vocabulary) if data.vocabulary else None)
    Checkpoints(work_dir).load_best(model)
    model.to(device)
    _, seconds, inference = _metered(lambda: evaluate(model, data.test, config, device, pad_id))
    steps = config.epochs * len(epoch_batches(data.train, config, 0, 0, 1))
    return Measurement(
        test_macro_f1=result.test_macro_f1, train_seconds=result.train_seconds, step_seconds=result.step_seconds,
        steps=steps, tokens_processed=result.tokens_processed, padded_fraction=result.padded_fraction,
        kwh=reading.kwh, kg_co2e=reading.kg_co2e, measured=reading.measured,
        inference_docs_per_second=len(data.test) / seconds,
        inference_kwh_per_1000_docs=inference.kwh / len(data.test) * 1000)


def _progress(name: str, seed: int, m: Measurement) -> None:
    """One line per finished variant on standard error: a long benchmark shows where it is."""
    print(f"[bench] {name} seed {seed}: test macro-F1 {m.test_macro_f1:.4f}, {m.train_seconds:.0f} s, "
          f"{m.kwh:.3g} kWh", file=sys.stderr, flush=True)


def summarize_rows(names: Sequence[str], per_seed: dict[str, list[Measurement]]) -> list[dict]:
    base = per_seed[BASELINE]
    base_f1 = statistics.mean(m.test_macro_f1 for m in base)
    base_seconds = statistics.mean(m.train_seconds for m in base)
    base_kwh = statistics.mean(m.kwh for m in base)
    rows = []
    for name in names:
        runs = per_seed[name]
        f1s = [m.test_macro_f1 for m in runs]
        mean = lambda attr: statistics.mean(getattr(m, attr) for m in runs)  # noqa: E731
        rows.append({
            "name": name, "test_macro_f1": statistics.mean(f1s),
            "test_macro_f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
            "f1_retained": statistics.mean(f1s) / base_f1 if base_f1 else float("nan"),
            "train_seconds": mean("train_seconds"), "step_seconds": mean("step_seconds"),
            "tokens_processed": mean("tokens_processed"), "padded_fraction": mean("padded_fraction"),
            "speedup": base_seconds / mean("train_seconds"),
            "kwh": mean("kwh"), "kg_co2e": mean("kg_co2e"),
            "energy_saved": 1 - mean("kwh") / base_kwh if base_kwh else float("nan"),
            "inference_docs_per_second": mean("inference_docs_per_second"),
            "inference_kwh_per_1000_docs": mean("inference_kwh_per_1000_docs"),
            "measured": runs[0].measured, "seeds": len(runs)})
    return rows


def markdown_table(rows: list[dict]) -> str:
    header = ("| variant | test macro-F1 | F1 retained | train s | step s | speedup | tokens | padded | kWh "
              "| kg CO2e | energy saved | infer docs/s | kWh / 1k docs |")
    lines = [header, "|" + " --- |" * 13]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['test_macro_f1']:.4f} ± {r['test_macro_f1_std']:.4f} | {r['f1_retained']:.1%} "
            f"| {r['train_seconds']:.0f} | {r['step_seconds']:.0f} | {r['speedup']:.2f}x | {r['tokens_processed']:,.0f} "
            f"| {r['padded_fraction']:.1%} | {r['kwh']:.3g} | {r['kg_co2e']:.3g} | {r['energy_saved']:.1%} "
            f"| {r['inference_docs_per_second']:.1f} | {r['inference_kwh_per_1000_docs']:.3g} |")
    return "\n".join(lines)


def report_text(report: dict) -> str:
    """The table and the loop's overhead, as the command prints them."""
    text = markdown_table(report["rows"])
    o = report["loop_overhead"]
    if o:
        text += (f"\n\nloop overhead: {o['overhead']:+.1%}, median of {o['steps']} paired steps over {o['rounds']} "
                 f"rounds ({o['ours_seconds_per_step']:.3f} s/step ours, {o['bare_seconds_per_step']:.3f} s/step bare)")
    return text


def run_bench(corpus_path: str, variants: Sequence[str], epochs: int, seeds: int, limit_train: Optional[int],
              limit_eval: Optional[int], hf_trainer: bool, base: RunConfig) -> dict:
    names = list(dict.fromkeys([BASELINE, *[v.strip() for v in variants if v.strip()]]))
    per_seed: dict[str, list[Measurement]] = {name: [] for name in names}
    tokenizer = load_tokenizer(base.model)
    pad_id = tokenizer.pad_token_id or 0
    overhead = None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(base.seed, base.seed + seeds):
            # nothing here is ever resumed: no row pays for writing resumable checkpoints
            seeded = base.replace(corpus=corpus_path, epochs=epochs, seed=seed, limit_train=limit_train,
                                  limit_eval=limit_eval, resumable_checkpoints=False)
            corpus = load_run_corpus(seeded)
            for name in names:
                config = seeded.replace(**parse_variant(name))
                data = prepare_data(config, tokenizer, corpus)
                per_seed[name].append(measure_variant(config, data, Path(tmp) / f"{name}-{seed}", pad_id))
                _progress(name, seed, per_seed[name][-1])
                if name == BASELINE and overhead is None:
                    overhead = loop_overhead(config, data, pad_id)
            if hf_trainer:
                per_seed.setdefault(HF_TRAINER, []).append(Measurement(**run_hf_trainer(
                    seeded.replace(**parse_variant(BASELINE)), corpus, Path(tmp) / f"hf-{seed}", _metered)))
                _progress(HF_TRAINER, seed, per_seed[HF_TRAINER][-1])
    if hf_trainer:
        names.append(HF_TRAINER)
    rows = summarize_rows(names, per_seed)
    return {"corpus": corpus_path, "epochs": epochs, "seeds": seeds, "limit_train": limit_train,
            "limit_eval": limit_eval, "config": base.to_dict(), "machine": machine_description(),
            "rows": rows, "loop_overhead": overhead}


def machine_description() -> str:
    device = choose_device("auto")
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), torch {torch.__version__}"
    return f"{_cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def _cpu_model() -> str:
    """The CPU's marketing name where Linux tells it, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine() + " CPU"
