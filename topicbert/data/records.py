"""What the readers of CSV, TSV and JSONL files (tables.py, jsonl.py) share with the corpus reader and the
prediction over a file: the formats, the error, and a text file's lines read in pieces.

A line is read in pieces of at most PIECE_BYTES, each decoded alone (UTF-8, else cp1252, else latin-1, so one
bad line does not change how the rest read), and a field keeps at most `keep` characters however long it runs
(KeptText; the corpus reader's MAX_DOC_CHARS), so that memory follows what is kept, not the length of a line.
"""
from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from ..config import UserError

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
SUPPORTED = ("CSV (.csv) or TSV (.tsv, or .txt with tabs) with a header line; JSONL (.jsonl); "
             "a ZIP archive (.zip) or folder with one sub-folder per class; "
             "or a folder of train/validation/test CSV, TSV or JSONL files")
# A line longer than this many bytes is read in pieces of this many: memory holds a piece of it, not all of it
PIECE_BYTES = 1 << 20


class CorpusError(UserError):
    """A corpus that cannot be read, worded for a person; names the file, line or entry where that applies."""


# ---------------------------------------------------------------- bytes to text


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


def split_cut_character(raw: bytes) -> tuple[bytes, bytes]:
    """Bytes a read stopped in the middle of: the whole characters, and the beginning of a UTF-8 character the
    stop cut (empty where none was). A cut character is no reason to read the text as cp1252."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":  # raised at the end only: everything before it is whole
            return raw[:e.start], raw[e.start:]
    return raw, b""


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
    """A text file's lines (with their endings, split at \\n, \\r\\n and \\r), read one at a time; each
    decoded alone, so one bad line does not change how the rest read."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        self.fallbacks: set[int] = set()  # numbers (from 1) of the lines read as cp1252 or latin-1
        self.bytes_read = 0  # what a progress bar measures the time left by

    def pieces(self) -> Iterator[tuple[str, int]]:
        """(text, its line's number from 1): a line whole where it holds at most PIECE_BYTES bytes, else in
        pieces of about that many, each decoded alone (a character cut between two carried to the next)."""
        number, carry, whole = 1, b"", True  # whole: the piece begins its line
        try:
            for raw, ends in self._raw_pieces():
                if not (whole and ends):  # a piece of a long line
                    raw, carry = (carry + raw, b"") if ends else split_cut_character(carry + raw)
                text, fell_back = decode_text(raw)
                if fell_back:
                    self.fallbacks.add(number)
                yield text, number
                number += ends
                whole = ends
        except OSError as e:
            raise CorpusError(f"{self.name}: cannot be read ({e.strerror or e})") from None

    def _raw_pieces(self) -> Iterator[tuple[bytes, bool]]:
        """(bytes, whether they end their line), at most about PIECE_BYTES each."""
        held = b""  # the beginning of a line whose end has not been read yet
        with self.path.open("rb") as f:
            first = True
            while chunk := f.readline(PIECE_BYTES):  # ends at \n, or after PIECE_BYTES
                self.bytes_read += len(chunk)
                chunk = check_text_bytes(chunk, self.name) if first else check_nul(chunk, self.name)
                first = False
                if held.endswith(b"\r") and not chunk.startswith(b"\n"):  # the line ended at that \r
                    yield held, True
                    held = b""
                # split at \r and \r\n as well, as bytes.splitlines splits a whole file; neither byte occurs inside
                # a UTF-8 multi-byte character
                lines = (held + chunk).splitlines(keepends=True)
                held = lines.pop() if lines and not chunk.endswith(b"\n") else b""  # none: a file of a BOM
                for line in lines:
                    yield line, True
                if len(held) >= PIECE_BYTES:  # a long line: what is held goes, less a \r that a \n may follow
                    split = len(held) - held.endswith(b"\r")
                    yield held[:split], False
                    held = held[split:]
        if held:
            yield held, True

    def fell_back(self, first: int, last: int) -> bool:
        """Whether any of lines first..last needed a fallback."""
        return any(n in self.fallbacks for n in range(first, last + 1))


class KeptText:
    """A field's text (a table's field, a JSON string) as it is read, piece by piece: its first `keep`
    characters. A field that runs longer also loses its leading whitespace (no reader of such a field wants it),
    so that it keeps `keep` characters of text; `cut` says whether anything but whitespace was left out."""
    __slots__ = ("keep", "parts", "size", "full", "cut", "stripped")

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.reset()

    def reset(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.full = self.cut = self.stripped = False

    def add(self, text: str) -> None:
        if self.full:
            self.cut = self.cut or (bool(text) and not text.isspace())
            return
        if self.stripped and not self.size:  # still in the leading whitespace of a long field
            text = text.lstrip()
        self.parts.append(text)
        self.size += len(text)
        if self.size > self.keep:
            whole = "".join(self.parts).lstrip()
            self.stripped = True
            self.full = len(whole) > self.keep
            if self.full:
                self.cut = not whole[self.keep:].isspace()
                whole = whole[:self.keep]
            self.parts, self.size = [whole], len(whole)

    def text(self) -> str:
        return self.parts[0] if len(self.parts) == 1 else "".join(self.parts)
