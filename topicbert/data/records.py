"""CSV, TSV and JSONL files read as streams of records, with clear errors: what the corpus reader and the
prediction over a file share.

Lines are read one at a time and decoded one at a time (UTF-8, else cp1252, else latin-1), so one bad line
does not change how the rest read, and memory holds a line, not the file.
"""
from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import UserError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
SUPPORTED = ("CSV (.csv) or TSV (.tsv, or .txt with tabs) with a header line; JSONL (.jsonl); "
             "a ZIP archive (.zip) or folder with one sub-folder per class; "
             "or a folder of train/validation/test CSV, TSV or JSONL files")


class CorpusError(UserError):
    """A corpus that cannot be read, worded for a person; names the file, line or entry where that applies."""


def decode_text(raw: bytes) -> tuple[str, bool]:
    """Text and whether it needed a fallback: UTF-8, else cp1252, else latin-1 (which decodes any byte)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), True
    except UnicodeDecodeError:
        return raw.decode("latin-1"), True


def check_nul(data: bytes, name: str) -> bytes:
    """A NUL byte means a binary file or UTF-16, which we do not guess at."""
    if b"\x00" in data:
        raise CorpusError(f"{name}: looks like a binary file (it contains NUL bytes), not text. "
                          f"Text must be UTF-8 (cp1252 and latin-1 are also read); UTF-16 is not.")
    return data


def check_text_bytes(data: bytes, name: str) -> bytes:
    """The bytes without a UTF-8 BOM, checked for NUL bytes."""
    check_nul(data, name)
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


class TextLines:
    """A text file's lines (with their endings), read one at a time; each decoded alone, so one bad line does
    not change how the rest read."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        self.fallbacks: set[int] = set()  # numbers (from 1) of the lines read as cp1252 or latin-1
        self.bytes_read = 0  # what a progress bar measures the time left by

    def __iter__(self) -> Iterator[str]:
        number = 0
        try:
            with self.path.open("rb") as f:
                for chunk in f:  # ends at each \n
                    self.bytes_read += len(chunk)
                    chunk = check_text_bytes(chunk, self.name) if number == 0 else check_nul(chunk, self.name)
                    # then at \r and \r\n as well, as bytes.splitlines splits a whole file; neither byte occurs
                    # inside a UTF-8 multi-byte character
                    for raw in chunk.splitlines(keepends=True):
                        number += 1
                        text, fell_back = decode_text(raw)
                        if fell_back:
                            self.fallbacks.add(number)
                        yield text
        except OSError as e:
            raise CorpusError(f"{self.name}: cannot be read ({e.strerror or e})") from None

    def fell_back(self, first: int, last: int) -> bool:
        """Whether any of lines first..last needed a fallback."""
        return any(n in self.fallbacks for n in range(first, last + 1))


def jsonl_objects(lines: TextLines, example: dict[str, str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each JSON object of a JSONL file with its line number; blank lines are skipped. `example` is what a line
    should look like, for the message when one is not an object."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{lines.name}, line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{where}: not valid JSON ({e.msg} at column {e.colno}); "
                              f"JSONL needs one JSON object per line") from None
        if not isinstance(obj, dict):
            raise CorpusError(f"{where}: expected a JSON object like {json.dumps(example)}, "
                              f"found {type(obj).__name__}")
        yield number, obj


def check_fields(obj: dict[str, Any], wanted: list[str], where: str) -> None:
    """A JSONL object holds every field wanted, else a message that lists the fields it has."""
    missing = [key for key in wanted if key not in obj]
    if missing:
        raise CorpusError(f"{where}: no field {', '.join(map(repr, missing))}; "
                          f"fields found: {', '.join(map(repr, obj)) or 'none'}")


def text_field(obj: dict[str, Any], text_col: str, where: str) -> str:
    text = obj[text_col]
    if not isinstance(text, str):
        raise CorpusError(f"{where}: the text field {text_col!r} must be a string, not {text!r:.60}")
    return text


def sniff_delimiter(first_line: str, suffix: str, name: str) -> str:
    """Tab or comma, from a table's first line and its file suffix ('.tsv', '.csv' or '.txt')."""
    tabs, commas = first_line.count("\t"), first_line.count(",")
    if suffix == ".txt":
        if not tabs and not commas:
            raise CorpusError(f"{name}: a .txt file must be a table with a tab-separated header line; "
                              f"supported formats: {SUPPORTED}")
        return "\t" if tabs >= commas else ","
    if tabs == commas:  # a one-column header says nothing; trust the extension
        return "\t" if suffix == ".tsv" else ","
    return "\t" if tabs > commas else ","


def column_index(header: list[str], wanted: str, what: str, name: str) -> int:
    """Index of a column: exact name first, then ignoring case."""
    names = [h.strip() for h in header]
    if wanted in names:
        return names.index(wanted)
    folded = [h.casefold() for h in names]
    if folded.count(wanted.casefold()) == 1:
        return folded.index(wanted.casefold())
    raise CorpusError(f"{name}: no {what} column {wanted!r}; columns found: {', '.join(map(repr, names))}")
