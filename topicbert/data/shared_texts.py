"""Lists of texts kept once under TOPICBERT_HOME/texts, each file named by its content.

Every run tested on the same documents (same corpus, seed and limits: a run and its baseline,
and every run queued on those settings since) shares one file instead of writing them again.
A file is written whole (renamed into place) and never changed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Sequence

from ..paths import home


def texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def texts_folder() -> Path:
    return home() / "texts"


def save_texts(texts: Sequence[str]) -> str:
    """Keep `texts` (once); returns the digest that names them."""
    digest = texts_digest(texts)
    path = texts_folder() / f"{digest}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(list(texts)), encoding="utf-8")
        os.replace(tmp, path)
    return digest


def load_texts(digest: str) -> Optional[list[str]]:
    """The texts a digest names; None if they are not kept here."""
    path = texts_folder() / f"{digest}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
