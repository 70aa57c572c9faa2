"""The Documents page's plain data: it opens where TopicBERT and its baseline disagree, shows the TF-IDF
reference's prediction too, and marks where the word pieces the short model read end."""
from __future__ import annotations

import numpy as np

from topicbert.studio import documents
from topicbert.studio.run_files import RunPredictions


def run(predicted: list[int], texts: list[str] | None = None) -> RunPredictions:
    texts = texts or ["one", "two", "three", "four"]
    return RunPredictions(["a", "b"], texts, np.array([0, 1, 0, 1]), np.eye(2, dtype=np.float32)[predicted], None)


def test_disagreements_first_and_the_references_prediction_beside():
    ours, theirs, tfidf = run([0, 1, 1, 0]), run([0, 0, 0, 0]), run([1, 1, 1, 1])
    frame = documents.documents_frame(ours, theirs, tfidf=tfidf)
    assert documents.AGREEMENTS[0] == documents.DISAGREE
    assert documents.filter_documents(frame, agreement=documents.DISAGREE)["doc"].tolist() == [1, 2]
    assert frame[documents.TFIDF].tolist() == ["b"] * 4
    elsewhere = run([1, 1, 1, 1], texts=["other", "texts", "than", "these"])
    assert documents.TFIDF not in documents.documents_frame(ours, theirs, tfidf=elsewhere)


def test_the_cut_falls_after_the_last_word_that_fits():
    pieces = {"unbelievable": 3, "cat": 1}  # a long word is several pieces
    count = lambda word: pieces.get(word.strip(".,"), 1)  # noqa: E731
    text = "cat cat unbelievable cat, cat"
    assert documents.read_cut(text, count, 5) == text.index("cat,")  # 1 + 1 + 3 fit; the fourth word does not
    assert documents.read_cut(text, count, 4) == text.index("unbelievable")  # a word is never split
    assert documents.read_cut(text, count, 7) is None  # everything fits
