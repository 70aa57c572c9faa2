"""The TF-IDF reference: its features match scikit-learn's, it trains through train() and the worker's
runner like any run, and leaves the same result files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_documents
from sklearn.feature_extraction.text import TfidfVectorizer

from topicbert.runs import runner, services
from topicbert.runs.store import Store
from topicbert.studio.run_files import load_predictions
from topicbert.training.callbacks import Callback
from topicbert.training.loop import train
from topicbert.training.tfidf import NGRAMS, TfidfModel, fit_tfidf


class Calls(Callback):
    def __init__(self):
        self.calls = []

    def on_start(self, info):
        self.calls.append("start")

    def on_evaluate(self, step, epoch, wall_seconds, metrics):
        self.calls.append(("evaluate", sorted(metrics)))

    def on_trained(self, wall_seconds):
        self.calls.append("trained")

    def on_end(self, result):
        self.calls.append("end")


def test_features_and_saved_model_match_scikit_learn(tmp_path):
    texts, labels = zip(*synthetic_documents(10), strict=True)
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    model = fit_tfidf(texts, y, C=1.0, seed=0)
    reference = TfidfVectorizer(ngram_range=NGRAMS, min_df=2, sublinear_tf=True).fit(texts)
    assert np.allclose(model.features(texts).toarray(), reference.transform(texts).toarray())
    model.save(tmp_path / "best")
    loaded = TfidfModel.load(tmp_path / "best")
    assert np.array_equal(loaded.probabilities(texts), model.probabilities(texts))
    assert np.allclose(model.probabilities(texts).sum(axis=1), 1)
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.joblib"))


def test_two_classes_give_two_columns(tmp_path):
    texts, labels = zip(*[(t, lab) for t, lab in synthetic_documents(10) if lab != "space"], strict=True)
    y = np.array([0 if label == "money" else 1 for label in labels])
    model = fit_tfidf(texts, y, C=1.0, seed=0)
    probabilities = model.probabilities(texts)
    assert probabilities.shape == (len(texts), 2) and (probabilities.argmax(axis=1) == y).mean() > 0.9


def test_train_dispatches_and_writes_the_result_files(tiny_config, tmp_path):
    calls = Calls()
    result = train(tiny_config.replace(variant="tfidf"), tmp_path, [calls])
    assert calls.calls == ["start", ("evaluate", ["val_macro_f1", "val_micro_f1"]), "trained", "end"]
    assert result.config.name == "TF-IDF" and result.tokens_processed == 0 and result.n_topics is None
    assert result.test_macro_f1 > 0.9  # each class has its own words: the linear model finds them
    predictions = load_predictions(str(tmp_path))
    assert predictions.labels.tolist() == np.load(tmp_path / "test_predictions.npz")["labels"].tolist()
    assert predictions.topic_mixtures is None and len(predictions.texts) == len(predictions.labels)
    assert json.loads((tmp_path / "result.json").read_text())["test_macro_f1"] == result.test_macro_f1


def test_a_queued_tfidf_run_goes_through_the_runner(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    with Store() as store:
        run_id = services.submit_run(store, tiny_config.replace(variant="tfidf"))[0]
        assert runner.run_one(run_id) == 0
        run = store.get_run(run_id)
        assert run["status"] == "done" and run["name"] == "TF-IDF" and run["variant"] == "tfidf"
        assert run["final_metrics"]["test_macro_f1"] > 0.9
        assert [m["step"] for m in store.list_metrics(run_id, "val_macro_f1")] == [1]
        assert load_predictions(run["run_dir"]) is not None


@pytest.mark.slow
def test_train_command_with_the_tfidf_variant(tiny_corpus_csv, tmp_path):
    done = subprocess.run([sys.executable, "-m", "topicbert", "train", "--corpus", str(tiny_corpus_csv), "--variant",
                           "tfidf", "--out", str(tmp_path), "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["variant"] == "tfidf" and summary["name"] == "TF-IDF" and summary["test_macro_f1"] > 0.9
    assert Path(summary["run_dir"], "best", "tfidf.npz").exists()
