"""JSONL files read as a stream of JSON objects: a line parsed whole where it fits in one piece of
records.PIECE_BYTES, a longer one read piece by piece with each of its strings cut to its first `keep`
characters as it is read, then parsed. Bad lines are one CorpusError that names the line.
"""
from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

from .records import PIECE_BYTES, CorpusError, KeptText, TextLines


def jsonl_objects(lines: TextLines, example: dict[str, str], keep: int
                  ) -> Iterator[tuple[int, dict[str, Any], set[str]]]:
    """Each JSON object of a JSONL file with its line number, and the top-level fields whose strings were cut;
    blank lines are skipped. A line longer than PIECE_BYTES is read piece by piece, each of its strings cut to
    its first `keep` characters as a table's field is (KeptText); a shorter line is parsed whole, uncut. `example`
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
    characters (a KeptText each), short enough to parse then, and the top-level fields whose strings were cut.
    Memory holds what is kept: a line that would keep more than `limit` characters is refused."""

    def __init__(self, keep: int, where: str) -> None:
        self.where = where
        self.limit = max(8 * keep, 8 * PIECE_BYTES)  # a few long texts, and what holds them
        self.out: list[str] = []
        self.size = 0
        self.field = KeptText(keep)
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
