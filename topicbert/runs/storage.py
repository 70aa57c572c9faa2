"""What the Studio keeps on disk and letting it go: each run's and corpus's disk use, deleting a
run or a corpus whole, and `gc` (`python -m topicbert gc`): what no run needs any more.

A delete removes the rows first, in one transaction, then the files. Killed in between, it
leaves files that no row names under an id the store never gives again (see Store.deleted_ids),
which gc removes: never a run or a corpus that is listed but half gone.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..data.shared_texts import texts_folder
from ..data.token_cache import caches_of_missing_corpora, corpus_cache_folder, token_cache_root
from ..training.checkpoints import Checkpoints
from .processes import process_alive
from .store import ACTIVE, Store, hostname

# an upload this recent may still be on someone's Corpora page (the page writes it again if not)
UPLOAD_GRACE_SECONDS = 3600.0
# shared test texts this recent may belong to a run that is writing its results right now
TEXTS_GRACE_SECONDS = 3600.0


class StorageError(Exception):
    """A delete that is refused, worded for a person."""


@dataclass(frozen=True)
class Freed:
    what: str
    items: int
    bytes: int


def format_bytes(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def path_bytes(path: Path | str | None) -> int:
    """Bytes of a file, or of everything under a folder; 0 if it is not there."""
    if not path:
        return 0
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # deleted while we looked
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _home(store: Store) -> Path:
    return store.path.parent


# ---------------------------------------------------------------- disk use

def run_disk_use(store: Store) -> dict[int, int]:
    """Each run's folder, in bytes (the test texts it shares with other runs are counted apart)."""
    return {run_id: path_bytes(folder) for run_id, folder in store.run_folders().items()}


def corpus_disk_use(store: Store) -> dict[int, int]:
    """Each saved corpus: its parsed copy and its cached word pieces and embeddings, in bytes."""
    return {row["id"]: path_bytes(row["path"]) + (path_bytes(corpus_cache_folder(row["path"])) if row["path"] else 0)
            for row in store.list_corpora()}


def storage_overview(store: Store) -> dict[str, int]:
    """Bytes of each kind of thing under TOPICBERT_HOME."""
    home = _home(store)
    return {"runs": path_bytes(home / "runs"), "saved corpora": path_bytes(home / "corpora"),
            "cached word pieces and embeddings": path_bytes(token_cache_root()),
            "shared test texts": path_bytes(texts_folder()),
            "uploads": path_bytes(home / "uploads"),
            "prediction jobs": path_bytes(home / "jobs"),  # their uploaded files, chunks and outputs kept there
            "database": sum(path_bytes(store.path.with_name(store.path.name + end)) for end in ("", "-wal", "-shm"))}


# ---------------------------------------------------------------- deleting

def delete_run(store: Store, run_id: int) -> int:
    """Delete an ended run, rows and files; returns the bytes freed. StorageError if it is queued or
    running (cancel it first) or its process is still ending."""
    run = store.get_run(run_id)
    if run is None:
        raise StorageError(f"there is no run {run_id}")
    if run["status"] in ACTIVE:
        raise StorageError(f"run {run_id} is {run['status']}: cancel it first")
    if run["host"] == hostname() and process_alive(run["pid"], run["started_at"]):
        raise StorageError(f"run {run_id}'s process is still ending: try again in a few seconds")
    size = path_bytes(run["run_dir"])
    if not store.delete_run(run_id):
        raise StorageError(f"run {run_id} was queued again meanwhile: cancel it first")
    if run["run_dir"]:
        shutil.rmtree(run["run_dir"], ignore_errors=True)
    return size


def delete_corpus(store: Store, corpus_id: int) -> int:
    """Unlist a saved corpus and delete its parsed copy and cached word pieces and embeddings; its finished runs
    keep their results. Returns the bytes freed. StorageError if a queued or running run reads it."""
    row = store.get_corpus(corpus_id)
    if row is None:
        raise StorageError(f"there is no corpus {corpus_id}")
    busy = store.corpus_runs(corpus_id)
    if busy:
        raise StorageError(f"run(s) {', '.join(f'#{i}' for i in busy)} still read “{row['name']}”: "
                           f"cancel them first")
    files = _corpus_files(store, row["path"])
    size = sum(path_bytes(path) for path in files)
    if not store.delete_corpus(corpus_id):
        raise StorageError(f"a run was queued on “{row['name']}” meanwhile: cancel it first")
    for path in files:
        _remove(path)
    return size


def _corpus_files(store: Store, path: str | None) -> list[Path]:
    """A saved corpus's files: its parsed copy (only ever one the Studio wrote) and cached pieces."""
    if not path:
        return []
    saved = Path(path)
    ours = saved.parent == _home(store) / "corpora"
    return ([saved] if ours else []) + [corpus_cache_folder(path)]


# ---------------------------------------------------------------- gc

def _older_than(paths: Iterable[Path], seconds: float, now: float) -> list[Path]:
    return [path for path in paths if now - path.stat().st_mtime > seconds]


def _named_texts(store: Store) -> set[str]:
    """The shared test texts some run's folder names."""
    named = set()
    for folder in store.run_folders().values():
        documents = Path(folder or "") / "test_documents.json"
        if folder and documents.exists():
            named.add(json.loads(documents.read_text(encoding="utf-8")).get("texts_digest"))
    return named


def _garbage(store: Store, now: float) -> list[tuple[str, Callable[[], list[Path]]]]:
    """What gc removes, by kind, in order: each list is made once the kinds before it are gone
    (the cached pieces of a deleted corpus are found once its file is)."""
    home = _home(store)
    corpora = home / "corpora"

    def checkpoints() -> list[Path]:
        finished = [Checkpoints(Path(run["run_dir"])) for run in store.list_runs("done") if run["run_dir"]]
        return [path for c in finished for path in (c.resume.path, c.resume.tmp, c.resume.old) if path.exists()]

    def deleted_runs() -> list[Path]:
        deleted = store.deleted_ids("run")
        return [folder for folder in sorted((home / "runs").glob("*"))
                if folder.name.isdigit() and int(folder.name) in deleted]

    def deleted_corpora() -> list[Path]:
        deleted = store.deleted_ids("corpus")
        return ([path for path in sorted(corpora.glob("*.jsonl")) if path.stem.isdigit() and int(path.stem) in deleted]
                + _older_than(corpora.glob(".*.tmp"), UPLOAD_GRACE_SECONDS, now))

    def unnamed_texts() -> list[Path]:
        named = _named_texts(store)
        return _older_than([path for path in sorted(texts_folder().glob("*.json")) if path.stem not in named],
                           TEXTS_GRACE_SECONDS, now)

    return [("resumable checkpoints of finished runs", checkpoints),
            ("files of deleted runs", deleted_runs),
            ("files of deleted corpora", deleted_corpora),
            ("cached word pieces and embeddings of deleted corpora", caches_of_missing_corpora),
            ("test texts no run names", unnamed_texts),
            ("uploads not saved as a corpus",
             lambda: _older_than(sorted((home / "uploads").glob("*")), UPLOAD_GRACE_SECONDS, now))]


def collect_garbage(store: Store, now: float | None = None) -> list[Freed]:
    """Remove what no run needs any more; returns what went, by kind. Queued, running and resumable
    runs keep everything."""
    freed = []
    for what, find in _garbage(store, time.time() if now is None else now):
        paths = find()
        size = sum(path_bytes(path) for path in paths)
        for path in paths:
            _remove(path)
        freed.append(Freed(what, len(paths), size))
    return freed


def format_freed(freed: list[Freed]) -> str:
    lines = [f"{item.what}: {item.items} removed, {format_bytes(item.bytes)}" for item in freed]
    return "\n".join(lines + [f"freed {format_bytes(sum(item.bytes for item in freed))} in all"])
