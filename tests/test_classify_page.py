"""The Classify page under Streamlit's AppTest: the newest finished TopicBERT run by default, a pasted text's label
and class probabilities as the model gives them, its topics, its baseline's verdict beside it, a pasted script
shown as text, and any finished run one pick away."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_documents
from streamlit.testing.v1 import AppTest
from test_app_pages import finish

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
