"""CSV, TSV and JSONL files read as streams of records, with clear errors: what the corpus reader and the
prediction over a file share.

A line is read in pieces of at most PIECE_BYTES, each decoded alone (UTF-8, else cp1252, else latin-1, so one
bad line does not change how the rest read). A table's field keeps at most `keep` characters however long it
runs (the corpus reader's MAX_DOC_CHARS): the rest of it is read past, and the fields after it still count, so
memory follows what is kept, not the length of a line. A JSONL line is parsed whole where it fits in one
piece; a longer one is read piece by piece, each of its strings cut as a table's field is, then parsed.
"""
from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# ---------------------------------------------------------------- CSV and TSV


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


@dataclass
class Record:
    """One row of a table."""
    line: int                 # the line it begins on, from 1
    last_line: int            # the line it ends on
    fields: list[str] = field(default_factory=list)  # the first `max_fields`; each at most `keep` characters
    width: int = 0            # how many fields it has
    cut: set[int] = field(default_factory=set)  # the fields that went on past `keep` characters
    number: int = 0           # its place among the table's rows, from 1 (the header is 0)
    fell_back: bool = False   # some of its lines were read as cp1252 or latin-1


class _MalformedTable(Exception):
    """Quotes a table's dialect does not allow; read_table words it, naming the row."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


class _Field:
    """A field's text as it is read, piece by piece: its first `keep` characters. A field that runs longer also
    loses its leading whitespace (no reader of such a field wants it), so that it keeps `keep` characters of
    text; `cut` says whether anything but whitespace was left out."""
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


_START_RECORD, _START_FIELD, _UNQUOTED, _QUOTED, _AFTER_QUOTE = range(5)


class _TableParser:
    """Python's csv reader (quotes doubled inside a quoted field; `strict`: nothing but the delimiter or a line
    break after a closing quote), fed a line's pieces at a time, keeping each field's first `keep`
    characters and a record's first `max_fields` fields."""

    def __init__(self, delimiter: str, strict: bool, keep: int) -> None:
        self.delimiter, self.strict = delimiter, strict
        self.max_fields: int | None = None
        self.field_end = re.compile(f"[{re.escape(delimiter)}\r\n]")  # a quote inside an unquoted field is text
        self.state = _START_RECORD
        self.record = Record(0, 0)
        self.field = _Field(keep)
        self.quote_line = 0  # where the quoted field being read opened
        self.done: list[Record] = []  # the records that ended in the piece being read

    def feed(self, text: str, line: int) -> list[Record]:
        """The records that end in this piece of `line`."""
        i, n = 0, len(text)
        while i < n:
            i = self._step(text, i, line)
        done, self.done = self.done, []
        return done

    def end(self, line: int) -> Record | None:
        """At the end of the file: the record it ends, if one was open."""
        if self.state == _START_RECORD:
            return None
        if self.state == _QUOTED and self.strict:
            raise _MalformedTable(self.record.line, f"the quoted field opened on line {self.quote_line} is "
                                                     f"never closed: the file ends inside it")
        self._save_field()
        self.record.last_line = line
        return self.record

    def _step(self, text: str, i: int, line: int) -> int:
        """Reads on from text[i] in the current state; where it stopped."""
        state = self.state
        if state == _START_RECORD:
            if text[i] in "\r\n":  # a blank line
                return i + 1
            self.record = Record(line, line)
            self.state = _START_FIELD
            return i
        if state == _START_FIELD:
            if text[i] == '"':
                self.state, self.quote_line = _QUOTED, line
                return i + 1
            self.state = _UNQUOTED
            return i
        if state == _UNQUOTED:
            match = self.field_end.search(text, i)
            if match is None:
                self.field.add(text[i:])
                return len(text)
            self.field.add(text[i:match.start()])
            return self._end_field(text, match.start(), line)
        if state == _QUOTED:
            quote = text.find('"', i)
            if quote < 0:
                self.field.add(text[i:])
                return len(text)
            self.field.add(text[i:quote])
            self.state = _AFTER_QUOTE
            return quote + 1
        # after a quote inside a quoted field: a doubled quote, or the field's end
        c = text[i]
        if c == '"':
            self.field.add(c)
            self.state = _QUOTED
            return i + 1
        if c == self.delimiter or c in "\r\n":
            return self._end_field(text, i, line)
        if self.strict:
            raise _MalformedTable(line, f"{self.delimiter!r} expected after '\"'")
        self.field.add(c)  # as csv does: the field goes on unquoted
        self.state = _UNQUOTED
        return i + 1

    def _end_field(self, text: str, i: int, line: int) -> int:
        """The field ends at text[i], a delimiter or a line break (which ends the record too)."""
        self._save_field()
        if text[i] == self.delimiter:
            self.state = _START_FIELD
            return i + 1
        self.record.last_line = line
        self.done.append(self.record)
        self.state = _START_RECORD
        return i + 2 if text.startswith("\r\n", i) else i + 1

    def _save_field(self) -> None:
        record, value = self.record, self.field
        if self.max_fields is None or record.width < self.max_fields:
            if value.cut:
                record.cut.add(record.width)
            record.fields.append(value.text())
        record.width += 1
        value.reset()


def read_table(lines: TextLines, suffix: str, keep: int) -> tuple[list[str], Iterator[Record]]:
    """A CSV or TSV file's header and its rows, read as they are asked for. The delimiter is told by the first
    line that is not blank (sniff_delimiter); a CSV must quote as CSV writers do, a TSV may hold stray quotes.
    Each field keeps its first `keep` characters. Raises CorpusError, naming the line and the row, for an empty
    file, malformed quotes, or a row whose number of fields is not the header's."""
    name = lines.name
    pieces = lines.pieces()
    head = []  # up to the first line that is not blank, which tells the delimiter
    for piece in pieces:
        head.append(piece)
        if piece[0].strip():
            break
    else:
        raise CorpusError(f"{name}: the file is empty (no header line, no documents)")
    delimiter = sniff_delimiter(head[-1][0], suffix, name)
    kind = "TSV" if delimiter == "\t" else "CSV"
    # TSV files are often written without quoting, so a stray quote must not fail them; CSV writers quote
    parser = _TableParser(delimiter, delimiter == ",", keep)
    records = _parse(parser, itertools.chain(head, pieces))
    header = _checked(records, name, kind, 0)
    assert header is not None  # the line that told the delimiter begins it
    columns = header.fields
    parser.max_fields = width = header.width

    def rows() -> Iterator[Record]:
        for number in itertools.count(1):
            record = _checked(records, name, kind, number)
            if record is None:
                return
            if record.width != width:
                raise CorpusError(f"{name}, line {record.line} (record {number}): expected {width} {kind} fields "
                                  f"(columns {', '.join(h.strip() for h in columns)}) but found {record.width}; "
                                  f"a text that contains the delimiter, quotes or line breaks must be quoted")
            record.number, record.fell_back = number, lines.fell_back(record.line, record.last_line)
            yield record

    return columns, rows()


def _parse(parser: _TableParser, pieces: Iterable[tuple[str, int]]) -> Iterator[Record]:
    line = 1
    for text, line in pieces:
        yield from parser.feed(text, line)
    last = parser.end(line)
    if last is not None:
        yield last


def _checked(records: Iterator[Record], name: str, kind: str, number: int) -> Record | None:
    """The next record, None at the end; malformed quotes become a CorpusError naming the line and the row."""
    try:
        return next(records, None)
    except _MalformedTable as e:
        row = f"record {number}" if number else "the header"
        raise CorpusError(f"{name}, line {e.line} ({row}): malformed {kind}: {e.reason}") from None


# ---------------------------------------------------------------- JSONL


def jsonl_objects(lines: TextLines, example: dict[str, str], keep: int
                  ) -> Iterator[tuple[int, dict[str, Any], set[str]]]:
    """Each JSON object of a JSONL file with its line number, and the top-level fields whose strings were cut;
    blank lines are skipped. A line longer than PIECE_BYTES is read piece by piece, each of its strings cut to
    its first `keep` characters as a table's field is (_Field); a shorter line is parsed whole, uncut. `example`
    is what a line should look like, for the message when one is not an object."""
    for number, line_pieces in itertools.groupby(lines.pieces(), key=lambda piece: piece[1]):
        where = f"{lines.name}, line {number}"
        first, _ = next(line_pieces)
        # the group's one iterator, read on in order before groupby moves: no piece is read twice
        second = next(line_pieces, None)  # noqa: B031
        cut: set[str] = set()
        if second is None:  # the whole line
            if not first.strip():
                continue
            obj = _loads(first, where, 0)
        else:
            long_line = _LongJsonLine(keep, where)
            for text, _ in itertools.chain([(first, number), second], line_pieces):
                long_line.feed(text)
            shortened, cut = long_line.finish()
            if not shortened.strip():
                continue
            obj = _loads(shortened, where, None)  # its columns are not the file's
        if not isinstance(obj, dict):
            raise CorpusError(f"{where}: expected a JSON object like {json.dumps(example)}, "
                              f"found {type(obj).__name__}")
        yield number, obj, cut


def _loads(text: str, where: str, column: int | None) -> Any:
    """`column`: where text begins in its line (None: its columns are not the line's)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = "" if column is None else f" at column {column + e.colno}"
        raise CorpusError(f"{where}: not valid JSON ({e.msg}{at}); JSONL needs one JSON object per line") from None


_JSON_STRUCTURE = re.compile(r'["{}\[\],:]')
_JSON_STRING_STOP = re.compile(r'["\\\x00-\x1f]')  # a string's end, an escape, or a character JSON forbids in it
_LONGEST_ESCAPE = 12  # a character beyond the BMP, as two \uXXXX halves
_HIGH_SURROGATES = ("d8", "d9", "da", "db")


class _LongJsonLine:
    """A JSONL line too long to parse whole, fed piece by piece: its JSON with each string cut to its first `keep`
    characters (a _Field each), short enough to parse then, and the top-level fields whose strings were cut.
    Memory holds what is kept: a line that would keep more than `limit` characters is refused."""

    def __init__(self, keep: int, where: str) -> None:
        self.where = where
        self.limit = max(8 * keep, 8 * PIECE_BYTES)  # a few long texts, and what holds them
        self.out: list[str] = []
        self.size = 0
        self.field = _Field(keep)
        self.in_string = False
        self.depth = 0  # of the objects and arrays open
        self.expect_key = False  # in the top-level object, the next string is a key
        self.key = ""  # the top-level key whose value is being read
        self.cut: set[str] = set()
        self.column = 0  # characters of the line before the piece being read
        self.pending = ""  # an escape the end of a piece may have cut

    def feed(self, text: str, final: bool = False) -> None:
        text, self.pending = self.pending + text, ""
        i, n = 0, len(text)
        while i < n:
            i = self._string(text, i, final) if self.in_string else self._structure(text, i)
        self.column += n - len(self.pending)

    def finish(self) -> tuple[str, set[str]]:
        """The line's JSON, its strings cut, and the top-level fields whose strings were cut."""
        if self.pending:
            self.feed("", final=True)
        if self.in_string:
            raise CorpusError(f"{self.where}: not valid JSON (a string is never closed); "
                              f"JSONL needs one JSON object per line")
        return "".join(self.out), self.cut

    def _keep(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.limit:
            raise CorpusError(f"{self.where}: a JSONL line holds one document, but this one keeps over "
                              f"{self.limit:,} characters after its strings are cut to {self.field.keep:,}")
        self.out.append(text)

    def _structure(self, text: str, i: int) -> int:
        match = _JSON_STRUCTURE.search(text, i)
        end = len(text) if match is None else match.start()
        self._keep(text[i:end])
        if match is None:
            return end
        c = text[end]
        if c == '"':
            self.in_string = True
            return end + 1
        self._keep(c)
        if c in "{[":
            self.depth += 1
            self.expect_key = self.depth == 1 and c == "{"
        elif c in "}]":
            self.depth -= 1
        elif self.depth == 1:  # a comma: the next key; a colon: its value
            self.expect_key = c == ","
        return end + 1

    def _string(self, text: str, i: int, final: bool) -> int:
        match = _JSON_STRING_STOP.search(text, i)
        end = len(text) if match is None else match.start()
        self.field.add(text[i:end])
        if match is None:
            return end
        if text[end] == '"':
            self._end_string()
            return end + 1
        if text[end] != "\\":
            raise CorpusError(f"{self.where}: not valid JSON (Invalid control character at column "
                              f"{self.column + end + 1}); JSONL needs one JSON object per line")
        if end + _LONGEST_ESCAPE > len(text) and not final:  # the escape may go on in the next piece
            self.pending = text[end:]
            return len(text)
        size = 2
        if text.startswith("\\u", end):
            size = 12 if text[end + 2:end + 4].lower() in _HIGH_SURROGATES and text.startswith("\\u", end + 6) else 6
        self.field.add(_loads(f'"{text[end:end + size]}"', self.where, self.column + end - 1))
        return end + size

    def _end_string(self) -> None:
        value, cut = self.field.text(), self.field.cut
        self.field.reset()
        self.in_string = False
        if self.depth == 1 and self.expect_key:
            self.key = value
        elif self.depth == 1 and cut:
            self.cut.add(self.key)
        self._keep(json.dumps(value, ensure_ascii=False))


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
