"""The queue's services and command line: submit (with baselines, several seeds), status, export, and
mistakes refused before anything is queued."""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys

import pytest
from queue_helpers import (
    ROOT,
    config,
)

from topicbert import cli
from topicbert.config import RunConfig
from topicbert.runs import services
from topicbert.runs.store import hostname


def test_submit_pairs_a_bert_512_baseline(store):
    cfg = config(max_len=128, limit_train=50, split_col="split", seed=7, epochs=2, model="tiny")
    tb_id, base_id = services.submit_run(store, cfg, pair_baseline=True)
    assert store.get_run(tb_id)["paired_run_id"] == base_id
    baseline = RunConfig.from_dict(store.get_run(base_id)["config"])
    assert baseline == cfg.replace(variant="bert", max_len=512, mode="truncate")
    assert baseline.name == "BERT-512"
    assert services.submit_run(store, cfg) == [base_id + 1]
    with pytest.raises(ValueError):
        services.submit_run(store, baseline, pair_baseline=True)


def test_submit_several_seeds_each_with_its_baselines(store, capsys):
    assert cli.main(["submit", "--corpus", "tiny.csv", "--seed", "7", "--seeds", "3", "--pair-baseline",
                     "--device", "cpu"]) == 0
    runs = sorted(store.list_runs(), key=lambda run: run["id"])
    assert [(run["name"], run["config"]["seed"]) for run in runs] == [
        ("TopicBERT-128", 7), ("BERT-512", 7), ("TopicBERT-128", 8), ("BERT-512", 8), ("TopicBERT-128", 9),
        ("BERT-512", 9)]
    assert all(runs[i]["paired_run_id"] == runs[i + 1]["id"] for i in (0, 2, 4))
    assert cli.main(["submit", "--corpus", "tiny.csv", "--seeds", "0"]) == 2
    assert "seeds must be at least 1" in capsys.readouterr().err and len(store.list_runs()) == 6


def test_submit_with_baselines_queues_bert_512_and_the_tfidf_reference(store):
    cfg = config(max_len=128, limit_train=50, seed=7, model="tiny")
    assert services.baselines_for(cfg) == {"pair_baseline": True, "tfidf_reference": True}
    run_id, base_id, tfidf_id = services.submit_run(store, cfg, **services.baselines_for(cfg))
    tfidf = store.get_run(tfidf_id)
    assert tfidf["name"] == "TF-IDF" and tfidf["paired_run_id"] == base_id == store.get_run(run_id)["paired_run_id"]
    assert RunConfig.from_dict(tfidf["config"]).test_set == cfg.test_set  # tested on the same documents
    # BERT-512 itself gets only the reference; the reference gets nothing; without a baseline it joins the run
    bert512 = cfg.replace(variant="bert", max_len=512)
    assert services.baselines_for(bert512) == {"pair_baseline": False, "tfidf_reference": True}
    assert services.baselines_for(cfg.replace(variant="tfidf")) == {"pair_baseline": False, "tfidf_reference": False}
    alone, reference = services.submit_run(store, bert512, tfidf_reference=True)
    assert store.get_run(reference)["paired_run_id"] == alone
    with pytest.raises(ValueError, match="already the TF-IDF reference"):
        services.submit_run(store, cfg.replace(variant="tfidf"), tfidf_reference=True)


def test_export_writes_metrics_and_codecarbon_columns(store, tmp_path):
    import dataclasses

    from codecarbon.output_methods.emissions_data import EmissionsData

    run_id = store.create_run(config())
    store.add_metrics(run_id, 10, 1.0, 20.0, {"val_macro_f1": 0.6, "val_loss": 0.9})
    store.add_energy(run_id, 10, 1.0, 20.0, {"duration_s": 25.0, "kwh": 0.002, "kg_co2e": 0.001, "cpu_kwh": 0.001,
                                             "gpu_kwh": 0.0, "ram_kwh": 0.001, "cpu_power_w": 5.0,
                                             "gpu_power_w": 0.0, "ram_power_w": 3.0, "country": "USA",
                                             "country_name": "United States", "codecarbon": {"os": "Linux"}})
    metrics_path, emissions_path = services.export_run(store, run_id, tmp_path / "out")
    # the names the README gives, so that several runs exported to one folder stand side by side
    assert (metrics_path.name, emissions_path.name) == (f"run-{run_id}-metrics.csv", f"run-{run_id}-emissions.csv")
    with metrics_path.open() as f:
        assert list(csv.DictReader(f)) == [{"step": "10", "epoch": "1.0", "wall_seconds": "20.0",
                                            "val_loss": "0.9", "val_macro_f1": "0.6"}]
    with emissions_path.open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == [field.name for field in dataclasses.fields(EmissionsData)]
    assert rows[0]["energy_consumed"] == "0.002" and rows[0]["emissions_rate"] == str(0.001 / 25.0)
    assert rows[0]["country_iso_code"] == "USA" and rows[0]["run_id"] == str(run_id) and rows[0]["os"] == "Linux"


def test_status_line_starts_with_the_id(store):
    run_id = store.create_run(config())
    store.set_progress(run_id, 5, 20)
    store.add_metrics(run_id, 5, 0.5, 3.0, {"val_macro_f1": 0.61234})
    line = services.format_status(store.run_overview(run_id)[0])
    assert line.split()[:3] == [str(run_id), "queued", "TopicBERT-128"]
    assert "step 5/20 (25%)" in line and "0.6123" in line


def test_queue_commands_parse():
    parser = cli.build_parser()
    args = parser.parse_args(["submit", "--corpus", "x.csv", "--pair-baseline", "--max-len", "256"])
    assert args.handler is cli.cmd_submit and args.pair_baseline and args.max_len == 256 and not args.tfidf_reference
    args = parser.parse_args(["submit", "--corpus", "x.csv", "--variant", "tfidf", "--patience", "2"])
    assert cli.config_from_args(args).name == "TF-IDF" and cli.config_from_args(args).early_stopping_patience == 2
    assert parser.parse_args(["worker", "--exit-when-idle"]).exit_when_idle
    assert parser.parse_args(["status"]).run_id is None
    assert parser.parse_args(["cancel", "3"]).run_id == 3
    assert parser.parse_args(["export", "3", "--out", "d"]).out == "d"
    assert parser.parse_args(["runner", "7", "--resume"]).handler is cli.cmd_runner


def test_command_line_round_trip(store, capsys, tmp_path):
    assert cli.cmd_submit(_submit_args(tmp_path)) == 0
    out = capsys.readouterr().out.split("\n")
    run_id = int(out[0].split("\t")[0])
    assert cli.cmd_status(argparse.Namespace(run_id=None, limit=10)) == 0
    assert capsys.readouterr().out.startswith(f"{run_id + 1:>4}  queued")  # newest first: the baseline
    assert cli.cmd_cancel(argparse.Namespace(run_id=run_id)) == 0
    assert cli.cmd_cancel(argparse.Namespace(run_id=run_id)) == 2
    assert cli.cmd_resume(argparse.Namespace(run_id=run_id)) == 0
    assert cli.cmd_export(argparse.Namespace(run_id=run_id, out=str(tmp_path / "x"))) == 0
    assert cli.cmd_status(argparse.Namespace(run_id=999, limit=10)) == 2


def test_submit_stores_a_relative_corpus_path_as_absolute(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the runner starts in the run's folder, not here
    args = cli.build_parser().parse_args(["submit", "--corpus", "data/c.csv", "--device", "cpu"])
    assert cli.cmd_submit(args) == 0
    (run,) = store.list_runs()
    assert RunConfig.from_dict(run["config"]).corpus == str(tmp_path / "data" / "c.csv")


def _submit_args(tmp_path):
    return cli.build_parser().parse_args(["submit", "--corpus", str(tmp_path / "c.csv"), "--pair-baseline",
                                          "--device", "cpu"])


def test_status_line_says_why_a_run_failed(store):
    run_id = store.create_run(config())
    store.claim_next_run(None, "cpu", hostname())
    store.finish_run(run_id, "failed", "Traceback (most recent call last):\n  ...\nCorpusError: no file tiny.csv\n")
    assert services.format_status(store.run_overview(run_id)[0]).endswith("(CorpusError: no file tiny.csv)")


@pytest.mark.parametrize("command", ["submit", "train"])
def test_a_run_that_would_train_no_step_is_refused_up_front(command, store, monkeypatch, capsys):
    trained = []
    monkeypatch.setattr("topicbert.training.loop.train", lambda *a, **k: trained.append(1))
    argv = [command, "--corpus", "tiny.csv", "--batch-size", "1", "--nproc", "2", "--device", "cpu"]
    assert cli.main(argv) == 2
    assert "batch_size (1) must be at least nproc (2)" in capsys.readouterr().err
    assert store.list_runs() == [] and trained == []


def test_status_on_an_empty_store_says_how_to_queue_a_run(store, capsys):
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "No runs yet" in out and "python -m topicbert submit --corpus" in out


@pytest.mark.parametrize("command", [["status"], ["cancel", "1"], ["resume", "1"], ["gc"], ["--help"]])
def test_the_queue_commands_answer_without_loading_torch(command, tmp_path):
    """They read the store alone: importing torch, transformers or pandas would cost seconds and hundreds of MB."""
    env = dict(os.environ, TOPICBERT_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "topicbert", *command], env=env,
                          capture_output=True, text=True, timeout=120)
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "topicbert.cli" in imported  # the command ran
    assert not imported & {"torch", "transformers", "pandas", "sklearn"}
