"""Classifying a file larger than memory: read in chunks (CSV, TSV or JSONL, with the upload readers' encoding
fallbacks), classified chunk by chunk, written row by row in input order, one output row per input row.

`read_chunks` and `predict_chunks` are the streaming parts: an iterator of numbered chunks in, an iterator of
each chunk's predictions out; `start_chunk` skips the chunks a job already finished, so a job can resume where
it stopped. `predict_file` is the command line's whole job: progress, energy, the F1 where rows are labelled,
and an output written beside its final name and renamed whole, so a failure leaves no partial file.
"""
from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import UserError
from ..data.corpus import MAX_DOC_CHARS
from ..data.jsonl import check_fields, jsonl_objects, text_field
from ..data.records import JSONL_SUFFIXES, TABLE_SUFFIXES, CorpusError, TextLines
from ..data.tables import column_index, read_table
from ..energy.meter import EnergyMeter
from ..stats.bootstrap import confusion_f1_interval, macro_f1_of_confusions
from .classifier import Classifier, Predictions

CHUNK_DOCUMENTS = 256
OUTPUT_SUFFIXES = (".csv", ".jsonl")
TOPIC_WORDS_SHOWN = 5
# the flags a row can carry: its text was empty (it is still classified: the output keeps every row), or its
# bytes were not UTF-8 and were read as cp1252 or latin-1, as uploads are
EMPTY, NOT_UTF8 = "empty", "not UTF-8"


@dataclass
class InputChunk:
    index: int                 # the chunk's number, from 0
    ids: list[str]             # each row's id: its --id-col value, or its row number (from 1)
    texts: list[str]
    labels: list[str] | None   # each row's label, where the file has a label column
    not_utf8: list[bool]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class _Rows:
    """Rows read so far, cut into chunks."""
    chunk_size: int
    start_chunk: int
    has_labels: bool
    index: int = 0
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    not_utf8: list[bool] = field(default_factory=list)

    def add(self, row_id: str, text: str, label: str | None, fell_back: bool) -> InputChunk | None:
        self.ids.append(row_id)
        self.texts.append(text)
        self.labels.append(label or "")
        self.not_utf8.append(fell_back)
        return self.cut() if len(self.texts) == self.chunk_size else None

    def cut(self) -> InputChunk | None:
        """The rows held as a chunk (None for a chunk to skip, or none held), and a new chunk begun."""
        chunk = InputChunk(self.index, self.ids, self.texts, self.labels if self.has_labels else None,
                           self.not_utf8) if self.texts and self.index >= self.start_chunk else None
        if self.texts:
            self.index += 1
        self.ids, self.texts, self.labels, self.not_utf8 = [], [], [], []
        return chunk


def read_chunks(path: Path, text_col: str = "text", id_col: str | None = None, label_col: str | None = "label",
                require_label: bool = False, chunk_size: int = CHUNK_DOCUMENTS, start_chunk: int = 0,
                lines: TextLines | None = None) -> Iterator[InputChunk]:
    """The file's rows in chunks of `chunk_size`, in order, from chunk `start_chunk` (earlier ones are read and
    skipped). `label_col` is read where the file has it (required with `require_label`); a missing text or id
    column is a CorpusError that lists the columns the file has. `lines`: the file's reader, given where the
    caller follows how many bytes it has read."""
    path = Path(path)
    suffix = _input_suffix(path)
    lines = lines or TextLines(path, str(path))
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_chunks(lines, text_col, id_col, label_col, require_label, chunk_size, start_chunk)
    else:
        yield from _table_chunks(lines, suffix, text_col, id_col, label_col, require_label, chunk_size,
                                 start_chunk)


def _input_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES + JSONL_SUFFIXES:
        raise CorpusError(f"{path}: predict reads CSV, TSV (.csv, .tsv, .txt) or JSONL (.jsonl) files, "
                          f"not {suffix or 'a file without a suffix'}")
    return suffix


def check_paths(corpus: Path, out: Path) -> None:
    """What can be refused before a model is loaded: a corpus that is no file of a kind predict reads, an output
    of another kind or in a folder that does not exist."""
    if not Path(corpus).is_file():
        raise CorpusError(f"{corpus}: no such file")
    _input_suffix(Path(corpus))
    if Path(out).suffix.lower() not in OUTPUT_SUFFIXES:
        raise UserError(f"{out}: the output must end in .csv or .jsonl")
    if not Path(out).parent.is_dir():
        raise UserError(f"{out}: the output's folder {Path(out).parent} does not exist")


def _table_chunks(lines: TextLines, suffix: str, text_col: str, id_col: str | None, label_col: str | None,
                  require_label: bool, chunk_size: int, start_chunk: int) -> Iterator[InputChunk]:
    # a text is cut as the corpus reader cuts it, as it is read: what training kept, in bounded memory
    header, records = read_table(lines, suffix, MAX_DOC_CHARS)
    text_i = column_index(header, text_col, "text", lines.name)
    id_i = column_index(header, id_col, "id", lines.name) if id_col else None
    label_i = _optional_column(header, label_col, require_label, lines.name)
    rows = _Rows(chunk_size, start_chunk, label_i is not None)
    for record in records:
        fields = record.fields
        chunk = rows.add(fields[id_i] if id_i is not None else str(record.number), fields[text_i],
                         fields[label_i] if label_i is not None else None, record.fell_back)
        if chunk is not None:
            yield chunk
    last = rows.cut()
    if last is not None:
        yield last


def _optional_column(header: list[str], wanted: str | None, required: bool, name: str) -> int | None:
    if not wanted:
        return None
    try:
        return column_index(header, wanted, "label", name)
    except CorpusError:
        if required:
            raise
        return None


def _jsonl_chunks(lines: TextLines, text_col: str, id_col: str | None, label_col: str | None,
                  require_label: bool, chunk_size: int, start_chunk: int) -> Iterator[InputChunk]:
    rows: _Rows | None = None
    for number, (line_number, obj, _) in enumerate(jsonl_objects(lines, {text_col: "..."}, MAX_DOC_CHARS), start=1):
        where = f"{lines.name}, line {line_number}"
        if rows is None:  # the first object decides whether the file is labelled
            if require_label and label_col:
                check_fields(obj, [label_col], where)
            rows = _Rows(chunk_size, start_chunk, bool(label_col) and label_col in obj)
        check_fields(obj, [key for key in (text_col, id_col, label_col if rows.has_labels else None) if key], where)
        chunk = rows.add(str(obj[id_col]) if id_col else str(number), text_field(obj, text_col, where),
                         str(obj[label_col]).strip() if rows.has_labels and label_col else None,
                         line_number in lines.fallbacks)
        if chunk is not None:
            yield chunk
    last = rows.cut() if rows is not None else None
    if last is not None:
        yield last


def predict_chunks(classifier: Classifier, chunks: Iterable[InputChunk]) -> Iterator[tuple[InputChunk, Predictions]]:
    """Each chunk with its predictions, one chunk at a time: what a job calls, chunk by chunk."""
    for chunk in chunks:
        yield chunk, classifier.classify(chunk.texts)


@dataclass(frozen=True)
class OutputColumns:
    """What each output row holds beyond its id, label and that label's probability."""
    classes: Sequence[str]
    every_probability: bool = False       # each class's probability
    topic_words: list[list[str]] | None = None   # TopicBERT: its dominant topic and that topic's top words
    mixture: bool = False                 # TopicBERT: every topic's share


def output_rows(chunk: InputChunk, predictions: Predictions, columns: OutputColumns) -> list[dict[str, Any]]:
    """One output row per input row of the chunk, in its order."""
    best = predictions.probabilities.argmax(axis=1)
    rows = []
    for i, row_id in enumerate(chunk.ids):
        flags = [flag for flag, on in ((EMPTY, not chunk.texts[i].strip()), (NOT_UTF8, chunk.not_utf8[i])) if on]
        row: dict[str, Any] = {"id": row_id, "label": columns.classes[best[i]],
                               "probability": round(float(predictions.probabilities[i, best[i]]), 6),
                               "flags": " ".join(flags)}
        if columns.every_probability:
            row.update({f"p_{name}": round(float(p), 6)
                        for name, p in zip(columns.classes, predictions.probabilities[i], strict=True)})
        if columns.topic_words is not None and predictions.topic_mixtures is not None:
            mixture = predictions.topic_mixtures[i]
            topic = int(mixture.argmax())
            row["topic"] = topic
            row["topic_words"] = " ".join(columns.topic_words[topic][:TOPIC_WORDS_SHOWN])
            if columns.mixture:
                row.update({f"topic_{k}": round(float(share), 6) for k, share in enumerate(mixture)})
        rows.append(row)
    return rows


class OutputFile:
    """A CSV or JSONL output (check_paths checked its name) written beside its name and renamed to it whole
    (commit), or removed (abort)."""

    def __init__(self, path: Path) -> None:
        path = Path(path)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.jsonl = path.suffix.lower() == ".jsonl"
        self._file = self.tmp.open("w", encoding="utf-8", newline="")
        self._csv: Any = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if self.jsonl:
                self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
                continue
            if self._csv is None:
                self._csv = csv.DictWriter(self._file, fieldnames=list(row))
                self._csv.writeheader()
            self._csv.writerow(row)

    def commit(self) -> None:
        self._file.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        self._file.close()
        self.tmp.unlink(missing_ok=True)


@dataclass
class PredictReport:
    """What a prediction over a file did and cost: written beside the output (`<output>.cost.json`)."""
    documents: int
    empty: int
    not_utf8: int
    seconds: float
    kwh: float | None          # None: not metered (codecarbon could not start, or the job was too short)
    kg_co2e: float | None
    metering: str              # what codecarbon measured or estimated, or why nothing was metered
    labelled: int = 0          # rows whose label is one of the model's classes
    unknown_labels: int = 0    # labelled rows whose label the model does not know (left out of the F1)
    macro_f1: float | None = None
    macro_f1_ci: tuple[float, float] | None = None

    def lines(self) -> list[str]:
        """What the command line prints at the end."""
        energy = (f"{self.kwh:.6f} kWh, {1000 * self.kg_co2e:.3f} g CO2e ({self.metering})"
                  if self.kwh is not None and self.kg_co2e is not None else f"energy not metered ({self.metering})")
        out = [f"{self.documents} documents in {self.seconds:.1f} s, {energy}"]
        if self.empty or self.not_utf8:
            out.append(f"{self.empty} empty texts (classified, flagged 'empty'); "
                       f"{self.not_utf8} not UTF-8 (read as cp1252/latin-1, flagged)")
        if self.macro_f1 is not None and self.macro_f1_ci is not None:
            left_out = f"; {self.unknown_labels} rows with labels the model does not know left out" \
                if self.unknown_labels else ""
            out.append(f"macro-F1 {self.macro_f1:.4f}, 95% interval [{self.macro_f1_ci[0]:.4f}, "
                       f"{self.macro_f1_ci[1]:.4f}] over {self.labelled} labelled documents{left_out}")
        elif self.unknown_labels:
            out.append(f"no macro-F1: none of the {self.unknown_labels} rows' labels is one of the model's classes")
        return out


class _Scores:
    """The labelled rows' confusion matrix, gathered chunk by chunk: all the F1 and its interval need, whatever the
    file's length."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.class_id = {name: i for i, name in enumerate(classes)}
        self.confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
        self.unknown = 0

    def add(self, chunk: InputChunk, predictions: Predictions) -> None:
        if chunk.labels is None:
            return
        true = np.array([self.class_id.get(label.strip(), -1) for label in chunk.labels], dtype=np.int64)
        known = true >= 0
        self.unknown += int((~known).sum())
        np.add.at(self.confusion, (true[known], predictions.probabilities.argmax(axis=1)[known]), 1)

    def fill(self, report: PredictReport) -> None:
        report.unknown_labels = self.unknown
        report.labelled = int(self.confusion.sum())
        if report.labelled:
            report.macro_f1 = float(macro_f1_of_confusions(self.confusion[None])[0])
            report.macro_f1_ci = confusion_f1_interval(self.confusion)


def predict_file(classifier: Classifier, corpus: Path, out: Path, text_col: str = "text", id_col: str | None = None,
                 label_col: str | None = "label", require_label: bool = False, every_probability: bool = False,
                 mixture: bool = False, chunk_size: int = CHUNK_DOCUMENTS, progress: bool = True,
                 meter: bool = True) -> PredictReport:
    """Classify every row of `corpus` into `out` (.csv or .jsonl) and write the report beside it
    (`<out>.cost.json`). Bad input (a missing column, an output folder that does not exist) fails before anything
    is written; a failure midway leaves no output file."""
    from tqdm import tqdm

    corpus = Path(corpus)
    check_paths(corpus, out)
    lines = TextLines(corpus, str(corpus))
    chunks = read_chunks(corpus, text_col, id_col, label_col, require_label, chunk_size, lines=lines)
    first = next(chunks, None)   # reads the header: a missing column fails here, before any output exists
    output = OutputFile(out)
    columns = OutputColumns(list(classifier.classes_), every_probability,
                            classifier.topic_words() if classifier.has_topics else None, mixture)
    energy = EnergyMeter() if meter else None
    metered = energy.start() if energy is not None else False
    started = time.perf_counter()
    scores = _Scores(columns.classes)
    documents = empty = not_utf8 = 0
    bar = tqdm(total=corpus.stat().st_size, unit="B", unit_scale=True, desc="predict", disable=not progress,
               dynamic_ncols=True)
    try:
        stream = predict_chunks(classifier, _prepend(first, chunks))
        for chunk, predictions in stream:
            output.write(output_rows(chunk, predictions, columns))
            scores.add(chunk, predictions)
            documents += len(chunk)
            empty += sum(not text.strip() for text in chunk.texts)
            not_utf8 += sum(chunk.not_utf8)
            bar.update(lines.bytes_read - bar.n)
            bar.set_postfix_str(f"{documents / max(time.perf_counter() - started, 1e-9):.1f} docs/s, {documents} docs")
        output.commit()
    except BaseException:
        output.abort()
        raise
    finally:
        bar.close()
        reading = energy.stop() if energy is not None and metered else None
    seconds = time.perf_counter() - started
    why = (energy.info()["measured"] if energy is not None else "metering off") or ""
    report = PredictReport(documents, empty, not_utf8, seconds, reading.kwh if reading else None,
                           reading.kg_co2e if reading else None, why)
    scores.fill(report)
    _write_report(report, out)
    return report


def _prepend(first: InputChunk | None, rest: Iterator[InputChunk]) -> Iterator[InputChunk]:
    if first is not None:
        yield first
    yield from rest


def report_path(out: Path) -> Path:
    return Path(out).with_name(Path(out).name + ".cost.json")


def _write_report(report: PredictReport, out: Path) -> None:
    path = report_path(out)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(report.__dict__, indent=1), encoding="utf-8")
    tmp.replace(path)
