"""What the pages compute, without Streamlit: run tables, the comparison, cost projections,
document filters, saved corpora, uploads and Markdown escaping."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from topicbert.config import RunConfig
from topicbert.data.batching import make_examples
from topicbert.data.corpus import Corpus, CorpusError
from topicbert.data.splits import load_run_corpus
from topicbert.data.upload import guess_columns, preview_rows, stash_upload
from topicbert.energy.estimate import FALLBACK_PIECES_PER_SECOND, PastRun, estimate_run, training_pieces
from topicbert.runs import saved_corpora
from topicbert.runs.runner import StoreReporter
from topicbert.runs.store import Store
from topicbert.studio import (
    compare_choices,
    compare_curves,
    compare_summary,
    documents,
    launch,
    pareto_points,
    run_identity,
    runs_table,
    units,
)
from topicbert.studio.run_files import RunPredictions
from topicbert.studio.text import escape
from topicbert.studio.uncertainty import run_f1_interval, run_scores


def small_corpus() -> Corpus:
    texts = [f"document {i} about {label}" for i, label in enumerate("aabbab")]
    return Corpus(texts, list("aabbab"), ["train", "train", "train", "train", "validation", "test"], "test")


def finished(store: Store, config: RunConfig, f1: float, seconds: float, kwh: float, paired: int | None = None) -> int:
    run_id = store.create_run(config, paired_run_id=paired)
    store.claim_run(run_id, None, "cpu", host="here")
    store.set_final_metrics(run_id, {"test_macro_f1": f1, "train_seconds": seconds, "tokens_processed": 1000})
    store.add_energy(run_id, 10, 1.0, seconds, {"kwh": kwh, "kg_co2e": kwh / 2, "cpu_measured": True,
                                               "gpu_measured": None, "ram_measured": False, "measured": "cpu, ram"})
    store.finish_run(run_id, "done")
    return run_id


def test_summary_compares_against_the_baseline(store):
    base_config = RunConfig(corpus="c", variant="bert", max_len=512)
    base = finished(store, base_config, f1=0.80, seconds=100.0, kwh=0.02)
    topic = finished(store, base_config.replace(variant="topicbert", max_len=128), f1=0.78, seconds=50.0, kwh=0.01,
                     paired=base)
    assert compare_choices.default_runs(store) == [topic, base]
    frame = compare_summary.summary_frame(store, [topic, base], base).set_index("role")
    assert frame.loc["topicbert", "F1 retained (%)"] == pytest.approx(97.5)
    assert frame.loc["topicbert", "speedup (x)"] == pytest.approx(2.0)
    assert frame.loc["topicbert", "energy saved (%)"] == pytest.approx(50.0)
    assert frame.loc["baseline", "speedup (x)"] == pytest.approx(1.0)
    assert frame.loc["topicbert", "energy"] == "partly measured"
    assert frame.loc["topicbert", "g CO2e"] == pytest.approx(5.0)  # 0.005 kg, shown in grams
    # without a baseline the ratios are empty, not errors
    assert compare_summary.summary_frame(store, [topic], None)["speedup (x)"].isna().all()
    curves = compare_curves.co2_curves(store, [topic])
    assert curves[["wall_seconds", "kg_co2e"]].values.tolist() == [[0.0, 0.0], [50.0, 0.005]]
    pareto = pareto_points.pareto_frame(store, base_config.test_set)
    assert sorted(pareto["role"]) == ["baseline", "topicbert"] and pareto["f1_low"].isna().all()


def write_predictions(store: Store, run_id: int, texts: list[str], labels: np.ndarray, predicted: np.ndarray) -> None:
    """The test result files a finished run leaves (training/results.py), for runs made by hand."""
    import json
    from pathlib import Path

    folder = Path(store.get_run(run_id)["run_dir"])
    np.savez_compressed(folder / "test_predictions.npz", labels=labels,
                        probabilities=np.eye(2, dtype=np.float32)[predicted])
    (folder / "test_documents.json").write_text(json.dumps({"classes": ["a", "b"], "texts": texts}))


def test_compare_three_runs_with_intervals_and_one_test_set(store):
    from topicbert.studio.run_files import load_predictions

    base_config = RunConfig(corpus="c", variant="bert", max_len=512, limit_train=100, limit_eval=200)
    base = finished(store, base_config, f1=0.90, seconds=100.0, kwh=0.02)
    topic = finished(store, base_config.replace(variant="topicbert", max_len=128), 0.60, 40.0, 0.008, paired=base)
    tfidf = finished(store, base_config.replace(variant="tfidf"), 0.89, 2.0, 0.0001, paired=base)
    elsewhere = finished(store, base_config.replace(variant="topicbert", max_len=128, limit_eval=150),
                         0.95, 40.0, 0.008)
    rng = np.random.default_rng(0)
    texts, labels = [f"doc {i}" for i in range(200)], rng.integers(0, 2, 200)
    flip = lambda share: np.where(rng.random(200) < share, 1 - labels, labels)  # noqa: E731
    for run_id, wrong in ((base, 0.1), (topic, 0.4), (tfidf, 0.1)):
        write_predictions(store, run_id, texts, labels, flip(wrong))
    write_predictions(store, elsewhere, [t + "." for t in texts], labels, flip(0.05))
    assert compare_choices.default_runs(store) == [topic, base, tfidf]
    loaded = {i: load_predictions(store.get_run(i)["run_dir"]) for i in (base, topic, tfidf, elsewhere)}
    scores = {i: run_scores(p) for i, p in loaded.items()}
    frame = compare_summary.summary_frame(store, [topic, base, tfidf, elsewhere], base, scores).set_index("run")
    label = lambda run_id: run_identity.run_label(store.get_run(run_id))  # noqa: E731
    assert frame.loc[label(topic), "against the reference"] == "lower beyond the noise"
    assert frame.loc[label(topic), "verdict covers"] == "one seed's test documents only"
    assert 0 < frame.loc[label(topic), "detectable (±)"] < 0.3
    assert frame["seeds"].tolist() == [1, 1, 1, 1]
    assert frame.loc[label(tfidf), "role"] == "tfidf" and frame.loc[label(base), "against the reference"] == ""
    low, high = map(float, frame.loc[label(topic), "95% interval"].split("–"))
    assert low < 0.65 < high  # about 60% right on two classes
    assert frame.loc[label(topic), "retained 95% interval"] != ""
    # other limits: other test documents, so nothing is taken against the reference
    assert frame.loc[label(elsewhere), "against the reference"] == "tested on other documents"
    assert np.isnan(frame.loc[label(elsewhere), "F1 retained (%)"])
    assert np.isnan(frame.loc[label(elsewhere), "speedup (x)"])
    assert pareto_points.test_sets(store) == {base_config.replace(limit_eval=150).test_set: 1, base_config.test_set: 3}
    pareto = pareto_points.pareto_frame(store, base_config.test_set, {i: run_f1_interval(p) for i, p in loaded.items()})
    assert sorted(pareto["role"]) == ["baseline", "tfidf", "topicbert"]
    assert (pareto["f1_low"] <= pareto["f1_high"]).all()


def test_runs_that_differ_only_by_seed_share_a_row_with_their_verdict_over_seeds(store):
    """Three seeds of TopicBERT-128 and of BERT-512, each pair on its own seed's documents: one row each, the
    mean F1, an interval over the seeds and their documents, and ratios paired seed by seed."""
    from topicbert.studio.run_files import load_predictions

    base_config = RunConfig(corpus="c", variant="bert", max_len=512)
    rng = np.random.default_rng(1)
    ids = {}
    for seed, (ours_wrong, base_wrong) in zip((42, 43, 44), ((0.30, 0.10), (0.12, 0.10), (0.20, 0.10)), strict=True):
        base = finished(store, base_config.replace(seed=seed), f1=1 - base_wrong, seconds=100.0, kwh=0.02)
        topic = finished(store, base_config.replace(variant="topicbert", max_len=128, seed=seed), f1=1 - ours_wrong,
                         seconds=50.0, kwh=0.019, paired=base)
        texts, labels = [f"seed {seed} doc {i}" for i in range(300)], rng.integers(0, 2, 300)
        for run_id, wrong in ((base, base_wrong), (topic, ours_wrong)):
            write_predictions(store, run_id, texts, labels, np.where(rng.random(300) < wrong, 1 - labels, labels))
        ids[seed] = (topic, base)
    chosen = [i for pair in ids.values() for i in pair]
    assert sorted(compare_choices.default_runs(store)) == sorted(chosen)  # every seed of the newest pair
    assert compare_choices.seeds_beside(store, chosen, store.get_run(ids[43][1])) == [42, 43, 44]
    scores = {i: run_scores(load_predictions(store.get_run(i)["run_dir"])) for i in chosen}
    frame = compare_summary.summary_frame(store, chosen, ids[42][1], scores).set_index("role")
    assert frame["seeds"].tolist() == [3, 3]
    topic_row = frame.loc["topicbert"]
    assert topic_row["run"] == f"TopicBERT-128 × 3 seeds (#{ids[42][0]}, #{ids[43][0]}, #{ids[44][0]})"
    assert topic_row["test macro-F1"] == pytest.approx(np.mean([0.70, 0.88, 0.80]))
    assert topic_row["speedup (x)"] == pytest.approx(2.0)
    # seed by seed 17, 7 and 16 points below: beyond the noise of three seeds and their documents (t with 2
    # degrees of freedom), and F1 retained's interval agrees with the verdict
    assert topic_row["against the reference"] == "lower beyond the noise"
    assert topic_row["verdict covers"] == "3 seeds and their test documents"
    low, high = map(float, topic_row["retained 95% interval"].split("–"))
    assert high < 100 and high - low > 10
    # 5% between runs on one machine with CPU counters and codecarbon's RAM model (test_carbon_prices has the rule)
    assert topic_row["energy saved, read as"] == ("within the estimates' error (x1.10: one machine, CPU counters "
                                                  "and one RAM model)")
    # one seed alone of the same runs: a verdict over its test documents only
    single = compare_summary.summary_frame(store, list(ids[42]), ids[42][1], scores).set_index("role")
    assert single.loc["topicbert", "seeds"] == 1 and single.loc["topicbert", "verdict covers"].startswith("one seed")


def test_runs_frame_progress_and_eta(store):
    run_id = store.create_run(RunConfig(corpus="c"))
    assert runs_table.runs_frame(store)["status"].tolist() == ["queued"]
    store.claim_run(run_id, None, "cpu")
    store.set_attempt_start(run_id, 0)
    store.set_progress(run_id, 25, 100)
    run = store.get_run(run_id)
    assert runs_table.eta_seconds(run, now=run["attempt_started_at"] + 10) == pytest.approx(30.0)
    frame = runs_table.runs_frame(store, now=run["attempt_started_at"] + 10)
    assert frame.loc[0, "progress"] == pytest.approx(0.25) and frame.loc[0, "ETA"] == "30 s"
    with Store(store.path.parent / "empty.db") as empty:
        assert runs_table.runs_frame(empty).empty


def test_runs_table_shows_the_kept_evaluations_f1_not_the_latest(store):
    from topicbert.runs.services import format_status

    run_id = store.create_run(RunConfig(corpus="c"))
    store.claim_run(run_id, None, "cpu")
    for step, f1 in ((10, 0.70), (20, 0.85), (30, 0.80)):   # the run keeps step 20's model
        store.add_metrics(run_id, step, step / 10, float(step), {"val_macro_f1": f1})
    assert runs_table.runs_frame(store).loc[0, "val macro-F1"] == 0.85
    assert "best val macro-F1 0.8500" in format_status(store.run_overview(run_id)[0])


def test_runs_frame_names_a_finished_runs_precision(store):
    ids = [store.create_run(RunConfig(corpus="c")) for _ in range(4)]
    for run_id in ids:
        store.claim_run(run_id, None, "cpu")
    store.set_final_metrics(ids[0], {"bf16": True})
    store.set_final_metrics(ids[1], {"bf16": False})
    store.set_final_metrics(ids[2], {"bf16": None})  # TF-IDF: no encoder, no precision
    devices = dict(zip(*runs_table.runs_frame(store)[["id", "device"]].to_dict("list").values(), strict=True))
    assert devices == {ids[0]: "cpu, bf16", ids[1]: "cpu, float32", ids[2]: "cpu", ids[3]: "cpu"}


def test_eta_after_a_resume_counts_only_this_attempts_steps(store):
    run_id = store.create_run(RunConfig(corpus="c"))
    store.claim_run(run_id, None, "cpu")
    StoreReporter(store, run_id).on_start({"start_step": 80, "total_steps": 100, "steps_per_epoch": 10,
                                           "device": "cpu"})  # resumed from its step-80 checkpoint
    store.set_progress(run_id, 90, 100)
    began = store.get_run(run_id)["started_at"]
    assert runs_table.runs_frame(store, now=began + 10).loc[0, "ETA"] == "10 s"  # 10 steps in 10 s, 10 to go


@pytest.mark.parametrize("seconds, text", [(None, ""), (5, "5 s"), (125, "2 min 05 s"), (3 * 3600 + 60, "3 h 01 min")])
def test_format_duration(seconds, text):
    assert units.format_duration(seconds) == text


@pytest.mark.parametrize("mode, max_len", [("truncate", 32), ("partition", 32), ("partition", 64)])
def test_training_pieces_match_the_batching(mode, max_len):
    lengths = [0, 5, 30, 31, 100, 500]
    config = RunConfig(corpus="c", mode=mode, max_len=max_len, epochs=3)
    examples = make_examples([list(range(n)) for n in lengths], max_len, mode, -1, -2, config.partition_budget)
    assert training_pieces(lengths, config) == 3 * sum(len(e.input_ids) for e in examples)


def test_estimate_uses_past_runs_of_the_same_encoder():
    config = RunConfig(corpus="c", max_len=128, epochs=1)
    lengths = [200] * 10  # 10 x 128 pieces
    guess = estimate_run(config, False, lengths, [], kg_per_kwh=0.5, intensity_source="test")
    assert guess.pieces == 1280 and guess.seconds == pytest.approx(1280 / FALLBACK_PIECES_PER_SECOND)
    assert "no finished run" in guess.how
    history = [PastRun("default", "topicbert", 128, pieces=1000, bf16=False, seconds=10.0, kwh=0.001, kg_co2e=0.0005),
               PastRun("other", "topicbert", 128, pieces=1000, bf16=False, seconds=1000.0, kwh=None, kg_co2e=None)]
    estimate = estimate_run(config, False, lengths, history, kg_per_kwh=0.5, intensity_source="test")
    assert estimate.seconds == pytest.approx(12.8)
    assert estimate.kwh == pytest.approx(0.001 / 10 * 12.8)
    assert estimate.kg_co2e == pytest.approx(estimate.kwh * 0.5)
    assert "1 finished run" in estimate.how


def test_estimate_learns_from_runs_in_the_same_precision_first():
    config = RunConfig(corpus="c", max_len=128, epochs=1)
    lengths = [200] * 10
    float32 = PastRun("default", "topicbert", 128, pieces=1000, bf16=False, seconds=10.0, kwh=None, kg_co2e=None)
    bf16 = PastRun("default", "bert", 512, pieces=1000, bf16=True, seconds=6.0, kwh=None, kg_co2e=None)
    # a bf16 run of another variant speaks for a bf16 run before a float32 run of the same variant does
    assert estimate_run(config, True, lengths, [float32, bf16], 0.5, "test").seconds == pytest.approx(7.68)
    assert estimate_run(config, False, lengths, [float32, bf16], 0.5, "test").seconds == pytest.approx(12.8)
    # with only the other precision to go on, the estimate says so
    only_float32 = estimate_run(config, True, lengths, [float32], 0.5, "test")
    assert only_float32.seconds == pytest.approx(12.8)
    assert "in float32, where this run computes in bf16" in only_float32.how


def test_past_runs_know_their_precision(store, monkeypatch):
    monkeypatch.setattr("topicbert.training.device.uses_bf16", lambda device, config: config.cpu_bf16)  # bf16 CPU
    finished(store, RunConfig(corpus="c", cpu_bf16=True), f1=0.8, seconds=100.0, kwh=0.02)  # before results said
    recorded = finished(store, RunConfig(corpus="c", cpu_bf16=True), f1=0.8, seconds=100.0, kwh=0.02)
    store.set_final_metrics(recorded, {**store.get_run(recorded)["final_metrics"], "bf16": False})
    finished(store, RunConfig(corpus="c", cpu_bf16=False), f1=0.8, seconds=100.0, kwh=0.02)
    # a run that recorded its precision is believed; an older one is judged by what its config asked of this host
    assert [run.bf16 for run in launch.past_runs(store, "here")] == [False, False, True]  # newest first


def predictions(predicted: list[int], labels=(0, 1, 0)) -> RunPredictions:
    probabilities = np.eye(2)[predicted]
    return RunPredictions(["a", "b"], ["x one", "y two", "z three"], np.array(labels), probabilities,
                          topic_mixtures=np.array([[0.9, 0.1], [0.1, 0.9], [0.7, 0.3]]))


def test_documents_frame_and_filters():
    run, baseline = predictions([0, 1, 1]), predictions([1, 1, 0])
    frame = documents.documents_frame(run, baseline, ["1: x", "2: y"])
    assert frame["dominant topic"].tolist() == ["1: x", "2: y", "1: x"]
    only_topicbert = documents.filter_documents(frame, agreement=documents.TOPICBERT_ONLY)
    assert only_topicbert["doc"].tolist() == [0]
    assert documents.filter_documents(frame, agreement=documents.BASELINE_ONLY)["doc"].tolist() == [2]
    assert documents.filter_documents(frame, query="TWO")["doc"].tolist() == [1]
    assert documents.filter_documents(frame, true_labels=["a"], topics=["1: x"])["doc"].tolist() == [0, 2]
    # a baseline tested on other documents is left out, and its filters then match nothing
    other = RunPredictions(["a", "b"], ["p", "q", "r"], np.zeros(3, int), np.eye(2)[[0, 0, 0]], None)
    alone = documents.documents_frame(run, other)
    assert "baseline" not in alone and documents.filter_documents(alone, agreement=documents.BASELINE_ONLY).empty


def test_register_corpus_refuses_a_taken_name(store):
    corpus_id = saved_corpora.register_corpus(store, small_corpus(), " mine ")
    row = store.get_corpus(corpus_id)
    assert row["name"] == "mine" and row["n_docs"] == 6
    config = RunConfig(**saved_corpora.run_settings(row))
    assert load_run_corpus(config).texts == small_corpus().texts
    with pytest.raises(CorpusError, match="exists already"):
        saved_corpora.register_corpus(store, small_corpus(), "mine")
    with pytest.raises(CorpusError, match="give the corpus a name"):
        saved_corpora.register_corpus(store, small_corpus(), "  ")


def test_demo_corpus_follows_the_variable(store, monkeypatch):
    assert saved_corpora.demo_corpus(store) is None
    first = saved_corpora.register_corpus(store, small_corpus(), "first")
    saved_corpora.register_corpus(store, small_corpus(), "second")
    assert saved_corpora.demo_corpus(store)["name"] == "second"
    monkeypatch.setenv(saved_corpora.DEMO_ENV, "first")
    assert saved_corpora.demo_corpus(store)["id"] == first
    config = launch.demo_config(saved_corpora.demo_corpus(store))
    assert (config.name, config.limit_train) == ("TopicBERT-128", launch.DEMO_SETTINGS["limit_train"])
    monkeypatch.setenv(saved_corpora.DEMO_ENV, "missing")
    with pytest.raises(CorpusError, match="not in the corpus list"):
        saved_corpora.demo_corpus(store)


def test_upload_is_stashed_inside_its_folder_and_previewed(tmp_path):
    path = stash_upload("../../etc/evil name.tsv", b"text\tlabel\nhello\ta\n", tmp_path)
    assert path.parent.parent == tmp_path and path.name == "evil_name.tsv"
    preview = preview_rows(path)
    assert list(preview.columns) == ["text", "label"] and preview.iloc[0].tolist() == ["hello", "a"]
    jsonl = stash_upload("x.jsonl", b'{"text": "t", "label": 1}\n', tmp_path)
    assert preview_rows(jsonl).iloc[0].tolist() == ["t", "1"]
    assert preview_rows(stash_upload("x.zip", b"PK", tmp_path)) is None
    assert preview_rows(stash_upload("bad.jsonl", b"{not json\n", tmp_path)) is None


def test_markdown_escape_leaves_no_markup():
    text = "<b>x</b> [link](http://a) ![img](http://b) :red[c] $x$ *y* `z`"
    escaped = escape(text)
    assert all(f"\\{c}" in escaped for c in "<>[]()!:$*`")
    assert escaped.replace("\\", "") == text.replace("\\", "")


def test_column_guesses_from_the_first_rows():
    rows = pd.DataFrame({"id": ["1", "2", "3", "4"],
                         "doc": ["a long text here", "another long one", "more words", "x y"],
                         "category": ["sport", "money", "sport", "money"], "subset": ["train", "test", "train", "dev"],
                         "lang": ["en"] * 4})
    assert guess_columns(rows) == {"text_col": "doc", "label_col": "category", "split_col": "subset"}
    named = pd.DataFrame({"Label": ["b", "b"], "text": ["x", "y"], "body": ["a much longer body", "z" * 40]})
    assert guess_columns(named) == {"text_col": "text", "label_col": "Label", "split_col": None}


def test_the_estimate_and_compare_read_every_finished_run_in_a_fixed_number_of_queries(store, monkeypatch):
    base_config = RunConfig(corpus="c", variant="bert", max_len=512)
    queries = []
    real_rows = Store._rows
    monkeypatch.setattr(Store, "_rows",
                        lambda self, sql, params=(): queries.append(sql) or real_rows(self, sql, params))

    def count(make) -> int:
        queries.clear()
        make()
        return len(queries)
    finished(store, base_config, f1=0.8, seconds=100.0, kwh=0.02)
    pareto = lambda: pareto_points.pareto_frame(store, base_config.test_set)  # noqa: E731
    few = count(lambda: launch.past_runs(store, "here")), count(pareto)
    for _ in range(5):
        finished(store, base_config, f1=0.8, seconds=100.0, kwh=0.02)
    assert len(launch.past_runs(store, "here")) == 6 and len(pareto()) == 6
    assert (count(lambda: launch.past_runs(store, "here")), count(pareto)) == few


def test_the_encoder_is_named_once_beside_presets_that_say_bert_but_run_another():
    def run(name: str, **settings) -> dict:
        return {"name": name, "config": RunConfig(corpus="c", **settings).to_dict()}

    runs = [run("TopicBERT-128", variant="topicbert", max_len=128), run("BERT-512", variant="bert", max_len=512),
            run("BERT-512", variant="bert", max_len=512, seed=43), run("TF-IDF", variant="tfidf"), None]
    assert run_identity.runs_encoders_sentence(runs) == "TopicBERT-128 and BERT-512 run all-MiniLM-L6-v2"
    assert run_identity.runs_encoders_sentence([runs[0]]) == "TopicBERT-128 runs all-MiniLM-L6-v2"
    # BERT itself is not named again, and TF-IDF has no encoder to name
    assert run_identity.runs_encoders_sentence([run("BERT-512", variant="bert", model="bert-base-uncased"),
                                                runs[3]]) == ""
