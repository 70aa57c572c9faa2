"""A finished run's model put to use (topicbert/inference): load_classifier gives each kind of run's stored test
predictions back exactly, an exported folder loads with no store and nothing else on the machine, and a broken
folder or an unfinished run is refused in one line."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from topicbert.config import RunConfig
from topicbert.inference.classifier import open_classifier, save_encoder
from topicbert.inference.model_folder import (
    FORMAT_FILE,
    ModelFolderError,
    export_model,
    exported_model_parts,
    run_model_parts,
)
from topicbert.studio.classify import load_classifier, run_parts
from topicbert.studio.run_files import RunPredictions, load_predictions
from topicbert.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
# every kind of preset: BERT, TopicBERT with each topic model that changes what it reads (CombinedTM also reads the
# frozen encoder's document embedding; NVDM raw counts; ProdLDA reads what CombinedTM reads but the embedding),
# partition mode (chunk probabilities averaged), in bf16 (this CPU's default where it has bf16) and float32, TF-IDF,
# and the wide path (BERT with the TF-IDF reference fused in)
KINDS = {
    "bert": {"variant": "bert"},
    "topicbert-combinedtm": {},
    "topicbert-nvdm": {"topic_model": "nvdm", "tm_input": "counts"},
    "topicbert-partition": {"mode": "partition", "partition_budget": 96},
    "bert-partition-float32": {"variant": "bert", "mode": "partition", "partition_budget": 96, "cpu_bf16": False},
    "tfidf": {"variant": "tfidf"},
    "bert+tfidf": {"variant": "bert", "tfidf_fusion": True},
}


@pytest.fixture(scope="module")
def encoder_copy(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny encoder in a folder of this module's own: the export test deletes it, to show the exported
    folder no longer needs it."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("encoder") / "tiny"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, encoder_copy, tiny_corpus_csv) -> dict[str, tuple[Path, RunConfig]]:
    """One finished run folder of each kind (seconds each with the tiny encoder)."""
    base = RunConfig(corpus=str(tiny_corpus_csv), model=str(encoder_copy), variant="topicbert", max_len=32,
                     epochs=1, batch_size=8, n_topics=5, tm_hidden=16, bow_min_df=1, bow_drop_top=0.0,
                     tm_pretrain_epochs=3, lr=1e-3, eval_batch_size=16, device="cpu", resumable_checkpoints=False)
    folders = {}
    for kind, changes in KINDS.items():
        config = base.replace(**changes)
        folder = tmp_path_factory.mktemp(kind)
        train(config, folder)
        folders[kind] = (folder, config)
    return folders


def stored(folder: Path) -> RunPredictions:
    predictions = load_predictions(str(folder))
    assert predictions is not None
    return predictions


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_runs_model_gives_its_stored_test_predictions_back(runs, kind):
    folder, config = runs[kind]
    expected = stored(folder)
    classifier = open_classifier(run_model_parts(folder, config, expected.classes), "cpu")
    probabilities = classifier.predict_proba(expected.texts)
    assert probabilities.shape == expected.probabilities.shape
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-5, rtol=0)
    assert (probabilities.argmax(axis=1) == expected.predictions).all()
    assert list(classifier.classes_) == expected.classes
    assert list(classifier.predict(expected.texts)) == [expected.classes[i] for i in expected.predictions]
    if config.use_topics:
        np.testing.assert_allclose(classifier.topic_mixture(expected.texts), expected.topic_mixtures, atol=1e-5)
        words = classifier.topic_words(4)
        assert len(words) == config.n_topics and all(len(topic) == 4 for topic in words)
    else:
        with pytest.raises(ValueError, match="no topic model"):
            classifier.topic_mixture(expected.texts[:1])
    if config.uses_encoder:  # where the run computed in bf16 (this CPU has it), the classifier does too
        assert classifier.bf16 == (json.loads((folder / "result.json").read_text())["bf16"])


@pytest.mark.parametrize("kind", ["topicbert-partition", "bert-partition-float32"])
def test_empty_and_long_texts_each_get_one_row(runs, kind):
    folder, config = runs[kind]
    classifier = open_classifier(run_model_parts(folder, config, stored(folder).classes), "cpu")
    texts = ["", "   ", "game team " * 10_000, "bank market stock"]   # the third: 100,000 characters
    predictions = classifier.classify(texts)
    assert predictions.probabilities.shape == (4, 3)
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1, atol=1e-5)
    assert classifier.classify([]).probabilities.shape == (0, 3)
    if config.use_topics:  # the topic model reads the whole text's words
        assert predictions.topic_mixtures.shape == (4, 5)
        return
    # the encoder reads what training read: the long text's first chunks, up to the partition budget, no further
    np.testing.assert_allclose(classifier.predict_proba(["game team " * 100])[0], predictions.probabilities[2],
                               atol=1e-5)


@pytest.mark.parametrize("kind", ["topicbert-combinedtm", "tfidf", "bert+tfidf"])
def test_an_exported_folder_loads_alone(runs, kind, tmp_path, monkeypatch, encoder_copy):
    folder, config = runs[kind]
    expected = stored(folder)
    out = export_model(run_model_parts(folder, config, expected.classes), tmp_path / "model", "# card\n",
                       save_encoder)
    assert (out / "README.md").read_text() == "# card\n"
    assert not list(tmp_path.glob(".model.tmp*"))
    # another machine: an empty home, and neither the run's folder nor the encoder it started from
    moved = tmp_path / "elsewhere"
    shutil.move(folder, moved)
    hidden = encoder_copy.with_name("gone")
    encoder_copy.rename(hidden)
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "empty-home"))
    try:
        classifier = load_classifier(str(out), device="cpu")
        np.testing.assert_allclose(classifier.predict_proba(expected.texts), expected.probabilities, atol=1e-5)
    finally:
        hidden.rename(encoder_copy)
        shutil.move(moved, folder)
    assert not (tmp_path / "empty-home").exists()  # nothing was looked up in a store


def test_an_export_into_a_folder_that_exists_or_has_no_parent_is_refused(runs, tmp_path):
    folder, config = runs["tfidf"]
    parts = run_model_parts(folder, config, stored(folder).classes)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ModelFolderError, match="already exists"):
        export_model(parts, tmp_path / "taken", "", save_encoder)
    with pytest.raises(ModelFolderError, match="does not exist"):
        export_model(parts, tmp_path / "no" / "model", "", save_encoder)


@pytest.fixture
def exported(runs, tmp_path) -> Path:
    folder, config = runs["bert"]
    return export_model(run_model_parts(folder, config, stored(folder).classes), tmp_path / "model", "", save_encoder)


def test_a_folder_missing_a_file_names_it(exported):
    (exported / "head.safetensors").unlink()
    with pytest.raises(ModelFolderError, match=r"is missing head\.safetensors$"):
        exported_model_parts(exported)


def test_a_folder_of_another_format_version_says_so(exported):
    (exported / FORMAT_FILE).write_text(json.dumps({"format": "topicbert-model", "version": 2}))
    with pytest.raises(ModelFolderError, match="format version 2; this version of TopicBERT Studio reads version 1"):
        exported_model_parts(exported)
    (exported / FORMAT_FILE).unlink()
    with pytest.raises(ModelFolderError, match="is missing format.json"):
        exported_model_parts(exported)


def test_a_path_that_is_no_folder_is_refused(tmp_path):
    with pytest.raises(ModelFolderError, match="no model folder at"):
        load_classifier(str(tmp_path / "nothing"))


def test_unknown_and_unfinished_runs_are_refused_in_one_line(store, tiny_config):
    with pytest.raises(ModelFolderError, match="no run 99 in the store"):
        load_classifier(99, store=store)
    run_id = store.create_run(tiny_config)
    for status in ("queued", "running", "failed"):
        if status != "queued":
            store.set_status(run_id, status)
        with pytest.raises(ModelFolderError, match=f"run {run_id} is {status}: only a finished"):
            run_parts(store, run_id)


def test_importing_topicbert_loads_no_torch_and_load_classifier_comes_when_asked_for():
    code = "import sys, topicbert; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
    from topicbert import load_classifier as public
    assert public is load_classifier
    import topicbert
    with pytest.raises(AttributeError, match="no attribute 'load_classifer'"):
        topicbert.load_classifer  # noqa: B018


def test_sessions_sharing_one_classifier_take_turns(runs, monkeypatch):
    """evaluate hands the model back in training mode: two passes at once would let one run with dropout on."""
    import threading
    import time

    from topicbert.inference import classifier as module

    folder, config = runs["bert"]
    shared = open_classifier(run_model_parts(folder, config, stored(folder).classes), "cpu")
    inside, most = [0], [0]
    real = module.evaluate

    def slow_evaluate(*args, **kwargs):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.2)
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] -= 1
    monkeypatch.setattr(module, "evaluate", slow_evaluate)
    expected = shared.predict_proba(["game team score"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(shared.predict_proba(["game team score"])))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1 and not shared.model.training
    for result in results:
        np.testing.assert_array_equal(result, expected)
