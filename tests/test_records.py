"""The streaming reader of CSV, TSV and JSONL files: the rows Python's csv module gives, read a piece of a line at
a time, with an over-long field cut as it is read, so that memory follows the documents kept, not a line's length."""
from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from topicbert.data import records
from topicbert.data.corpus import MAX_DOC_CHARS
from topicbert.data.jsonl import jsonl_objects
from topicbert.data.records import CorpusError, TextLines
from topicbert.data.tables import read_table

PIECES = ["plain", "with, comma", 'a "quoted" word', "line\nbreak", "cr\rreturn", "crlf\r\nend", "\ttab", "",
          "  padded  ", "caf\u00e9 \U0001F600", '"', '""', ",", "\r\n", "trailing quote\""]


def random_rows(rng: random.Random, n_rows: int, width: int) -> list[list[str]]:
    return [["".join(rng.choices(PIECES, k=rng.randint(0, 4))) for _ in range(width)] for _ in range(n_rows)]


def csv_module_rows(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """What the csv module reads from the file's lines (split at \\n, \\r\\n and \\r, as the readers split
    them): each row with the line it begins on."""
    lines = [line.decode("utf-8") for line in path.read_bytes().splitlines(keepends=True)]
    reader = csv.reader(lines, delimiter=delimiter, strict=delimiter == ",")
    rows = []
    while True:
        start = reader.line_num + 1
        row = next(reader, None)
        if row is None:
            return rows
        if row:
            rows.append((start, row))


def streamed_rows(path: Path, keep: int = 1 << 20) -> list[tuple[int, list[str]]]:
    header, rows = read_table(TextLines(path, path.name), path.suffix, keep)
    return [(1, header)] + [(row.line, row.fields) for row in rows]


@pytest.mark.parametrize("piece_bytes", [1 << 20, 5])
@pytest.mark.parametrize("delimiter,quoting", [(",", csv.QUOTE_MINIMAL), (",", csv.QUOTE_ALL),
                                               ("\t", csv.QUOTE_MINIMAL)])
def test_rows_are_the_csv_modules_whatever_the_pieces(tmp_path, monkeypatch, piece_bytes, delimiter, quoting):
    monkeypatch.setattr(records, "PIECE_BYTES", piece_bytes)
    rng = random.Random(piece_bytes + quoting)
    for attempt in range(20):
        path = tmp_path / f"t{attempt}.{'csv' if delimiter == ',' else 'tsv'}"
        out = io.StringIO(newline="")
        # csv quotes a field holding \r or \n only where its line terminator holds it; all fields are quoted
        ends = rng.choice(["\n", "\r\n"]) if quoting == csv.QUOTE_ALL else "\r\n"
        csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=ends).writerows(
            [["text", "label", "id"], *random_rows(rng, 12, 3)])
        body = out.getvalue() + rng.choice(["", "\n\n", delimiter.join("xyz")])  # blank lines, or no final break
        path.write_bytes(body.encode("utf-8"))
        assert streamed_rows(path) == csv_module_rows(path, delimiter), body


def test_a_tsv_keeps_what_the_csv_module_makes_of_stray_quotes(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "PIECE_BYTES", 3)
    path = tmp_path / "t.tsv"
    path.write_text('text\tlabel\n"Hello," she said\ta\nit is 5" long\tb\n"quoted"\t"c"\nd\t"never closed\n')
    assert streamed_rows(path) == csv_module_rows(path, "\t")
    assert streamed_rows(path)[-1] == (5, ["d", "never closed\n"])  # as csv: a quote left open runs to the end


def test_a_long_field_keeps_its_beginning_and_the_columns_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "PIECE_BYTES", 16)
    long_text = "  " + " ".join(f"w{i}" for i in range(200))  # 890 characters, leading spaces
    spaces_after = "word " * 15 + " " * 500  # over the limit by whitespace only
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["id", "text", "label"], ["1", long_text, "a"], ["2", "short", "b"],
                                 ["3", spaces_after, "c"], ["4", '"quoted, "' * 40, "d"]])
    header, rows = read_table(TextLines(path, "t.csv"), ".csv", keep=100)
    first, second, third, fourth = rows
    assert header == ["id", "text", "label"]
    assert first.fields == ["1", long_text.lstrip()[:100], "a"] and first.cut == {1}
    assert second.fields == ["2", "short", "b"] and not second.cut
    assert third.fields[1] == spaces_after[:100] and third.fields[2] == "c" and not third.cut
    assert fourth.fields == ["4", ('"quoted, "' * 40)[:100], "d"] and fourth.cut == {1}


def test_characters_cut_between_pieces_are_whole_and_other_encodings_still_fall_back(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "PIECE_BYTES", 7)
    text = "caf\u00e9 \U0001F600 na\u00efve " * 5
    path = tmp_path / "t.csv"
    path.write_bytes(b"text,label\n" + f"{text},a\n".encode() + "it\u2019s a caf\u00e9,b\n".encode("cp1252"))
    header, rows = read_table(TextLines(path, "t.csv"), ".csv", keep=1000)
    utf8, cp1252 = rows
    assert utf8.fields == [text, "a"] and not utf8.fell_back
    assert cp1252.fields == ["it\u2019s a caf\u00e9", "b"] and cp1252.fell_back


@pytest.mark.parametrize("body,where,what", [
    ('text,label\nfine,a\n"never closed,b\nand on,c\n', "line 3 (record 2)", "opened on line 3 is never closed"),
    ('text,label\nfine,a\n"closed" then more,b\n', "line 3 (record 2)", "',' expected after '\"'"),
    ('text,label\nfine,a\ntoo,many,b\n', "line 3 (record 2)", "expected 2 CSV fields"),
    ("text,label\nfine,a\n" + "," * 100_000 + "\n", "line 3 (record 2)", "but found 100001"),  # counted, not kept
])
def test_bad_rows_get_one_line_naming_the_line_and_the_row(tmp_path, body, where, what):
    path = tmp_path / "t.csv"
    path.write_text(body)
    with pytest.raises(CorpusError) as info:
        list(read_table(TextLines(path, "t.csv"), ".csv", keep=100)[1])
    message = str(info.value)
    assert message.startswith(f"t.csv, {where}") and what in message and "\n" not in message


PEAK_CHILD = """
import sys
from topicbert.data.corpus import load_corpus

def high_water_mib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024

before = high_water_mib()
corpus = load_corpus(sys.argv[1])
long = max(corpus.texts, key=len)
print(high_water_mib() - before, len(long), corpus.labels[corpus.texts.index(long)], corpus.cut_long, len(corpus))
"""


# ---------------------------------------------------------------- JSONL


def jsonl_objects_of(path: Path, keep: int = 1 << 20) -> list[tuple[int, dict, set[str]]]:
    return list(jsonl_objects(TextLines(path, path.name), {"text": "..."}, keep))


STRINGS = ["plain", 'a "quote"', "back\\slash", "line\nbreak\r\ttab", "caf\u00e9", "\U0001F600 emoji", "/", "",
           "  leading", "\u2028"]


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(6 if depth < 2 else 4)
    if kind == 0:
        return rng.choice([True, False, None, 0, -1.5e3, 42])
    if kind < 4:
        return "".join(rng.choices(STRINGS, k=rng.randint(0, 30)))
    if kind == 4:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_long_jsonl_lines_read_in_pieces_give_what_json_gives(tmp_path, monkeypatch, ensure_ascii):
    monkeypatch.setattr(records, "PIECE_BYTES", 7)  # every line is long: escapes and characters cut between pieces
    rng = random.Random(int(ensure_ascii))
    objects = [{"text": random_value(rng), "label": random_value(rng), "more": random_value(rng)} for _ in range(60)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(obj, ensure_ascii=ensure_ascii) + rng.choice(["\n", "\r\n", "\n \n"])
                            for obj in objects), encoding="utf-8")
    read = jsonl_objects_of(path)
    assert [obj for _, obj, _ in read] == objects and not any(cut for _, _, cut in read)


def test_a_long_jsonl_string_keeps_its_beginning_and_the_fields_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "PIECE_BYTES", 16)
    text = "\n  " + " ".join(f"w\u00e9{i}" for i in range(100))
    lines = [{"text": text, "label": "a", "nested": {"text": text}}, {"label": "b", "text": "word " * 20 + " " * 40},
             {"text": "short", "label": "c"}]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(obj) + "\n" for obj in lines))
    (_, first, cut_first), (_, second, cut_second), (_, third, cut_third) = jsonl_objects_of(path, keep=50)
    assert first == {"text": text.lstrip()[:50], "label": "a", "nested": {"text": text.lstrip()[:50]}}
    assert cut_first == {"text"}  # the top-level fields only
    assert second == {"label": "b", "text": ("word " * 20)[:50]} and cut_second == {"text"}
    assert third == {"text": "short", "label": "c"} and not cut_third


@pytest.mark.parametrize("line,what", [
    ('{"text": "a\x01b", "label": "a"}', "Invalid control character at column 12"),
    ('{"text": "a\\qb", "label": "a"}', "Invalid \\escape at column 12"),
    ('{"text": "never closed, "label": "a"}', "not valid JSON"),
    ('{"text": "closed", "label": "a"', "not valid JSON"),
    ('["text", "label", "a list"]', "expected a JSON object"),
])
def test_bad_long_jsonl_lines_name_their_line(tmp_path, monkeypatch, line, what):
    monkeypatch.setattr(records, "PIECE_BYTES", 5)
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "fine", "label": "a"}\n' + line + "\n")
    with pytest.raises(CorpusError) as info:
        jsonl_objects_of(path)
    assert str(info.value).startswith("t.jsonl, line 2: ") and what in str(info.value)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from /proc")
@pytest.mark.parametrize("form", ["csv", "jsonl"])
def test_a_200_mb_field_is_read_in_bounded_memory_and_keeps_its_label(tmp_path, form):
    path = tmp_path / f"one_row.{form}"
    block = "word " * (1 << 18)  # 1.25 MiB
    short = [(f"short document {i}", "long" if i < 3 else "short") for i in range(6)]
    with path.open("w", encoding="utf-8") as f:
        f.write('text,label\n"' if form == "csv" else '{"text": "')
        for _ in range(160):  # 200 MiB
            f.write(block)
        f.write('",long\n' if form == "csv" else '", "label": "long"}\n')
        f.writelines(f"{text},{label}\n" if form == "csv" else json.dumps({"text": text, "label": label}) + "\n"
                     for text, label in short)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(PEAK_CHILD), str(path)], capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr
    grown, kept, label, cut, n_docs = run.stdout.split()
    assert (int(kept), label, int(cut), int(n_docs)) == (MAX_DOC_CHARS, "long", 1, 7)
    # the line is 200 MiB; held whole, then decoded and parsed, it took 1,559 MiB (CSV)
    assert float(grown) < 100, f"reading grew the peak by {float(grown):.0f} MiB"


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"])
def test_a_table_with_no_header_is_empty(tmp_path, body):
    path = tmp_path / "t.csv"
    path.write_bytes(body)
    with pytest.raises(CorpusError, match="t.csv: the file is empty"):
        read_table(TextLines(path, "t.csv"), ".csv", keep=100)
