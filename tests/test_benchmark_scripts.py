"""benchmarks/ as checked code: every script there answers `--help` (as sqlite-utils tests every command), found
by listing the package, so a new script without one fails here; and the fixed cost's parts are read through the
training loop's events, not by replacing its functions."""
from __future__ import annotations

import ast
import importlib
import os
import pkgutil
from itertools import pairwise
from pathlib import Path

import pytest
import torch

import benchmarks
from benchmarks.fixed_cost import PhaseClock
from benchmarks.pretrain_stop import recorded_curve
from topicbert.bench.topics import prepare_corpus
from topicbert.data.splits import prepare_data
from topicbert.model.encoders import load_tokenizer
from topicbert.training.callbacks import Callback
from topicbert.training.loop import train
from topicbert.training.pretrain import pretrain_batches

SCRIPTS = sorted(module.name for module in pkgutil.iter_modules(benchmarks.__path__))


def runs_main_as_a_script(path: Path) -> bool:
    """Whether the file ends in `if __name__ == "__main__":` calling main, so `python -m benchmarks.X` runs it."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            return any(isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "main"
                       for call in ast.walk(node))
    return False


def test_the_scripts_are_found():
    assert {"fixed_cost", "pretrain_stop", "upload_memory", "page_timings"} <= set(SCRIPTS)
    assert len(SCRIPTS) == len([p for p in Path(benchmarks.__path__[0]).glob("*.py") if p.name != "__init__.py"])


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_answers_help(name, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    said = capsys.readouterr().out
    assert said.startswith(f"usage: python -m benchmarks.{name}") and len(said.splitlines()) > 3
    source = Path(module.__file__)
    assert runs_main_as_a_script(source), f"{source.name}: no `if __name__ == \"__main__\": main()`"
    # run as a module of the package from the repository root, it finds topicbert without help
    assert "sys.path" not in source.read_text(encoding="utf-8"), f"{source.name} edits sys.path"


class SetupDone(Exception):
    pass


class StopAfterSetup(Callback):
    """Ends the run at on_start: the setup is all this test reads, and the steps would cost most of its time."""

    def on_start(self, info: dict) -> None:
        raise SetupDone


def test_the_fixed_cost_is_read_from_the_loops_phase_events(tiny_config, tmp_path):
    """Every part of the setup, in order, each sent once; those after the corpus's word pieces add up to the
    loop's own fixed cost (the parts are read by a callback's clock, the fixed cost by the loop's)."""
    config = tiny_config.replace(topic_model="combinedtm", tfidf_fusion=True, resumable_checkpoints=False)
    clock = PhaseClock()
    with pytest.raises(SetupDone):
        train(config, tmp_path / "run", [clock, StopAfterSetup()])
    seconds = clock.seconds
    assert list(seconds) == ["tokenizer", "corpus", "word_pieces", "splits", "embeddings", "tfidf_fusion", "model",
                             "pretraining", "fixed_seconds"]
    assert all(value >= 0 for value in seconds.values()) and seconds["pretraining"] > 0
    on_the_clock = sum(seconds[name] for name in ("splits", "embeddings", "tfidf_fusion", "model", "pretraining"))
    assert on_the_clock == pytest.approx(seconds["fixed_seconds"], abs=0.25)
    # a run handed its data (as the bench's rows are), with a topic model that reads no embeddings, sends only
    # what it does
    plain = tiny_config.replace(topic_model="prodlda")
    clock = PhaseClock()
    with pytest.raises(SetupDone):
        train(plain, tmp_path / "plain", [clock, StopAfterSetup()],
              data=prepare_data(plain, load_tokenizer(plain.model)))
    assert list(clock.seconds) == ["tokenizer", "model", "pretraining", "fixed_seconds"]


def test_pretrain_stop_records_every_epoch_through_the_pretraining_hook(tiny_config):
    """pretrain_stop reads each epoch's model and perplexity from pretrain_topic_model's on_epoch, with the early
    stop held off: one row an epoch, its steps counted and its clock rising."""
    config = tiny_config.replace(topic_model="prodlda")
    corpus, _ = prepare_corpus(config, [config.topic_model], torch.device("cpu"))
    rows = recorded_curve(config, corpus, epochs=3, batch_size=16)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    per_epoch = pretrain_batches(len(corpus.inputs["train"]), 16)
    assert [row["steps"] for row in rows] == [per_epoch * k for k in (1, 2, 3)]
    assert all(a["seconds"] < b["seconds"] for a, b in pairwise(rows))
    assert all(row["perplexity"] > 0 and len(row["word_ids"]) == config.n_topics for row in rows)


def test_checkpoint_transfer_measures_another_tree_by_starting_again_from_it(tmp_path, monkeypatch, capsys):
    """No sys.path edit: with --tree, the driver starts again from that folder, where Python finds its
    topicbert first, with this checkout's benchmarks on PYTHONPATH; a folder without topicbert/ is refused."""
    from benchmarks import checkpoint_transfer

    tree = tmp_path / "older"
    (tree / "topicbert").mkdir(parents=True)
    (tree / "topicbert" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)  # put back after the test: main moves into the tree
    started = []

    def execve(path: str, args: list[str], env: dict[str, str]) -> None:
        started.append((args, env, Path.cwd()))
        raise SystemExit(0)

    monkeypatch.setattr(checkpoint_transfer.os, "execve", execve)
    with pytest.raises(SystemExit):
        checkpoint_transfer.main(["--tree", str(tree), "--json", "out.json"])
    (args, env, cwd), = started
    assert args[1:3] == ["-m", "benchmarks.checkpoint_transfer"] and cwd == tree.resolve()
    assert args[args.index("--tree") + 1] == str(tree.resolve())
    assert args[args.index("--json") + 1] == str(tmp_path.resolve() / "out.json")  # read before the move
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tree.resolve()), str(Path(benchmarks.__path__[0]).parent)]
    with pytest.raises(SystemExit) as refused:
        checkpoint_transfer.main(["--tree", str(tmp_path / "none")])
    assert refused.value.code == 2 and "no topicbert/ package" in capsys.readouterr().err and len(started) == 1
