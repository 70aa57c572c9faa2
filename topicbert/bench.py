"""The side-by-side benchmark: every variant in one process, on one subset, split and seeds.

Ratios (speedup, energy saved, F1 retained) are taken against BERT-512 measured in the
same run, because absolute times on a shared machine drift from one run to the next.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from .batching import collate
from .callbacks import Callback
from .config import RunConfig
from .data import PreparedData, load_run_corpus, prepare_data
from .encoders import load_tokenizer
from .energy import EnergyMeter
from .hf_baseline import run_hf_trainer
from .train import Checkpoints, build_model, choose_device, epoch_batches, evaluate, make_optimizer, train

BASELINE = "bert-512"
HF_TRAINER = "hf-trainer-512"
DEFAULT_VARIANTS = "bert-512,topicbert-512,topicbert-256,topicbert-128,topicbert-128-partition"
DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "20news-bydate.zip"


# ablation suffixes: each switches one speed change off (or on) for a row of its own
SWITCHES = {"nogroup": {"length_grouping": False}, "compile": {"compile": True}}


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


class _StepClock(Callback):
    """Seconds between consecutive optimiser steps of train(): each step's whole cost after the first."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._last: Optional[float] = None

    def on_step(self, step: int, total_steps: int) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.seconds.append(now - self._last)
        self._last = now


def loop_overhead(config: RunConfig, data: PreparedData, pad_id: int, n_steps: int = 8, rounds: int = 3) -> dict:
    """Our trainer's seconds per step against a bare forward/backward/step over the same batches.

    Rounds alternate bare and ours; step i of one is paired with step i of the other (the
    same batch) and the overhead is the median of those ratios, so a burst of load from
    elsewhere on the machine spoils a few pairs, not the figure.
    """
    device = choose_device(config.device)
    one_epoch = config.replace(epochs=1, nvdm_pretrain_epochs=1, resumable_checkpoints=False, compile=False)
    few = config.eval_batch_size  # train()'s own evaluations are not timed: keep them short
    subset = replace(data, train=data.train.head(n_steps * config.batch_size),
                     validation=data.validation.head(few), test=data.test.head(few))
    batches = epoch_batches(subset.train, one_epoch, 0, 0, 1)
    train_split = subset.train
    collated = [collate([train_split.examples[i] for i in b], train_split.labels, train_split.bow, pad_id).to(device)
                for b in batches]

    def bare() -> list[float]:
        torch.manual_seed(config.seed)
        model = build_model(config, len(data.classes), len(data.vocabulary) if data.vocabulary else None).to(device)
        model.train()
        optimizer = make_optimizer(model, config)
        seconds = []
        for batch in collated:
            started = time.perf_counter()
            model(batch.input_ids, batch.attention_mask, batch.bow, batch.labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seconds.append(time.perf_counter() - started)
        return seconds[1:]  # the first step warms allocators up, as _StepClock leaves it out

    def ours() -> list[float]:
        clock = _StepClock()
        with tempfile.TemporaryDirectory() as tmp:
            train(one_epoch, Path(tmp), callbacks=[clock], data=subset)
        return clock.seconds

    ratios, bare_steps, our_steps = [], [], []
    for _ in range(rounds):
        bare_round, our_round = bare(), ours()
        ratios += [o / b for o, b in zip(our_round, bare_round)]
        bare_steps += bare_round
        our_steps += our_round
    return {"steps": len(ratios), "rounds": rounds, "ours_seconds_per_step": statistics.median(our_steps),
            "bare_seconds_per_step": statistics.median(bare_steps), "overhead": statistics.median(ratios) - 1}


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


def register_cli(commands) -> None:
    from .cli_options import add_corpus_options
    bench = commands.add_parser("bench", help="every variant side by side, with energy and speedups")
    bench.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="default: ../shared/data/20news-bydate.zip")
    add_corpus_options(bench)
    bench.add_argument("--variants", default=DEFAULT_VARIANTS,
                       help="comma-separated, like bert-512,topicbert-128-partition; a suffix +nogroup "
                            "(random instead of length-grouped batches) or +compile (torch.compile) "
                            "adds an ablation row")
    bench.add_argument("--epochs", type=int, default=1)
    bench.add_argument("--seeds", type=int, default=1)
    bench.add_argument("--limit-train", type=int, default=None)
    bench.add_argument("--limit-eval", type=int, default=None)
    bench.add_argument("--lr", type=float, default=RunConfig(corpus="").lr)
    bench.add_argument("--batch-size", type=int, default=RunConfig(corpus="").batch_size)
    bench.add_argument("--model", default="default")
    bench.add_argument("--device", default="auto")
    bench.add_argument("--hf-trainer", action="store_true", help="add the Hugging Face Trainer row")
    bench.add_argument("--json", dest="json_file", default=None, help="write everything to this file")
    bench.add_argument("--plot", default=None, help="PNG of F1 against kWh with the Pareto front")
    bench.set_defaults(handler=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    base = RunConfig(corpus=args.corpus, text_col=args.text_col, label_col=args.label_col,
                     split_col=args.split_col, lr=args.lr, batch_size=args.batch_size, model=args.model,
                     device=args.device)
    report = run_bench(args.corpus, args.variants.split(","), args.epochs, args.seeds, args.limit_train,
                       args.limit_eval, args.hf_trainer, base)
    print(markdown_table(report["rows"]))
    if report["loop_overhead"]:
        o = report["loop_overhead"]
        print(f"\nloop overhead: {o['overhead']:+.1%}, median of {o['steps']} paired steps over {o['rounds']} "
              f"rounds ({o['ours_seconds_per_step']:.3f} s/step ours, {o['bare_seconds_per_step']:.3f} s/step bare)")
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(report, indent=1))
    if args.plot:
        from .bench_plot import save_pareto_png
        save_pareto_png(report["rows"], Path(args.plot), title=Path(args.corpus).name)
    return 0
