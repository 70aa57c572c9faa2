"""Uploads that cannot take the machine: the ZIP bomb of issue 33 refused at once, long documents cut as
training would cut them, limits honest corpora never reach, and the staging child's time and memory limits."""
from __future__ import annotations

import csv
import random
import shutil
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from conftest import SHARED_DATA, needs_shared

from benchmarks.upload_memory import write_bomb
from topicbert.data import corpus as corpus_module
from topicbert.data.batching import make_examples, tokenize
from topicbert.data.corpus import (
    MAX_DOC_CHARS,
    MAX_EXPANSION,
    CorpusError,
    builtin_corpus_path,
    load_corpus,
    summarize,
)
from topicbert.data.upload import GUESS_ROWS, PREVIEW_BYTES, guess_columns, preview_rows
from topicbert.model.encoders import load_tokenizer
from topicbert.runs.saved_corpora import register_corpus, stage_upload
from topicbert.runs.store import Store

ROOT = Path(__file__).resolve().parents[1]
WORDS = [f"{a}{b}{c}" for a in "bcdfgklmnprstvz" for b in "aeiou" for c in "dklmnrst"]  # 600 words


def honest_text(n_chars: int, seed: int = 0) -> str:
    """Words drawn at random, so deflate shrinks it as it shrinks text (about 2-3 times)."""
    rng = random.Random(seed)
    text = " ".join(rng.choices(WORDS, k=n_chars // 4 + 1))
    return text[:n_chars]


@pytest.fixture(scope="session")
def zip_bomb(tmp_path_factory) -> Path:
    """Issue 33's file: class folders holding 10 documents of 95 MB each (950 MB of text in 3 MB on disk)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    write_bomb(path)
    assert path.stat().st_size < 4 << 20
    return path


def one_line_error(path: Path, **kwargs) -> str:
    with pytest.raises(CorpusError) as info:
        load_corpus(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- the ZIP bomb


def test_zip_bomb_is_refused_before_anything_is_decompressed(zip_bomb, monkeypatch):
    def no_reading(*args, **kwargs):
        raise AssertionError("a member was opened before the expansion check")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    tracemalloc.start()
    start = time.perf_counter()
    message = one_line_error(zip_bomb)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "bomb.zip: the archive would expand 3" in message and "times" in message and "refused" in message
    assert elapsed < 2 and peak < 4 << 20, (elapsed, peak)


def test_corpus_check_refuses_the_zip_bomb_in_bounded_memory(zip_bomb):
    # a wrapper whose only child is the check, so its peak RSS is the check's own
    wrapper = ("import resource, subprocess, sys; "
               "child = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(child.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print(child.stderr, end='')")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "topicbert", "corpus", "check",
                          str(zip_bomb)], capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
    elapsed = time.perf_counter() - start
    status, stderr = out.split("\n", 1)
    returncode, peak_kib = map(int, status.split())
    assert returncode == 2 and stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert "would expand" in stderr and "refused" in stderr
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"  # no torch, nothing decompressed
    assert elapsed < 60


def test_zip_bomb_upload_is_refused_and_nothing_is_kept(zip_bomb, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    upload = tmp_path / "uploads" / "0123" / "bomb.zip"
    upload.parent.mkdir(parents=True)
    shutil.copyfile(zip_bomb, upload)
    with Store() as store:
        kept = register_corpus(store, load_corpus(builtin_corpus_path()), "kept")
        before = store.list_corpora()
        saved = Path(store.get_corpus(kept)["path"]).read_bytes()
        with pytest.raises(CorpusError) as info:
            stage_upload(store, upload, "bomb.zip", "text", "label", None)
        assert store.list_corpora() == before and Path(store.get_corpus(kept)["path"]).read_bytes() == saved
    message = str(info.value)
    assert message.startswith("bomb.zip: the archive would expand") and "refused" in message
    assert sorted(p.name for p in upload.parent.iterdir()) == ["bomb.zip"]


def test_expansion_is_judged_by_ratio_above_the_floor(tmp_path, monkeypatch):
    def archive(name: str, text: str) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for label in "ab":
                for i in range(3):
                    z.writestr(f"{label}/{i}.txt", text + f" {i}")
        return path

    honest = archive("honest.zip", honest_text(200_000))  # deflates about 3 times
    repeated = archive("repeated.zip", "same words again " * 20_000)  # about 300 times
    assert len(load_corpus(repeated)) == 6  # 2 MB: under the floor, harmless whatever its ratio
    monkeypatch.setattr(corpus_module, "EXPANSION_FLOOR_BYTES", 0)
    assert len(load_corpus(honest)) == 6
    assert f"an archive at most {MAX_EXPANSION}" in one_line_error(repeated)


# ---------------------------------------------------------------- long documents


def long_corpus_rows(long_text: str) -> list[tuple[str, str]]:
    return [(long_text, "a")] + [(honest_text(300, seed=i), "ab"[i % 2]) for i in range(1, 12)]


@pytest.mark.parametrize("form", ["folder", "zip", "csv", "jsonl"])
def test_long_document_keeps_its_beginning(tmp_path, form):
    long_text = honest_text(3 * MAX_DOC_CHARS)
    rows = long_corpus_rows(long_text)
    if form == "folder":
        path = tmp_path / "c"
        for i, (text, label) in enumerate(rows):
            (path / label).mkdir(parents=True, exist_ok=True)
            (path / label / f"{i:02d}.txt").write_text(text)
    elif form == "zip":
        path = tmp_path / "c.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for i, (text, label) in enumerate(rows):
                archive.writestr(f"{label}/{i:02d}.txt", text)
    elif form == "csv":
        path = tmp_path / "c.csv"
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([("text", "label"), *rows])
    else:
        path = tmp_path / "c.jsonl"
        path.write_text("".join(f'{{"text": "{text}", "label": "{label}"}}\n' for text, label in rows))
    corpus = load_corpus(path)
    kept = next(text for text in corpus.texts if len(text) > 1000)
    assert kept == long_text[:MAX_DOC_CHARS].rstrip() and corpus.cut_long == 1
    assert sorted(corpus.texts) == sorted(text[:MAX_DOC_CHARS].rstrip() for text, _ in rows)
    assert summarize(corpus)["cut_long"] == 1


def test_cut_document_gives_the_encoder_what_the_whole_one_gave(tmp_path, tiny_model_dir, monkeypatch):
    # a shorter cut, so the tiny tokenizer reads the documents in a moment: 20,000 characters are still more
    # than the 512 word pieces the encoder reads at most
    monkeypatch.setattr(corpus_module, "MAX_DOC_CHARS", 20_000)
    long_text = honest_text(30_000)
    path = tmp_path / "c.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *long_corpus_rows(long_text)])
    kept = max(load_corpus(path).texts, key=len)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    whole, cut = tokenize(tokenizer, [long_text, kept])
    assert len(cut) < len(whole)
    for mode in ("truncate", "partition"):  # up to the longest input, and the whole partition budget
        for max_len in (128, 512):
            assert make_examples([whole], max_len, mode, 2, 3) == make_examples([cut], max_len, mode, 2, 3)


def test_long_zip_member_is_read_no_further_than_the_cut(tmp_path):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/long.txt", "word " * (10 * MAX_DOC_CHARS))  # 50 MB, under the expansion floor
        for i in range(3):
            archive.writestr(f"a/{i}.txt", "a short one")
            archive.writestr(f"b/{i}.txt", "another short one")
    tracemalloc.start()
    corpus = load_corpus(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert corpus.cut_long == 1 and max(map(len, corpus.texts)) == MAX_DOC_CHARS
    assert peak < 40 << 20, f"peak {peak / 2**20:.0f} MiB"


def test_cut_inside_a_character_is_not_an_encoding_fallback(tmp_path):
    folder = tmp_path / "c"
    for label in "ab":
        (folder / label).mkdir(parents=True)
        for i in range(3):
            (folder / label / f"{i}.txt").write_text(f"short {label} {i}")
    # one byte, then 4-byte characters: the byte cut lands inside one
    (folder / "a" / "long.txt").write_text("x" + "\U0001F600" * MAX_DOC_CHARS, encoding="utf-8")
    corpus = load_corpus(folder)
    assert corpus.encoding_fallbacks == 0 and corpus.cut_long == 1
    assert max(corpus.texts, key=len) == "x" + "\U0001F600" * (MAX_DOC_CHARS - 1)


# ---------------------------------------------------------------- limits honest corpora never reach


@needs_shared
def test_real_corpora_read_as_before_none_cut():
    reuters = load_corpus(SHARED_DATA / "reuters8")
    news = load_corpus(SHARED_DATA / "20news-bydate.zip")
    bbc = load_corpus(builtin_corpus_path())
    assert (len(reuters), len(news), len(bbc)) == (7674, 18846, 2225)
    assert reuters.cut_long == news.cut_long == bbc.cut_long == 0
    with zipfile.ZipFile(SHARED_DATA / "20news-bydate.zip") as archive:
        expansion = sum(i.file_size for i in archive.infolist()) / (SHARED_DATA / "20news-bydate.zip").stat().st_size
    assert expansion < MAX_EXPANSION / 10


@pytest.mark.parametrize("form", ["csv", "folder", "split files"])
def test_more_text_than_a_corpus_may_hold_is_refused_before_reading(tmp_path, form):
    text = "\n".join(f"{honest_text(80, seed=i)},{'ab'[i % 2]}" for i in range(200))
    if form == "csv":
        path = tmp_path / "c.csv"
        path.write_text("text,label\n" + text)
    elif form == "folder":
        path = tmp_path / "c"
        for label in "ab":
            (path / label).mkdir(parents=True)
            for i in range(3):
                (path / label / f"{i}.txt").write_text(text)
    else:
        path = tmp_path / "c"
        path.mkdir()
        (path / "train.csv").write_text("text,label\n" + text)
        (path / "test.csv").write_text("text,label\n" + text)
    size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    assert load_corpus(path, max_total_bytes=size)
    message = one_line_error(path, max_total_bytes=size - 1)
    assert "MiB of text, over the limit" in message and "(max_total_bytes)" in message


# ---------------------------------------------------------------- the staging child's limits


@pytest.fixture
def upload_home(tmp_path, monkeypatch) -> Path:
    """A TOPICBERT_HOME with a 30 MB honest CSV upload in it."""
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    upload = tmp_path / "uploads" / "0123" / "big.csv"
    upload.parent.mkdir(parents=True)
    line = honest_text(1000)
    upload.write_text("text,label\n" + "".join(f"{line} {i},{'ab'[i % 2]}\n" for i in range(30_000)))
    return upload


def test_staging_child_past_its_memory_limit_stops_with_one_line(upload_home):
    with Store() as store:
        with pytest.raises(CorpusError) as info:
            stage_upload(store, upload_home, "big.csv", "text", "label", None, memory_bytes=16 << 20)
        assert store.list_corpora() == []
    assert str(info.value) == "big.csv: reading it needed more than the 16 MiB of memory an upload may take; " \
                              "nothing was saved"
    assert sorted(p.name for p in upload_home.parent.iterdir()) == ["big.csv"]


def test_staging_child_past_its_time_limit_stops_with_one_line(upload_home):
    with Store() as store:
        with pytest.raises(CorpusError) as info:
            stage_upload(store, upload_home, "big.csv", "text", "label", None, seconds=0.2)
        assert store.list_corpora() == []
    assert str(info.value) == "big.csv: reading it took more than 0.2 s, the most an upload may take; " \
                              "nothing was saved"
    assert sorted(p.name for p in upload_home.parent.iterdir()) == ["big.csv"]


def test_preview_in_the_app_reads_no_more_than_its_share(tmp_path):
    path = tmp_path / "c.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), ("short one", "a"), ("x" * (40 << 20), "b"),
                                 *[(f"doc {i}", "ab"[i % 2]) for i in range(10)]])
    tracemalloc.start()
    rows = preview_rows(path, GUESS_ROWS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows is not None and rows["text"].tolist() == ["short one"]  # the rows before the cut
    assert guess_columns(rows)["text_col"] == "text"
    assert peak < 5 * PREVIEW_BYTES, f"peak {peak / 2**20:.0f} MiB"


@pytest.mark.slow
def test_corpora_page_shows_the_zip_bomb_refused_and_keeps_what_it_had(zip_bomb, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from topicbert.runs import saved_corpora, services
    from topicbert.studio.text import escape

    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path))
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: False)
    monkeypatch.setattr(saved_corpora, "ensure_builtin_corpus", lambda store: None)
    with Store() as store:
        register_corpus(store, load_corpus(builtin_corpus_path()), "kept")
        before = store.list_corpora()
    at = AppTest.from_file(str(ROOT / "app_pages" / "1_Corpora.py"), default_timeout=120).run()
    at.file_uploader(key="corpora_upload").upload("bomb.zip", zip_bomb.read_bytes()).run()
    assert not at.exception
    assert [e.value for e in at.error] == [escape(  # shown as text, not markdown
        "bomb.zip: the archive would expand 343 times, from 2.8 MiB to 950.0 MiB; text expands 2 to 5 times and "
        "an archive at most 100 (a ZIP bomb expands hundreds): refused")]
    with Store() as store:
        assert store.list_corpora() == before
    assert not list((tmp_path / "uploads").glob("*/*.staged.*"))
