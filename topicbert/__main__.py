"""The command line: python -m topicbert {corpus check, train, submit, worker, status, cancel, resume, bench}."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from . import bench, services
from .cli_options import add_corpus_options, add_run_options, config_from_args
from .config import ConfigError
from .corpus import CorpusError, format_summary, load_corpus, summarize
from .encoders import ModelNotFoundError

USER_ERRORS = (CorpusError, ConfigError, ModelNotFoundError)


def cmd_corpus_check(args: argparse.Namespace) -> int:
    from .batching import tokenize
    from .encoders import load_tokenizer

    corpus = load_corpus(args.path, args.text_col, args.label_col, args.split_col)
    tokenizer = load_tokenizer(args.model)
    summary = summarize(corpus, lambda texts: [len(ids) for ids in tokenize(tokenizer, texts)])
    print(format_summary(summary))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .callbacks import ProgressBar
    from .train import train

    config = config_from_args(args)
    run_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"{config.name}-"))
    result = train(config, run_dir, callbacks=[] if args.json else [ProgressBar()])
    if result is None:  # a torchrun rank other than 0
        return 0
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>18}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m topicbert", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    corpus = commands.add_parser("corpus", help="inspect a corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    check = corpus_commands.add_parser("check", help="read a corpus and print its summary")
    check.add_argument("path")
    add_corpus_options(check)
    check.add_argument("--model", default="default", help="tokenizer used to count word pieces")
    check.set_defaults(handler=cmd_corpus_check)

    train = commands.add_parser("train", help="train and evaluate one model in this process")
    add_run_options(train)
    train.add_argument("--out", default=None, help="run folder (default: a new temporary folder)")
    train.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    train.set_defaults(handler=cmd_train)

    # command groups that live beside what they drive
    services.register_cli(commands)
    bench.register_cli(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
