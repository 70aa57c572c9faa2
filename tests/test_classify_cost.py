"""benchmarks/classify_cost.py: each preset classifies the same documents, round after round, through the
classifier a user loads."""
from __future__ import annotations

import json

import pytest

from benchmarks import classify_cost


def test_presets_take_turns_over_the_same_documents(tiny_model_dir, tiny_corpus_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    out = tmp_path / "cost.json"
    assert classify_cost.main(["--corpus", str(tiny_corpus_csv), "--model", str(tiny_model_dir), "--device", "cpu",
                               "--presets", "bert-128+tfidf,tfidf", "--docs", "5", "--rounds", "2",
                               "--limit-train", "30", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["rows"]) == ["bert-128", "bert-128+tfidf", "tfidf"] and report["documents"] == 5
    reference = report["rows"]["bert-128"]["cost_per_doc_vs_bert-128"]
    assert reference == [pytest.approx(1.0)] * 2   # against itself, round by round
    assert all(row["docs_per_second"] > 0 and len(row["cost_per_doc_vs_bert-128"]) == 2
               for row in report["rows"].values())
    # no encoder: TF-IDF classifies many times faster than BERT-128 even on a tiny encoder
    assert max(report["rows"]["tfidf"]["cost_per_doc_vs_bert-128"]) < 1.0
    assert "| bert-128+tfidf |" in capsys.readouterr().out
