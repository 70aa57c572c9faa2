"""Disk use: what runs and corpora keep, deleting them whole, and gc."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import synthetic_documents

from topicbert import cli
from topicbert.config import RunConfig
from topicbert.data.corpus import Corpus
from topicbert.data.shared_texts import texts_folder
from topicbert.data.token_cache import corpus_cache_folder
from topicbert.runs import saved_corpora, storage
from topicbert.runs.store import Store
from topicbert.studio.documents import same_documents
from topicbert.studio.run_files import load_predictions
from topicbert.training.checkpoints import Checkpoints
from topicbert.training.loop import train


def corpus() -> Corpus:
    rows = synthetic_documents(4)
    return Corpus([t for t, _ in rows], [label for _, label in rows], ["train"] * 8 + ["validation"] * 2 + ["test"] * 2,
                  "mine.csv")


def ended_run(store: Store, status: str = "done", **changes) -> int:
    run_id = store.create_run(RunConfig(corpus="c.csv", device="cpu").replace(**changes))
    store.claim_run(run_id, None, "cpu")
    store.finish_run(run_id, status)
    return run_id


def checkpoint(store: Store, run_id: int) -> Checkpoints:
    checkpoints = Checkpoints(Path(store.get_run(run_id)["run_dir"]))
    checkpoints.resume.write(lambda folder: (folder / "model.safetensors").write_bytes(b"w" * 3000))
    return checkpoints


def old(path: Path) -> Path:
    an_hour_and_more = time.time() - storage.UPLOAD_GRACE_SECONDS - 60
    os.utime(path, (an_hour_and_more, an_hour_and_more))
    return path


def test_runs_tested_on_the_same_documents_keep_their_texts_once(store, tiny_config):
    config = tiny_config.replace(variant="bert", epochs=1)
    first, second = (Path(store.get_run(store.create_run(config))["run_dir"]) for _ in range(2))
    train(config, first)
    train(config.replace(max_len=64), second)
    assert len(list(texts_folder().glob("*.json"))) == 1
    for folder in (first, second):
        assert "texts" not in json.loads((folder / "test_documents.json").read_text())
    a, b = load_predictions(str(first)), load_predictions(str(second))
    assert a.texts and a.texts == b.texts and same_documents(a, b)


def test_gc_frees_what_no_run_needs_and_says_what(store, capsys):
    done, failed = ended_run(store), ended_run(store, "failed")
    kept = checkpoint(store, failed)  # a failed run may be resumed: its checkpoint stays
    checkpoint(store, done)
    gone_run = ended_run(store)
    store.delete_run(gone_run)  # as if killed between the rows and the files
    corpus_id = saved_corpora.register_corpus(store, corpus(), "mine")
    path = store.get_corpus(corpus_id)["path"]
    cache = corpus_cache_folder(path)
    cache.mkdir(parents=True)
    (cache / "source.txt").write_text(str(Path(path).resolve()))
    (cache / "pieces.npz").write_bytes(b"p" * 500)
    store.delete_corpus(corpus_id)  # the rows only, as if killed before the files
    uploads = store.path.parent / "uploads"
    stale_upload, fresh_upload = uploads / "a", uploads / "b"
    for folder in (stale_upload, fresh_upload):
        folder.mkdir(parents=True)
        (folder / "mine.csv").write_text("text,label\n")
    old(stale_upload)
    texts_folder().mkdir(parents=True)
    orphan_texts = texts_folder() / "0123.json"
    orphan_texts.write_text("[]")
    old(orphan_texts)

    assert cli.main(["gc"]) == 0
    out = capsys.readouterr().out
    assert "resumable checkpoints of finished runs: 1 removed" in out
    assert "files of deleted runs: 1 removed" in out and "files of deleted corpora: 1 removed" in out
    assert "cached word pieces and embeddings of deleted corpora: 1 removed" in out
    assert "uploads not saved as a corpus: 1 removed" in out and "test texts no run names: 1 removed" in out
    assert out.strip().splitlines()[-1].startswith("freed ")
    assert Checkpoints(Path(store.get_run(done)["run_dir"])).resumable() is None
    assert kept.resumable() is not None
    assert not Path(store.path.parent / "runs" / str(gone_run)).exists()
    assert not Path(path).exists() and not cache.exists()
    assert not stale_upload.exists() and fresh_upload.exists() and not orphan_texts.exists()
    assert cli.main(["gc"]) == 0 and "freed 0 B in all" in capsys.readouterr().out  # nothing left to free


def test_a_delete_killed_between_rows_and_files_leaves_no_half_run(store, monkeypatch):
    run_id = ended_run(store)
    checkpoint(store, run_id)
    folder = Path(store.get_run(run_id)["run_dir"])

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed
    monkeypatch.setattr(storage.shutil, "rmtree", killed)
    with pytest.raises(Killed):
        storage.delete_run(store, run_id)
    assert store.get_run(run_id) is None and folder.exists()  # nothing listed; only files no row names
    monkeypatch.undo()
    assert store.create_run(RunConfig(corpus="c.csv")) != run_id  # the folder is never a new run's
    storage.collect_garbage(store)
    assert not folder.exists()


def test_queued_or_running_runs_and_corpora_in_use_are_not_deleted(store):
    corpus_id = saved_corpora.register_corpus(store, corpus(), "mine")
    row = store.get_corpus(corpus_id)
    run_id = store.create_run(RunConfig(**saved_corpora.run_settings(row), device="cpu"), corpus_id)
    with pytest.raises(storage.StorageError, match="cancel it first"):
        storage.delete_run(store, run_id)
    with pytest.raises(storage.StorageError, match=f"#{run_id} still read"):
        storage.delete_corpus(store, corpus_id)
    store.claim_run(run_id, None, "cpu")
    with pytest.raises(storage.StorageError, match="running: cancel it first"):
        storage.delete_run(store, run_id)
    store.finish_run(run_id, "done")
    saved = Path(row["path"])
    size = saved.stat().st_size
    assert storage.delete_corpus(store, corpus_id) == size
    assert store.get_corpus(corpus_id) is None and not saved.exists()
    assert store.get_run(run_id)["corpus_id"] is None  # its finished run keeps its results
    folder = Path(store.get_run(run_id)["run_dir"])
    assert storage.delete_run(store, run_id) > 0 and not folder.exists()


def test_disk_use_of_runs_and_corpora(store):
    run_id = ended_run(store)
    checkpoint(store, run_id)
    corpus_id = saved_corpora.register_corpus(store, corpus(), "mine")
    run_bytes = storage.run_disk_use(store)[run_id]
    assert run_bytes >= 3000  # the checkpoint, and config.json beside it
    assert storage.corpus_disk_use(store)[corpus_id] == Path(store.get_corpus(corpus_id)["path"]).stat().st_size
    overview = storage.storage_overview(store)
    assert overview["runs"] == run_bytes and overview["database"] > 0
    assert storage.format_bytes(1_234_567) == "1.2 MB" and storage.format_bytes(999) == "999 B"
