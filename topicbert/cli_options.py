"""The run options shared by `train`, `submit` and `bench`, and the RunConfig they make."""
from __future__ import annotations

import argparse

from .config import MODES, VARIANTS, RunConfig


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="column holding the document text")
    parser.add_argument("--label-col", default="label", help="column holding the class label")
    parser.add_argument("--split-col", default=None, help="column holding train/validation/test")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    defaults = RunConfig(corpus="")
    parser.add_argument("--corpus", required=True, help="CSV, TSV, JSONL, ZIP or folder")
    add_corpus_options(parser)
    parser.add_argument("--variant", choices=VARIANTS, default=defaults.variant)
    parser.add_argument("--max-len", type=int, default=defaults.max_len, help="word pieces the encoder sees (32-512)")
    parser.add_argument("--mode", choices=MODES, default=defaults.mode)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="encoder learning rate")
    parser.add_argument("--n-topics", type=int, default=defaults.n_topics)
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--limit-train", type=int, default=None, help="stratified subset of training documents")
    parser.add_argument("--limit-eval", type=int, default=None, help="stratified subset of validation and of test")
    parser.add_argument("--eval-every", type=int, default=None, help="also evaluate every N steps")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--model", default="default", help="'default', a Hugging Face id in the cache, or a folder")
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, cuda or mps")
    parser.add_argument("--nproc", type=int, default=defaults.nproc, help="processes (torchrun) for one run")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        corpus=args.corpus, text_col=args.text_col, label_col=args.label_col, split_col=args.split_col,
        variant=args.variant, max_len=args.max_len, mode=args.mode, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, n_topics=args.n_topics, alpha=args.alpha,
        limit_train=args.limit_train, limit_eval=args.limit_eval, eval_every_steps=args.eval_every,
        seed=args.seed, model=args.model, device=args.device, nproc=args.nproc)
