"""CSV and TSV files read as streams of rows, by the rules of Python's csv module, with each field cut to its
first `keep` characters as it is read (the rest read past, the fields after it still counted): one long field
never sits whole in memory. Bad rows are one CorpusError that names their line and their place among the rows.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .records import SUPPORTED, CorpusError, KeptText, TextLines


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


_START_RECORD, _START_FIELD, _UNQUOTED, _QUOTED, _AFTER_QUOTE = range(5)


class _TableParser:
    """Python's csv reader (quotes doubled inside a quoted field; `strict`: nothing but the delimiter or a line
    break after a closing quote), fed a line's pieces at a time, keeping each field's first `keep`
    characters and a record's first `max_fields` fields."""

    def __init__(self, delimiter: str, strict: bool, keep: int) -> None:
        self.delimiter, self.strict = delimiter, strict
        # the header's width, once it is read: a row of a million delimiters then holds a count of its fields,
        # not a million of them
        self.max_fields: int | None = None
        self.field_end = re.compile(f"[{re.escape(delimiter)}\r\n]")  # a quote inside an unquoted field is text
        self.state = _START_RECORD
        self.record = Record(0, 0)
        self.field = KeptText(keep)
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


