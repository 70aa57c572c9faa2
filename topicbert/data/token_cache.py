"""Word pieces of a corpus, computed once per corpus and tokenizer and kept on disk.

Keyed by a hash of the texts and of the tokenizer's vocabulary, so a changed corpus or
tokenizer never reads stale pieces.
"""
from __future__ import annotations

import hashlib
import os
from typing import Sequence

import numpy as np

from ..paths import home
from .batching import tokenize


def _key(tokenizer, texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update(tokenizer.__class__.__name__.encode())
    for piece, index in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
        digest.update(f"{index}:{piece}\n".encode())
    digest.update(str(getattr(tokenizer, "do_lower_case", "")).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def cached_tokenize(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    path = home() / "cache" / "tokens" / f"{_key(tokenizer, texts)}.npz"
    if path.exists():
        saved = np.load(path)
        pieces, offsets = saved["pieces"], saved["offsets"]
        return [pieces[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    token_ids = tokenize(tokenizer, texts)
    offsets = np.zeros(len(token_ids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(ids) for ids in token_ids])
    pieces = np.fromiter((i for ids in token_ids for i in ids), dtype=np.int32, count=int(offsets[-1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, pieces=pieces, offsets=offsets)
    os.replace(tmp, path)  # never a half-written cache file
    return token_ids
