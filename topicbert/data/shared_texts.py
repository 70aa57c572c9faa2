"""Lists of texts kept once under TOPICBERT_HOME/texts, each file named by its content.

Every run tested on the same documents (same corpus, seed and limits: a run and its baseline,
and every run queued on those settings since) shares one file instead of writing them again.
A file is written whole (renamed into place) and never changed.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ..paths import home


def hash_texts(digest: hashlib._Hash, texts: Sequence[str]) -> None:
    """Feed each text to `digest`, one after another, none able to run into the next (a NUL between)."""
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")


def texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    hash_texts(digest, texts)
    return digest.hexdigest()[:32]


def write_whole(path: Path, write: Callable[[Path], object]) -> None:
    """Write a file through `write` (given a temporary path beside it) and rename it into place: a reader
    never sees it half written."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def texts_folder() -> Path:
    return home() / "texts"


def save_texts(texts: Sequence[str]) -> str:
    """Keep `texts` (once); returns the digest that names them."""
    digest = texts_digest(texts)
    path = texts_folder() / f"{digest}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, lambda tmp: tmp.write_text(json.dumps(list(texts)), encoding="utf-8"))
    return digest


def load_texts(digest: str) -> list[str] | None:
    """The texts a digest names; None if they are not kept here."""
    path = texts_folder() / f"{digest}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
