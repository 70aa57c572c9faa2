"""Word pieces of a corpus, computed once per corpus and tokenizer and kept on disk, and other
arrays computed from them (the documents' embeddings: `cached_array`).

Keyed by a hash of the texts and of the tokenizer's vocabulary, so a changed corpus or
tokenizer never reads stale pieces. Each corpus (by its path) has a folder of its own that
names the path, so the pieces of a corpus that is gone can be found and removed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..paths import home
from .shared_texts import hash_texts, write_whole

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

SOURCE_FILE = "source.txt"


def _key(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update(tokenizer.__class__.__name__.encode())
    for piece, index in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
        digest.update(f"{index}:{piece}\n".encode())
    digest.update(str(getattr(tokenizer, "do_lower_case", "")).encode())
    hash_texts(digest, texts)
    return digest.hexdigest()[:32]


def token_cache_root() -> Path:
    return home() / "cache" / "tokens"


def _absolute(source: str) -> str:
    return str(Path(source).expanduser().resolve())


def corpus_cache_folder(source: str) -> Path:
    """Where the pieces of the corpus at path `source` are kept."""
    return token_cache_root() / hashlib.sha256(_absolute(source).encode()).hexdigest()[:16]


def caches_of_missing_corpora() -> list[Path]:
    """Cached pieces whose corpus path no longer exists (a deleted corpus), and the loose files of
    versions that kept no corpus path."""
    root = token_cache_root()
    if not root.is_dir():
        return []
    stale = []
    for entry in sorted(root.iterdir()):
        named = entry / SOURCE_FILE
        if entry.is_file() or (named.exists() and not Path(named.read_text(encoding="utf-8")).exists()):
            stale.append(entry)
    return stale


def cached_tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], source: str) -> list[list[int]]:
    """Word pieces of `texts`, read from the corpus at path `source`."""
    folder = corpus_cache_folder(source)
    path = folder / f"{_key(tokenizer, texts)}.npz"
    if path.exists():
        saved = np.load(path)
        pieces, offsets = saved["pieces"], saved["offsets"]
        return [pieces[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    from .batching import tokenize  # torch: only where there is something to tokenise (gc reads the folders)

    token_ids = tokenize(tokenizer, texts)
    offsets = np.zeros(len(token_ids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(ids) for ids in token_ids])
    pieces = np.fromiter((i for ids in token_ids for i in ids), dtype=np.int32, count=int(offsets[-1]))
    make_corpus_cache_folder(source)
    write_whole(path, lambda tmp: np.savez(tmp, pieces=pieces, offsets=offsets))  # never a half-written file
    return token_ids


def cached_array(source: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """`compute()`, kept in the folder of the corpus at path `source` under `key` (which must name
    everything the array depends on): computed once, read back after."""
    path = corpus_cache_folder(source) / f"array-{key}.npy"
    if path.exists():
        return np.load(path)
    array = compute()
    make_corpus_cache_folder(source)
    write_whole(path, lambda tmp: np.save(tmp, array))
    return array


def make_corpus_cache_folder(source: str) -> Path:
    """The corpus's cache folder, made if missing, naming its corpus's path."""
    folder = corpus_cache_folder(source)
    folder.mkdir(parents=True, exist_ok=True)
    named = folder / SOURCE_FILE
    if not named.exists():
        write_whole(named, lambda tmp: tmp.write_text(_absolute(source), encoding="utf-8"))
    return folder

