"""The benchmarks behind BENCHMARKS.md: one script a measurement, each run from the repository root as

    python -m benchmarks.NAME --help

Each script is a module with `main(argv)` that parses its options with argparse, so that `--help` says what it
measures and how (tests/test_benchmark_scripts.py runs every script's `--help` and finds new ones itself). The
JSON and PNG files beside them are what the published runs wrote.

They measure the Studio through its public functions and the training callbacks (topicbert/training/callbacks.py:
the loop's phases, evaluations, the end of training), never by replacing a function of topicbert/ by name, so
that a rename there fails mypy or the suite rather than a benchmark run months later. May import: anything in
topicbert/, and (page_timings alone) the app's pages through Streamlit's AppTest. Nothing in topicbert/ or the
app imports them; tests may.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from topicbert.runs.store import Store


def script_parser(doc: str | None, script: str) -> argparse.ArgumentParser:
    """The argument parser of the script at `script` (its __file__), with its docstring as the help: the first
    paragraph above the options, the rest (the commands BENCHMARKS.md ran, what is measured) below them."""
    summary, _, details = (doc or "").partition("\n\n")
    return argparse.ArgumentParser(prog=f"python -m benchmarks.{Path(script).stem}", description=summary,
                                   epilog=details or None, formatter_class=argparse.RawDescriptionHelpFormatter)


def stored_run(store: Store, run_id: int) -> dict[str, Any]:
    """The row of a run the benchmark put in the store itself, so it is there."""
    run = store.get_run(run_id)
    assert run is not None, f"run {run_id} is not in the store"
    return run
