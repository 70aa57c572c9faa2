"""`predict`: a file's rows classified chunk by chunk into one output row each, in input order, with the F1 where
rows are labelled; bad input refused in one line with nothing half-written; memory flat in the file's size."""
from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_documents

from topicbert.cli import main
from topicbert.config import RunConfig, UserError
from topicbert.data.corpus import MAX_DOC_CHARS, CorpusError
from topicbert.inference.classifier import Classifier, open_classifier
from topicbert.inference.model_folder import run_model_parts
from topicbert.inference.predict_file import predict_file, read_chunks, report_path
from topicbert.stats.bootstrap import confusion_f1_interval, f1_interval
from topicbert.studio.run_files import load_predictions
from topicbert.training.loop import train
from topicbert.training.metrics import confusion, macro_f1


def trained(folder: Path, config: RunConfig) -> Classifier:
    train(config, folder)
    predictions = load_predictions(str(folder))
    assert predictions is not None
    return open_classifier(run_model_parts(folder, config, predictions.classes), "cpu")


@pytest.fixture(scope="module")
def topicbert_model(tmp_path_factory, tiny_model_dir, tiny_corpus_csv) -> Classifier:
    config = RunConfig(corpus=str(tiny_corpus_csv), model=str(tiny_model_dir), max_len=32, epochs=1, batch_size=8,
                       n_topics=5, tm_hidden=16, bow_min_df=1, bow_drop_top=0.0, tm_pretrain_epochs=3, lr=1e-3,
                       eval_batch_size=16, device="cpu", resumable_checkpoints=False)
    return trained(tmp_path_factory.mktemp("topicbert"), config)


@pytest.fixture(scope="module")
def tfidf_model(tmp_path_factory, tiny_corpus_csv) -> Classifier:
    return trained(tmp_path_factory.mktemp("tfidf"), RunConfig(corpus=str(tiny_corpus_csv), variant="tfidf"))


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_row_comes_out_once_in_order_with_its_flags_and_topic(topicbert_model, tmp_path):
    docs = synthetic_documents(4, seed=3)
    rows = [{"doc": f"d{i}", "body": text, "label": label} for i, (text, label) in enumerate(docs)]
    rows[2]["body"] = ""                    # empty: classified and flagged, never dropped
    rows[5]["body"] = "   "
    rows[7]["body"] = "game team " * 10_000  # 100,000 characters: cut as training cut it
    corpus = write_csv(tmp_path / "in.csv", rows)
    # one row's bytes are not UTF-8: read as cp1252, as uploads are
    corpus.write_bytes(corpus.read_bytes().replace(b"d3,", b"d3,caf\xe9 ", 1))
    out = tmp_path / "out.csv"
    report = predict_file(topicbert_model, corpus, out, text_col="body", id_col="doc", every_probability=True,
                          mixture=True, chunk_size=5, progress=False, meter=False)
    written = read_csv(out)
    assert [row["id"] for row in written] == [row["doc"] for row in rows]
    texts = [row["body"] for row in rows]
    texts[3] = "café " + texts[3]
    expected = topicbert_model.classify(texts)
    classes = list(topicbert_model.classes_)
    probabilities = np.array([[float(row[f"p_{name}"]) for name in classes] for row in written])
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=2e-5)  # across chunks of 5: 1e-5 apart
    assert [row["label"] for row in written] == [classes[i] for i in probabilities.argmax(axis=1)]
    assert [row["flags"] for row in written][:8] == ["", "", "empty", "not UTF-8", "", "empty", "", ""]
    topics = topicbert_model.topic_words()
    for row, mixture in zip(written, expected.topic_mixtures, strict=True):
        assert int(row["topic"]) == mixture.argmax()
        assert row["topic_words"] == " ".join(topics[int(row["topic"])][:5])
        assert abs(sum(float(row[f"topic_{k}"]) for k in range(5)) - 1) < 1e-4
    assert (report.documents, report.empty, report.not_utf8, report.labelled) == (len(rows), 2, 1, len(rows))
    assert report.macro_f1 is not None and report.macro_f1_ci[0] <= report.macro_f1 <= report.macro_f1_ci[1]
    assert json.loads(report_path(out).read_text())["documents"] == len(rows)
    assert [p.name for p in tmp_path.iterdir()] == sorted(["in.csv", "out.csv", "out.csv.cost.json"], key=[
        p.name for p in tmp_path.iterdir()].index)


def test_jsonl_in_and_out_numbers_rows_without_an_id_and_needs_no_label(tfidf_model, tmp_path):
    corpus = tmp_path / "in.jsonl"
    texts = [text for text, _ in synthetic_documents(3, seed=5)]
    corpus.write_text("".join(json.dumps({"text": text}) + "\n" + ("\n" if i == 2 else "")
                              for i, text in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    report = predict_file(tfidf_model, corpus, out, chunk_size=4, progress=False, meter=False)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in written] == [str(i) for i in range(1, len(texts) + 1)]
    assert [row["label"] for row in written] == list(tfidf_model.predict(texts))
    assert "topic" not in written[0] and "p_money" not in written[0]
    assert report.macro_f1 is None and report.labelled == 0


def test_labels_the_model_does_not_know_are_left_out_of_the_f1_and_said(tfidf_model, tmp_path):
    rows = [{"text": text, "label": label if i % 3 else "weather"}
            for i, (text, label) in enumerate(synthetic_documents(4, seed=2))]
    corpus = write_csv(tmp_path / "in.csv", rows)
    report = predict_file(tfidf_model, corpus, tmp_path / "out.csv", progress=False, meter=False)
    assert (report.labelled, report.unknown_labels) == (8, 4) and report.macro_f1 is not None
    assert "4 rows with labels the model does not know left out" in report.lines()[-1]
    write_csv(corpus, [{"text": "game team", "label": "weather"}] * 3)
    report = predict_file(tfidf_model, corpus, tmp_path / "out2.csv", progress=False, meter=False)
    assert report.macro_f1 is None
    assert report.lines()[-1] == "no macro-F1: none of the 3 rows' labels is one of the model's classes"


def test_chunks_resume_at_a_chunk_index(tmp_path):
    corpus = write_csv(tmp_path / "in.csv", [{"text": f"text {i}", "label": "x"} for i in range(10)])
    chunks = list(read_chunks(corpus, chunk_size=3, start_chunk=2))
    assert [chunk.index for chunk in chunks] == [2, 3]
    assert [chunk.ids for chunk in chunks] == [["7", "8", "9"], ["10"]]
    assert chunks[0].texts == ["text 6", "text 7", "text 8"] and chunks[0].labels == ["x"] * 3


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_text_longer_than_a_document_is_cut_as_read_and_the_columns_after_it_kept(tmp_path, suffix):
    long_text = "game team " * (MAX_DOC_CHARS // 4)  # 2.5 MiB on one line: read in pieces
    rows = [{"doc": "d1", "text": long_text, "label": "sport"}, {"doc": "d2", "text": "bank", "label": "money"}]
    corpus = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        write_csv(corpus, rows)
    else:
        corpus.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (chunk,) = read_chunks(corpus, id_col="doc")
    assert chunk.ids == ["d1", "d2"] and chunk.labels == ["sport", "money"]
    assert chunk.texts == [long_text[:MAX_DOC_CHARS], "bank"]  # what the classifier would read of it


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_corpus_without_the_text_column_lists_the_columns_it_has_and_writes_nothing(tfidf_model, tmp_path, suffix):
    corpus = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        write_csv(corpus, [{"body": "game team", "label": "sport"}])
    else:
        corpus.write_text(json.dumps({"body": "game team", "label": "sport"}) + "\n")
    with pytest.raises(CorpusError, match=r"no (text column|field) 'text'.*'body', 'label'"):
        predict_file(tfidf_model, corpus, tmp_path / "out.csv", progress=False, meter=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [corpus.name]


def test_an_output_folder_that_does_not_exist_is_refused(tfidf_model, tmp_path):
    corpus = write_csv(tmp_path / "in.csv", [{"text": "game team", "label": "sport"}])
    with pytest.raises(UserError, match="the output's folder .*missing does not exist"):
        predict_file(tfidf_model, corpus, tmp_path / "missing" / "out.csv", progress=False, meter=False)
    with pytest.raises(UserError, match="must end in .csv or .jsonl"):
        predict_file(tfidf_model, corpus, tmp_path / "out.parquet", progress=False, meter=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_failure_midway_leaves_no_partial_output(tfidf_model, tmp_path):
    rows = [{"text": "game team", "label": "sport"}] * 10
    corpus = write_csv(tmp_path / "in.csv", rows)
    corpus.write_text(corpus.read_text() + 'broken,"row,with,too,many\n')
    with pytest.raises(CorpusError, match="record 11"):
        predict_file(tfidf_model, corpus, tmp_path / "out.csv", chunk_size=3, progress=False, meter=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def peak_bytes(model: Classifier, corpus: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        predict_file(model, corpus, out, chunk_size=200, progress=False, meter=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_file_grows_tenfold(tfidf_model, tmp_path):
    docs = synthetic_documents(350, seed=1)   # 1,050 documents, then 10,500
    small = write_csv(tmp_path / "small.csv", [{"text": t, "label": label} for t, label in docs])
    large = tmp_path / "large.csv"
    lines = small.read_text().splitlines(keepends=True)
    large.write_text(lines[0] + "".join(lines[1:]) * 10)
    small_peak = peak_bytes(tfidf_model, small, tmp_path / "small-out.csv")
    large_peak = peak_bytes(tfidf_model, large, tmp_path / "large-out.csv")
    assert len(read_csv(tmp_path / "large-out.csv")) == 10_500
    # ten times the documents: the peak of what Python holds grows by no more than the labels kept for the F1
    assert large_peak < 1.25 * small_peak, (small_peak, large_peak)


def test_the_command_line_predicts_from_a_run_and_refuses_an_unknown_one(store, tiny_corpus_csv, tmp_path, capsys):
    config = RunConfig(corpus=str(tiny_corpus_csv), variant="tfidf")
    run_id = store.create_run(config)
    train(config, Path(store.get_run(run_id)["run_dir"]))
    store.claim_run(run_id, None, "cpu")
    store.finish_run(run_id, "done")
    out = tmp_path / "out.csv"
    assert main(["predict", str(run_id), "--corpus", str(tiny_corpus_csv), "--out", str(out), "--probabilities",
                 "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "90 documents in" in said and "macro-F1" in said and "95% interval" in said
    assert len(read_csv(out)) == 90 and "p_sport" in read_csv(out)[0]
    assert main(["predict", "99", "--corpus", str(tiny_corpus_csv), "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert not (tmp_path / "x.csv").exists()


def test_the_interval_from_the_confusion_matrix_is_the_document_bootstrap():
    """Resampling documents draws the confusion cells from a multinomial: the same interval, within the noise of
    1,000 resamples, in memory that does not grow with the documents."""
    rng = np.random.default_rng(7)
    true = rng.integers(0, 4, 3000)
    predicted = np.where(rng.random(3000) < 0.7, true, rng.integers(0, 4, 3000))
    by_documents = f1_interval(true, predicted)
    by_cells = confusion_f1_interval(np.array(confusion(true, predicted, 4)))
    assert by_cells[0] < macro_f1(true, predicted) < by_cells[1]
    np.testing.assert_allclose(by_cells, by_documents, atol=0.005)   # the interval is about 0.035 wide


def test_the_progress_bar_shows_documents_per_second_and_a_named_label_column_is_required(tfidf_model, tmp_path,
                                                                                          capsys):
    corpus = tmp_path / "in.tsv"
    corpus.write_text("text\tcategory\n" + "".join(f"{text}\t{label}\n" for text, label in synthetic_documents(4)))
    report = predict_file(tfidf_model, corpus, tmp_path / "out.csv", label_col="category", chunk_size=5, meter=False)
    assert "docs/s" in capsys.readouterr().err and report.labelled == 12   # TSV read by its header's tabs
    with pytest.raises(CorpusError, match="no label column 'topic'; columns found: 'text', 'category'"):
        predict_file(tfidf_model, corpus, tmp_path / "other.csv", label_col="topic", require_label=True,
                     progress=False, meter=False)
    assert not (tmp_path / "other.csv").exists()
