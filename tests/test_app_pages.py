"""The app's pages under Streamlit's AppTest, against a store made here.

One module-wide store holds a saved corpus and a finished TopicBERT run with its paired
BERT baseline, trained for real with the tiny random BERT (seconds on CPU), with metrics,
energy readings, topics and test results written as the runner writes them. The worker
and the built-in corpus are swapped out: no process is started, no package is read.
"""
from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import synthetic_documents
from streamlit.testing.v1 import AppTest

from topicbert.config import RunConfig
from topicbert.data import corpus as corpus_module
from topicbert.data.corpus import load_corpus
from topicbert.energy.grid import country_grid
from topicbert.runs import saved_corpora, services
from topicbert.runs.references import attach_lda_reference
from topicbert.runs.runner import StoreReporter
from topicbert.runs.store import Store
from topicbert.studio import run_identity
from topicbert.studio.run_files import load_predictions
from topicbert.studio.text import escape
from topicbert.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["app.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "app_pages").glob("*.py"))]
EVIL = "<script>alert('x')</script>"
TIMEOUT = 120


def energy_row(kwh: float, seconds: float) -> dict:
    """A cumulative reading as energy.EnergyReading.to_row() gives it (CPU estimated, RAM estimated)."""
    return {"duration_s": seconds, "cpu_kwh": kwh * 0.8, "gpu_kwh": 0.0, "ram_kwh": kwh * 0.2, "kwh": kwh,
            "kg_co2e": kwh * 0.4, "cpu_power_w": 40.0, "gpu_power_w": 0.0, "ram_power_w": 10.0,
            "country": "USA", "country_name": "United States", "carbon_intensity": 400.0,
            "cpu_measured": False, "gpu_measured": None, "ram_measured": False,
            "measured": "cpu estimated (cpu_load, 85 W TDP); ram estimated (per-DIMM model); gpu not used",
            "codecarbon": {}}


def finish(store: Store, run_id: int, config: RunConfig, watts: float) -> None:
    """Train a queued run in this process and record it as the runner would."""
    run = store.get_run(run_id)
    store.claim_run(run_id, None, "cpu")
    reporter = StoreReporter(store, run_id)
    result = train(config, Path(run["run_dir"]), [reporter])
    for reading in store.metrics_table(run_id):
        kwh = watts * reading["wall_seconds"] / 3.6e6
        store.add_energy(run_id, reading["step"], reading["epoch"], reading["wall_seconds"],
                         energy_row(kwh, reading["wall_seconds"]))
    assert result is not None
    if config.use_topics:
        attach_lda_reference(store, run_id, config, Path(run["run_dir"]))
    store.finish_run(run_id, "done")


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_model_dir):
    """TOPICBERT_HOME with a saved corpus (one test document holds a script tag), a finished TopicBERT run with
    its BERT-512 baseline and TF-IDF reference, and a run still queued."""
    folder = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("TOPICBERT_HOME", str(folder))
    rows = synthetic_documents(30) + [(f"game team {EVIL} score goal match", "sport")]
    csv = folder / "tiny.csv"
    csv.write_text("text,label,split\n" + "".join(
        f'"{text}",{label},{"test" if i % 4 == 0 else "train"}\n' for i, (text, label) in enumerate(rows[::-1])))
    with Store() as store:
        corpus_id = saved_corpora.register_corpus(store, load_corpus(csv, split_col="split"), "tiny <b>corpus</b>")
        config = RunConfig(**saved_corpora.run_settings(store.get_corpus(corpus_id)), model=str(tiny_model_dir),
                           variant="topicbert", max_len=32, epochs=2, batch_size=8, n_topics=5, tm_hidden=16,
                           bow_min_df=1, bow_drop_top=0.0, tm_pretrain_epochs=3, lr=1e-3, eval_batch_size=16,
                           device="cpu")
        topic_id, baseline_id, tfidf_id = services.submit_run(store, config, pair_baseline=True, tfidf_reference=True)
        finish(store, topic_id, config, watts=30.0)
        finish(store, baseline_id, services.baseline_config(config), watts=60.0)
        finish(store, tfidf_id, services.tfidf_config(config), watts=20.0)
        store.create_run(config.replace(max_len=64))  # one run still queued
    yield folder
    patch.undo()


@pytest.fixture
def app(home, monkeypatch):
    """AppTest of a page with the worker and the built-in corpus swapped out."""
    monkeypatch.setenv("TOPICBERT_HOME", str(home))
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: False)
    monkeypatch.setattr(saved_corpora, "ensure_builtin_corpus", lambda store: None)

    def make(page: str) -> AppTest:
        return AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    return make


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_an_empty_store(page, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: False)
    monkeypatch.setattr(saved_corpora, "ensure_builtin_corpus", lambda store: None)
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_with_runs(page, app):
    at = app(page).run()
    assert not at.exception, at.exception


def test_home_queues_the_demo_with_its_baselines(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    started = []
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: started.append(1) or True)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()  # lists the BBC News sample
    assert not at.exception
    said = " ".join(m.value for m in at.markdown)
    assert "tests all three on the same 223 documents" in said and "cannot tell" in said
    # no run finished here yet: the projection rests on the speed measured for the design, and says so
    plain = said.replace("\\", "")  # Markdown's escapes
    assert re.search(r"400 training documents of .* for 2 epochs \(about (\d+ min \d\d s|\d+ s) of training in all "
                     r"at the speed measured on two CPU cores; loading the models and testing them add to it", plain), \
        plain
    at.button(key="home_demo").click().run()
    assert not at.exception and "Queued runs #1 (TopicBERT)" in at.success[-1].value
    # while its runs wait, the button waits and says why: no second demo
    assert at.button(key="home_demo").disabled
    assert any(escape("The demo's runs (#1, #2, #3) are queued or training") in c.value for c in at.caption)
    # the same rerun lists them under "Recent runs", above the button: never "No runs yet" beside "Queued"
    assert not any("No runs yet" in i.value for i in at.info)
    assert len(at.dataframe[0].value) == 3
    with Store(tmp_path / "topicbert.db") as store:
        runs = store.list_runs()
        assert [r["name"] for r in runs] == ["TF-IDF", "BERT-512", "TopicBERT-128"]
        assert runs[2]["paired_run_id"] == runs[1]["id"] == runs[0]["paired_run_id"]
        assert runs[2]["config"]["limit_train"] == 400
        assert store.get_corpus(runs[1]["corpus_id"])["name"] == saved_corpora.BUILTIN_NAME
    assert started


def test_the_demos_projection_reads_only_the_documents_the_demo_reads(tmp_path, monkeypatch):
    """Home tokenizes the 400 training documents the demo's runs read, not all of BBC News: the same word pieces
    for each of its runs as the Train page's whole-corpus count gives."""
    from topicbert.studio import launch
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    with Store() as store:
        saved_corpora.ensure_builtin_corpus(store)
        row = saved_corpora.demo_corpus(store)
    pieces = launch.demo_pieces(row)
    whole = launch.corpus_pieces(launch.demo_config(row), launch.encoder_tokenizer("default"))
    assert pieces is not None and sum(n > 0 for n in pieces.lengths) == 400
    for config in launch.demo_configs(row):
        assert launch.train_piece_lengths(pieces, config) == launch.train_piece_lengths(whole, config)


def test_home_leads_to_compare_once_runs_to_compare_finished(app, home):
    """Home says in one line that the runs Compare opens on finished, with the verdict card's first answer, and
    links to Compare."""
    from topicbert.studio import home as home_view
    from topicbert.studio.verdict_card import ACCURATE
    at = app("app.py").run()
    assert not at.exception
    with Store() as store:
        latest = home_view.latest_comparison(store)
        assert latest is not None and len(latest.ids) == 3
        card = home_view.comparison_card(store, latest.ids, latest.baseline_id)
    assert card.lines[0].question == ACCURATE
    finished = [s.value for s in at.success if escape("have finished.") in s.value]
    assert len(finished) == 1 and escape(card.headline) in finished[0] and "\\#1, \\#2, \\#3" in finished[0]
    assert not at.button(key="home_demo").disabled  # the runs queued are no demo
    assert [link.proto.page for link in at.get("page_link")] == ["Compare"]


def test_home_demo_waits_while_its_runs_are_queued(app, home, monkeypatch):
    """The fixture's queued TopicBERT-64 run stands in for a demo that has not run yet."""
    from topicbert.studio import home as home_view
    with Store() as store:
        queued = store.list_runs("queued")[0]
    monkeypatch.setattr(home_view, "demo_config", lambda row: RunConfig.from_dict(queued["config"]))
    at = app("app.py").run()
    assert not at.exception and at.button(key="home_demo").disabled


def test_corpora_upload_error_is_shown_and_nothing_saved(app, home):
    at = app("app_pages/1_Corpora.py").run()
    at.file_uploader(key="corpora_upload").upload("bad.csv", b"text,label\nonly one class,a\nanother,a\n").run()
    assert not at.exception
    assert any("only 1 class" in e.value for e in at.error)
    with Store() as store:
        assert [c["name"] for c in store.list_corpora()] == ["tiny <b>corpus</b>"]


def test_corpora_upload_summarises_and_saves(app, home):
    rows = "".join(f'"{text}",{label}\n' for text, label in synthetic_documents(5))
    at = app("app_pages/1_Corpora.py").run()
    at.file_uploader(key="corpora_upload").upload("mine.csv", ("text,label\n" + rows).encode()).run()
    assert not at.exception
    assert [s.value for s in at.selectbox][:2] == ["text", "label"]
    assert len(at.get("plotly_chart")) == 2  # classes and lengths
    at.text_input(key="corpora_name").set_value("mine").run()
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and at.success
    with Store() as store:
        saved = store.find_corpus("mine")
    assert saved["n_docs"] == 15 and saved["n_classes"] == 3


def test_train_shows_the_estimate_and_queues_with_baselines(app, home):
    at = app("app_pages/2_Train.py").run()
    assert not at.exception
    assert any("word pieces" in c.value for c in at.caption)
    with Store() as store:
        before = len(store.list_runs())
    assert any("TF-IDF reference reads no word pieces" in c.value for c in at.caption)
    projected = at.dataframe[0].value  # energy as every page writes it; TF-IDF's is not projected
    assert re.fullmatch(r"[\d.,]+ (kWh|Wh|mWh|µWh)", projected["energy"].iloc[0]) and projected["energy"].iloc[-1] == ""
    # what the topic model will be: its topic count chosen from the corpus, or the person's
    def plan() -> str:  # the page's sentence, its Markdown escapes taken out
        return next(m.value for m in at.markdown if m.value.startswith("**Topic model:**")).replace("\\", "")
    assert re.search(r"CombinedTM with 10 topics \(chosen for \d+ training documents", plan()), plan()
    at.number_input(key="train_topics").set_value(7)
    at.button[0].click().run()  # "Estimate cost"
    assert "CombinedTM with 7 topics (as set)" in plan() and "first 128 word pieces" in plan()
    at.button[1].click().run()  # "Queue"
    assert not at.exception and at.success
    with Store() as store:
        runs = store.list_runs()
    assert len(runs) == before + 3 and runs[2]["paired_run_id"] == runs[1]["id"] == runs[0]["paired_run_id"]
    assert [run["name"] for run in runs[:3]] == ["TF-IDF", "BERT-512", "TopicBERT-128"]
    # two seeds in one click: each with its baselines, differing only by seed
    at.number_input(key="train_seeds").set_value(2)
    at.button[1].click().run()
    assert not at.exception and "(2 seeds)" in at.success[0].value
    with Store() as store:
        seeded = store.list_runs()[:6][::-1]
    assert [(run["name"], run["config"]["seed"]) for run in seeded] == [
        ("TopicBERT-128", 42), ("BERT-512", 42), ("TF-IDF", 42),
        ("TopicBERT-128", 43), ("BERT-512", 43), ("TF-IDF", 43)]
    assert seeded[3]["paired_run_id"] == seeded[4]["id"]
    for run in runs[:3] + seeded:
        with Store() as store:
            services.cancel_run(store, run["id"])


def test_runs_cancel(app, home):
    at = app("app_pages/3_Runs.py").run()
    with Store() as store:
        queued = store.list_runs("queued")[0]
    at.selectbox(key="runs_selected").set_value(queued["id"]).run()
    at.button(key="runs_cancel").click().run()
    assert not at.exception
    with Store() as store:
        assert store.get_run(queued["id"])["status"] == "cancelled"
        store.requeue(queued["id"], resume=False)


def test_compare_defaults_to_the_run_and_its_baselines(app, home):
    at = app("app_pages/4_Compare.py").run()
    assert not at.exception
    assert len(at.multiselect(key="compare_runs").value) == 3
    # the verdict, what each run scored, its time, its energy, what using it costs: five tables narrow enough for
    # a 1,400 px window (the browser test measures them), the verdict first
    tables = [at.dataframe[i].value for i in range(5)]
    assert list(tables[0].columns[:4]) == ["run", "against the reference", "F1 difference", "difference 95% interval"]
    summary = pd.concat([table.set_index("run") for table in tables], axis=1).reset_index()
    costs, use = summary, summary
    assert list(summary["run"]) == ["#1 TopicBERT-32", "#2 BERT-512", "#3 TF-IDF"]
    assert costs["speedup (x)"].iloc[1] == pytest.approx(1.0)
    assert costs["energy"].tolist() == ["estimated"] * 3
    assert use["g CO2e/kWh"].tolist() == [400.0] * 3
    assert all(re.fullmatch(r"\d\.\d{3}–\d\.\d{3}", text) for text in summary["95% interval"])
    assert summary["against the reference"].iloc[0] in ("within noise", "lower beyond the noise",
                                                        "higher beyond the noise")
    assert summary["verdict covers"].iloc[0] == "one seed's test documents only"
    # tiny random models may predict alike on every test document: then no size is given (test_noise.py)
    detectable = summary["detectable (±)"].iloc[0]
    assert 0 < detectable < 0.5 or (math.isnan(detectable) and summary["F1 retained (%)"].iloc[0] == pytest.approx(100))
    assert summary["seeds"].tolist() == [1, 1, 1]
    # the energy in Wh or mWh, one format for durations
    assert all(re.fullmatch(r"[\d.,]+ (kWh|Wh|mWh|µWh)", text) for text in costs["energy used"])
    assert all(re.fullmatch(r"[\d.]+ s|\d+ min \d\d s", text) for text in costs["train time"])
    # the card above every chart, in the summary's words: its first answer carries the table's verdict
    card = [m.value for m in at.markdown[:8]]
    assert card[0].startswith("TopicBERT\\-32 \\(\\#1\\) against BERT\\-512 \\(\\#2\\), on one seed"), card
    assert card[0].endswith("\\(TopicBERT\\-32 and BERT\\-512 run tiny\\_bert0\\.\\)")  # the encoder, once
    assert card[1].startswith("**As accurate?**")
    assert any(q in " ".join(card) for q in ("**What does it save?**", "not told"))
    assert any(c.startswith("**Against the cheapest reference?** TF\\-IDF") for c in card)
    assert "Download report (HTML)" in [button.proto.label for button in at.get("download_button")]
    assert any("same documents (same corpus, seed and limits)" in c.value for c in at.caption)
    assert any("corrected for the number of topics (Holm's method)" in c.value for c in at.caption)
    assert "3 runs" in at.selectbox(key="compare_test_set").format_func(at.selectbox(key="compare_test_set").value)
    # F1 by epoch and by time, CO2, when to stop, where the topic branch helps, F1 against cost
    assert len(at.get("plotly_chart")) == 6
    assert sum("stopping after epoch" in m.value for m in at.markdown) == 3  # a replay for every run
    gains = at.dataframe[5].value
    with Store() as store:
        run = next(r for r in store.list_runs() if r["variant"] == "topicbert" and r["status"] == "done")
    assert gains["documents"].sum() == len(load_predictions(run["run_dir"]).labels)  # each test document once
    # re-priced at France's intensity: the same kWh, other grams
    at.selectbox(key="compare_grid").set_value("FRA").run()
    assert not at.exception
    repriced = at.dataframe[3].value
    assert (at.dataframe[4].value["g CO2e/kWh"] == country_grid("FRA").g_per_kwh).all()
    assert repriced["g CO2e"].tolist() != costs["g CO2e"].tolist()


def test_topics_map_is_offline(app, home):
    at = app("app_pages/5_Topics.py").run()
    assert not at.exception
    frames = at.get("iframe")
    assert frames, "no components.html"
    html = frames[0].proto.srcdoc
    assert "new LDAvis(" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html, re.I)
    table = at.dataframe[0].value
    assert len(table) == 5 and table["NPMI, training documents"].between(-1, 1).all()
    # the means beside the LDA reference, as the worker stored them: the page reads no corpus
    metrics = {m.label: m for m in at.metric}
    with Store() as store:
        run = next(r for r in store.list_runs() if r["variant"] == "topicbert" and r["status"] == "done")
        reference = store.get_topic_reference(run["topic_reference"])
    final = run["final_metrics"]
    # ours (documents: training and test) and the literature's (10-word windows), each beside LDA's
    for label, ours, lda in (("NPMI, training documents", final["npmi_train"], reference["npmi"]),
                             ("NPMI, test documents", final["npmi_test"], reference["npmi_test"]),
                             ("NPMI, 10-word windows", final["npmi_window"], reference["npmi_window"]),
                             ("topic diversity", final["topic_diversity"], reference["diversity"])):
        assert metrics[label].value == f"{ours:.3f}" and metrics[label].proto.delta == f"LDA reference {lda:.3f}"
    assert table["NPMI, 10-word windows"].tolist() == pytest.approx(final["topic_npmi_window"], abs=1e-3)


def test_documents_open_where_the_models_disagree_and_mark_what_the_encoder_read(app, home):
    from topicbert.studio import documents
    at = app("app_pages/6_Documents.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    opened_on = at.selectbox(key="documents_agreement").value
    if (table["TopicBERT"] != table["baseline"]).any():
        assert opened_on == documents.DISAGREE and (table["TopicBERT"] != table["baseline"]).all()
    else:  # the tiny models may agree everywhere: then it opens on every document
        assert opened_on == documents.ALL
    assert documents.TFIDF in table.columns  # the reference's prediction beside the baseline's
    said = " ".join(c.value for c in at.caption)
    assert escape("The first 32 word pieces: what TopicBERT-32's encoder read") in said or \
        escape("The whole text: TopicBERT-32 read it all") in said
    # a long document: cut where its 30 word pieces (32 less [CLS] and [SEP]) end
    at.selectbox(key="documents_agreement").set_value(documents.ALL).run()
    texts = load_predictions(finished_topicbert_run()["run_dir"]).texts
    at.selectbox(key="documents_doc").set_value(max(range(len(texts)), key=lambda i: len(texts[i]))).run()
    assert escape("The first 32 word pieces: what TopicBERT-32's encoder read") in " ".join(c.value for c in at.caption)
    assert len(at.code) == 2 and escape("BERT-512 (baseline) reads up to 512 word pieces") in \
        " ".join(c.value for c in at.caption)
    # the encoder the presets named BERT run, said once (the tests' tiny encoder is no BERT of Google's)
    run = finished_topicbert_run()
    encoder = run_identity.encoder_name(RunConfig.from_dict(run["config"]).model)
    assert [c.value for c in at.caption].count(escape(f"TopicBERT-32 and BERT-512 run {encoder}.")) == 1


def test_documents_show_text_as_text(app, home):
    from topicbert.studio import documents
    at = app("app_pages/6_Documents.py").run()
    assert not at.exception
    at.selectbox(key="documents_agreement").set_value(documents.ALL).run()
    assert len(at.dataframe[0].value) > 1
    at.text_input(key="documents_query").set_value("alert").run()
    assert len(at.dataframe[0].value) == 1
    assert not at.exception
    assert any(EVIL in code.value for code in at.code)
    assert EVIL not in "".join(m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 2


def finished_topicbert_run() -> dict:
    with Store() as store:
        return next(r for r in store.list_runs() if r["variant"] == "topicbert" and r["status"] == "done")


def test_documents_open_on_a_topics_documents_or_one_document_from_a_link(app, home):
    run = finished_topicbert_run()
    dominant = int(load_predictions(run["run_dir"]).topic_mixtures.argmax(axis=1)[-1]) + 1  # numbered from 1
    at = app("app_pages/6_Documents.py")
    at.query_params.update({"run": str(run["id"]), "topic": str(dominant)})
    at.run()
    assert not at.exception
    topic = at.multiselect(key="documents_topic").value
    assert len(topic) == 1 and topic[0].startswith(f"{dominant}:")
    assert set(at.dataframe[0].value["dominant topic"]) <= set(topic)
    dominants = set(load_predictions(run["run_dir"]).topic_mixtures.argmax(axis=1) + 1)
    empty = next(k for k in range(1, 6) if k not in dominants)
    at = app("app_pages/6_Documents.py")
    at.query_params.update({"run": str(run["id"]), "topic": str(empty)})
    at.run()  # a topic no document is mostly about: said, not an error
    assert not at.exception and any("as its dominant topic" in i.value for i in at.info)
    at = app("app_pages/6_Documents.py")
    at.query_params.update({"run": str(run["id"]), "doc": "2"})
    at.run()
    assert not at.exception and at.selectbox(key="documents_doc").value == 2


def test_topics_show_each_topics_top_documents(app, home):
    at = app("app_pages/5_Topics.py").run()
    assert not at.exception
    top = at.dataframe[1].value
    assert len(top) > 1 and top["share"].is_monotonic_decreasing
    at.selectbox(key="topics_topic").set_value(2).run()
    assert not at.exception and at.dataframe[1].value["share"].is_monotonic_decreasing
    # one TopicBERT run on this corpus: nothing to match its topics with, and the page says so
    assert any("No other finished TopicBERT run on this corpus" in i.value for i in at.info)
    encoder = run_identity.encoder_name(RunConfig.from_dict(finished_topicbert_run()["config"]).model)
    assert escape(f"TopicBERT-32 runs {encoder}.") in [c.value for c in at.caption]


def test_runs_detail_shows_the_measurement_badge_and_why(app, home):
    run = finished_topicbert_run()
    at = app("app_pages/3_Runs.py").run()
    at.selectbox(key="runs_selected").set_value(run["id"]).run()
    assert not at.exception
    assert any("energy estimated" in m.value for m in at.markdown)
    assert any("cpu estimated" in c.value for c in at.caption)


def test_runs_detail_says_so_when_its_run_was_deleted_since_it_was_listed(app, home, monkeypatch):
    """Another tab deletes the run between the page listing it and reading it: one line, not a failure."""
    at = app("app_pages/3_Runs.py").run()
    listed = at.selectbox(key="runs_selected").value
    monkeypatch.setattr(Store, "get_run", lambda self, run_id: None)
    at.run()
    assert not at.exception, at.exception
    assert f"Run {listed} was deleted since this page listed it." in [info.value for info in at.info]


def test_runs_show_each_runs_settings_and_two_runs_side_by_side(app, home):
    at = app("app_pages/3_Runs.py").run()
    assert not at.exception
    settings = at.dataframe[1].value  # the selected run's, as a list
    assert list(settings["setting"])[:4] == ["corpus", "preset", "encoder", "epochs"]
    assert any("Pick two or more runs" in c.value for c in at.caption)
    at.multiselect(key="runs_side_by_side").set_value([1, 2]).run()  # TopicBERT-32 and its BERT-512 baseline
    assert not at.exception
    differing = at.dataframe[-1].value
    assert list(differing["run"]) == ["#1 TopicBERT-32", "#2 BERT-512"]
    assert "preset" in differing.columns and "topic model" in differing.columns
    assert "corpus" not in differing.columns and "seed" not in differing.columns  # the same for both


def test_runs_detail_names_the_checkpoint_only_while_a_run_can_resume_from_it(app, home):
    queued = RunConfig(corpus="gone.csv", device="cpu")
    with Store() as store:
        done, stopped = finished_topicbert_run()["id"], store.create_run(queued)
        store.set_checkpoint(done, 12)
        store.set_checkpoint(stopped, 12)
    at = app("app_pages/3_Runs.py").run()
    status = {}
    for run_id in (done, stopped):
        at.selectbox(key="runs_selected").set_value(run_id).run()
        status[run_id] = next(t.value for t in at.text if t.value.startswith("Status:"))
    assert status == {done: "Status: done", stopped: "Status: queued, checkpoint at step 12"}
    with Store() as store:
        services.cancel_run(store, stopped)


def test_runs_show_disk_use_and_delete_a_run_after_asking(app, home):
    with Store() as store:
        run_id = store.create_run(RunConfig(corpus="gone.csv", device="cpu"))
    at = app("app_pages/3_Runs.py").run()
    assert at.dataframe[0].value["disk (MB)"].notna().all()
    at.selectbox(key="runs_selected").set_value(run_id).run()
    assert at.button(key="runs_delete").disabled  # queued: cancel it first
    at.button(key="runs_cancel").click().run()
    at.button(key="runs_delete").click().run()
    assert any("for good" in w.value for w in at.warning)
    with Store() as store:
        assert store.get_run(run_id) is not None  # asked, not yet deleted
    at.button(key="runs_delete_yes").click().run()
    assert not at.exception
    with Store() as store:
        assert store.get_run(run_id) is None
    assert not (home / "runs" / str(run_id)).exists()


def test_corpora_show_disk_use_and_delete_a_corpus_after_asking(app, home):
    with Store() as store:
        corpus_id = saved_corpora.register_corpus(store, load_corpus(home / "tiny.csv", split_col="split"), "spare")
        path = Path(store.get_corpus(corpus_id)["path"])
    at = app("app_pages/1_Corpora.py").run()
    table = at.dataframe[0].value
    assert table.set_index("name").loc["spare", "disk (MB)"] == pytest.approx(path.stat().st_size / 1e6)
    assert "in all" in at.dataframe[1].value["what"].tolist()  # the storage overview
    at.selectbox(key="corpora_delete_which").set_value(corpus_id).run()
    at.button(key="corpora_delete").click().run()
    at.button(key="corpora_delete_yes").click().run()
    assert not at.exception
    with Store() as store:
        assert store.get_corpus(corpus_id) is None
    assert not path.exists()


def test_corpora_guess_text_label_and_split_columns(app, home):
    rows = "".join(f'"{text}",{label},{"test" if i % 5 == 0 else "train"}\n'
                   for i, (text, label) in enumerate(synthetic_documents(5)))
    at = app("app_pages/1_Corpora.py").run()
    at.file_uploader(key="corpora_upload").upload("docs.csv", ("doc,category,subset\n" + rows).encode()).run()
    assert not at.exception and not at.error
    assert [at.selectbox(key=k).value for k in ("corpora_text_col", "corpora_label_col", "corpora_split_col")] == [
        "doc", "category", "subset"]


def test_corpora_messages_name_the_users_own_file(app, home):
    at = app("app_pages/1_Corpora.py").run()
    at.file_uploader(key="corpora_upload").upload("my data.csv", b"text,label\nonly one class,a\n").run()
    message = " ".join(e.value for e in at.error).replace("\\", "")  # as shown: Markdown's escapes undone
    assert "my data.csv: found only 1 class" in message and str(home / "uploads") not in message


def test_corpora_read_a_zip_outside_the_app_process(app, home, monkeypatch):
    def in_this_process(*args, **kwargs):
        raise AssertionError("the upload was expanded inside the app's process")
    monkeypatch.setattr("topicbert.data.corpus._read_zip", in_this_process)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (text, label) in enumerate(synthetic_documents(4)):
            zf.writestr(f"news/{label}/{i}.txt", text)
    at = app("app_pages/1_Corpora.py").run()
    at.file_uploader(key="corpora_upload").upload("news.zip", archive.getvalue()).run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "12"  # the summary, read by the child


def test_train_reads_the_corpus_once_whatever_setting_changes(app, home, monkeypatch):
    at = app("app_pages/2_Train.py").run()
    reads = []
    real_read = corpus_module._read_jsonl
    monkeypatch.setattr(corpus_module, "_read_jsonl", lambda *a, **k: reads.append(1) or real_read(*a, **k))
    for key, value in (("train_epochs", 5), ("train_limit_train", 40), ("train_limit_eval", 8), ("train_lr", 2e-4)):
        at.number_input(key=key).set_value(value)
        at.button[0].click().run()  # "Estimate cost"
        assert not at.exception
    assert reads == []  # a saved corpus is JSONL: not one read after the first load
    assert any("word pieces" in c.value for c in at.caption)
