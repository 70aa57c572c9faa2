"""The side-by-side benchmark on a tiny model: every row, ratios against BERT-512, JSON and plot."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from topicbert.bench.side_by_side import markdown_table, parse_variant


def test_parse_variant_names():
    assert parse_variant("topicbert-128-partition") == {"variant": "topicbert", "max_len": 128, "mode": "partition"}
    assert parse_variant("BERT-512") == {"variant": "bert", "max_len": 512, "mode": "truncate"}
    with pytest.raises(ValueError, match="like bert-512"):
        parse_variant("roberta-512")
    assert parse_variant("bert-512+nogroup+compile") == {"variant": "bert", "max_len": 512, "mode": "truncate",
                                                         "length_grouping": False, "compile": True}
    with pytest.raises(ValueError, match="unknown switch 'fast'"):
        parse_variant("bert-512+fast")


@pytest.mark.slow
def test_bench_command_rows_json_and_plot(tiny_model_dir, tiny_corpus_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    variants = "bert-512,topicbert-32,topicbert-32-partition,bert-512+nogroup"
    command = [sys.executable, "-m", "topicbert", "bench", "--corpus", str(tiny_corpus_csv), "--model",
               str(tiny_model_dir), "--variants", variants, "--epochs", "1",
               "--hf-trainer", "--device", "cpu", "--json", str(out), "--plot", str(png)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert list(rows) == ["bert-512", "topicbert-32", "topicbert-32-partition", "bert-512+nogroup", "hf-trainer-512"]
    assert rows["bert-512"]["speedup"] == pytest.approx(1.0) and rows["bert-512"]["f1_retained"] == pytest.approx(1.0)
    for row in rows.values():
        assert row["train_seconds"] > 0 and row["inference_docs_per_second"] > 0
        assert row["kwh"] >= 0 and row["kg_co2e"] >= 0
        assert row["speedup"] == pytest.approx(rows["bert-512"]["train_seconds"] / row["train_seconds"])
    # partition feeds every chunk: more pieces than truncating at the same length
    assert rows["topicbert-32-partition"]["tokens_processed"] > rows["topicbert-32"]["tokens_processed"]
    # random batches compute more padding for the same documents
    assert rows["bert-512+nogroup"]["tokens_processed"] == rows["bert-512"]["tokens_processed"]
    assert rows["bert-512+nogroup"]["padded_fraction"] > rows["bert-512"]["padded_fraction"]
    overhead = report["loop_overhead"]
    assert overhead["rounds"] == 3 and overhead["steps"] > 0 and overhead["steps"] % 3 == 0
    assert 0 < overhead["bare_seconds_per_step"] and -1 < overhead["overhead"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| hf-trainer-512 |" in done.stdout and "loop overhead" in done.stdout
    assert markdown_table(report["rows"]).count("\n") == 6
