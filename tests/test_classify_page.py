"""A run's model from the store. The Classify page under Streamlit's AppTest: the newest finished TopicBERT run by
default, a pasted text's label and class probabilities as the model gives them, its topics, its baseline's verdict
beside it, a pasted script shown as text, and any finished run one pick away. `export-model`: the folder and its
model card, from the same runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import synthetic_documents
from streamlit.testing.v1 import AppTest
from test_app_pages import finish

from topicbert.cli import main
from topicbert.config import RunConfig
from topicbert.data.corpus import load_corpus
from topicbert.runs import saved_corpora, services
from topicbert.runs.store import Store
from topicbert.studio import classify
from topicbert.studio.text import escape

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "7_Classify.py")
EVIL = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_model_dir):
    """A finished TopicBERT run with its BERT-512 baseline and TF-IDF reference, and a run still queued."""
    folder = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("TOPICBERT_HOME", str(folder))
    csv = folder / "tiny.csv"
    csv.write_text("text,label\n" + "".join(f'"{text}",{label}\n' for text, label in synthetic_documents(30)))
    with Store() as store:
        corpus_id = saved_corpora.register_corpus(store, load_corpus(csv), "tiny")
        config = RunConfig(**saved_corpora.run_settings(store.get_corpus(corpus_id)), model=str(tiny_model_dir),
                           max_len=32, epochs=1, batch_size=8, n_topics=5, tm_hidden=16, bow_min_df=1,
                           bow_drop_top=0.0, tm_pretrain_epochs=3, lr=1e-3, eval_batch_size=16, device="cpu")
        ids = services.submit_run(store, config, pair_baseline=True, tfidf_reference=True)
        finish(store, ids[0], config, watts=30.0)
        finish(store, ids[1], services.baseline_config(config), watts=60.0)
        finish(store, ids[2], services.tfidf_config(config), watts=20.0)
        store.create_run(config.replace(max_len=64))
    yield folder, ids
    patch.undo()


@pytest.fixture
def page(home, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(home[0]))
    return AppTest.from_file(PAGE, default_timeout=120)


def test_a_pasted_text_gets_the_models_label_probabilities_topics_and_the_baselines_verdict(page, home):
    topic_id, baseline_id, _ = home[1]
    at = page.run()
    assert not at.exception and at.selectbox(key="classify_run").value == topic_id   # the TopicBERT run, not newer
    text = f"game team score goal {EVIL} match player"
    at.text_area(key="classify_text").input(text).run()
    assert not at.exception, at.exception
    with Store(home[0] / "topicbert.db") as store:
        ours = classify.load_classifier(topic_id, store=store).classify([text])
        theirs = classify.load_classifier(baseline_id, store=store).predict([text])[0]
    assert len(at.get("plotly_chart")) == 2  # both models' class probabilities, and the topic mixture
    said = " ".join(m.value for m in at.markdown)
    classes = ["money", "space", "sport"]
    label = classes[int(ours.probabilities[0].argmax())]
    assert f"**{escape(f'#{topic_id} TopicBERT-32')}**: {label} ({ours.probabilities[0].max():.1%})" in said
    assert f"its baseline **{escape(f'#{baseline_id} BERT-512')}**: {theirs}" in said
    # the text shown back is text: the script tag arrives escaped, never as HTML
    assert EVIL not in said and escape(EVIL) in said
    verdict = classify.classify_text(classify.load_classifier(topic_id, store=Store(home[0] / "topicbert.db")), text)
    np.testing.assert_allclose(verdict.topic_mixture, ours.topic_mixtures[0], atol=1e-6)
    assert len(verdict.topic_labels) == 5 and verdict.topic_labels[0].startswith("0: ")


def test_any_finished_run_can_be_picked_and_unfinished_ones_are_not_listed(page, home):
    topic_id, baseline_id, tfidf_id = home[1]
    at = page.run()
    assert set(at.selectbox(key="classify_run").options) == {f"#{i} {name}" for i, name in (
        (topic_id, "TopicBERT-32"), (baseline_id, "BERT-512"), (tfidf_id, "TF-IDF"))}
    at.selectbox(key="classify_run").select(tfidf_id).run()
    at.text_area(key="classify_text").input("bank market stock price").run()
    assert not at.exception, at.exception
    said = " ".join(m.value for m in at.markdown)
    assert "TF\\-IDF**: money" in said and len(at.get("plotly_chart")) == 1  # no topics for TF-IDF
    at.selectbox(key="classify_run").select(baseline_id).run()
    assert not at.exception, at.exception
    assert any("No finished BERT-512 baseline" in c.value for c in at.caption)   # the baseline has none itself


def test_the_page_says_what_to_do_with_no_finished_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception and "No finished run yet" in at.info[0].value


def test_export_model_writes_a_folder_with_its_model_card(home, tmp_path, monkeypatch, capsys):
    folder, (topic_id, baseline_id, tfidf_id) = home
    monkeypatch.setenv("TOPICBERT_HOME", str(folder))
    out = tmp_path / "model"
    assert main(["export-model", str(topic_id), "--out", str(out)]) == 0
    with Store(folder / "topicbert.db") as store:
        run = store.get_run(topic_id)
        energy = store.last_energy(topic_id)
        classes = json.loads((Path(run["run_dir"]) / "test_documents.json").read_text())["classes"]
    final = run["final_metrics"]
    n_test = sum(map(sum, final["confusion"]))
    card = (out / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)   # the Hugging Face convention: YAML front matter
    metric = meta["model-index"][0]["results"][0]["metrics"][0]
    assert metric["value"] == round(final["test_macro_f1"], 4) and metric["args"]["test_documents"] == n_test
    assert metric["args"]["ci95"] == [round(x, 4) for x in final["test_macro_f1_ci"]]
    co2 = meta["co2_eq_emissions"]
    assert co2["emissions"] == pytest.approx(1000 * energy["kg_co2e"], abs=1e-4)
    assert co2["source"].startswith("codecarbon, estimated") and co2["training_type"] == "fine-tuning"
    assert co2["geographical_location"] == "United States"
    low, high = final["test_macro_f1_ci"]
    interval = f"95% bootstrap interval {low:.4f}–{high:.4f} over {n_test} test documents"
    assert f"Test macro-F1: {final['test_macro_f1']:.4f}, {interval}" in body
    assert f"{final['train_seconds']:,.1f} s, {energy['kwh']:,.6f} kWh" in body and "(estimated:" in body
    assert "- Classifying 1,000 documents (the run's metered test pass): " in body
    assert f"- tiny: {n_test} test documents; every document of the corpus (seed 42)." in body
    assert f"- BERT-512 (run {baseline_id}) on the same test documents, test macro-F1 " in body
    assert f"- TF-IDF (run {tfidf_id}) on the same test documents" in body
    assert "; TopicBERT-32 against it: " in body   # a verdict: higher or lower beyond the noise, or within noise
    assert json.loads((out / "classes.json").read_text()) == classes
    # the folder loads alone, and a second export to it is refused in one line
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "empty"))
    assert list(classify.load_classifier(str(out), device="cpu").predict(["bank market stock"]))[0] in classes
    monkeypatch.setenv("TOPICBERT_HOME", str(folder))
    capsys.readouterr()
    assert main(["export-model", str(topic_id), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
