"""An uploaded corpus file: kept on disk for the reader, and its first rows for choosing columns.

The preview splits columns as the reader does (tables.sniff_delimiter), so the columns offered
are the columns the reader will find."""
from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pandas as pd

from .corpus import split_word
from .records import CorpusError
from .tables import sniff_delimiter

UPLOAD_TYPES = ("csv", "tsv", "txt", "jsonl", "ndjson", "zip")
TABLE_TYPES = ("csv", "tsv", "txt")
JSONL_TYPES = ("jsonl", "ndjson")
PREVIEW_ROWS = 5
GUESS_ROWS = 500  # enough rows to tell a label (few values) from a text or an id
# The preview reads no more of a file than this (the app's own process reads it): one line may be all of a file
PREVIEW_BYTES = 8 << 20


def stash_upload(name: str, data: bytes, folder: Path) -> Path:
    """Write the bytes once under `folder`, by content hash; the file keeps its name's extension,
    which is how the reader tells formats apart. Returns the path."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    # only the last path part, in safe characters: a name is never a path out of the folder
    safe = re.sub(r"[^\w.\-]", "_", Path(name.replace("\\", "/")).name).lstrip(".") or "upload"
    path = folder / digest / safe
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{safe}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def kind(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _head(path: Path) -> str:
    """The file's first PREVIEW_BYTES, whole lines only where it holds more."""
    with path.open("rb") as f:
        data = f.read(PREVIEW_BYTES + 1)
    if len(data) > PREVIEW_BYTES:
        data = data[:data.rfind(b"\n", 0, PREVIEW_BYTES) + 1]
    return data.decode("utf-8", errors="replace")


def preview_rows(path: Path, n: int = 5) -> pd.DataFrame | None:
    """The first `n` rows of a CSV, TSV or JSONL file (within its first PREVIEW_BYTES), all as text;
    None for a ZIP or when the rows cannot be parsed (the reader then says what is wrong)."""
    suffix = kind(path)
    try:
        if suffix in TABLE_TYPES:
            head = _head(path)
            header = next((line for line in io.StringIO(head, newline=None) if line.strip()), "")
            separator = sniff_delimiter(header, path.suffix.lower(), path.name)
            return pd.read_csv(io.StringIO(head), sep=separator, nrows=n, dtype=str, keep_default_na=False,
                               on_bad_lines="skip")
        if suffix in JSONL_TYPES:
            rows = []
            with io.StringIO(_head(path), newline=None) as f:  # lines end as a text file's do
                for line in f:
                    if line.strip():
                        row = json.loads(line)
                        if isinstance(row, dict):
                            rows.append({k: str(v) for k, v in row.items()})
                    if len(rows) == n:
                        break
            return pd.DataFrame(rows)
    except (ValueError, UnicodeError, CorpusError):  # JSON and CSV parser errors are ValueErrors
        return None
    return None


def _named(names: list[str], wanted: str) -> str | None:
    exact = [name for name in names if name.strip() == wanted]
    folded = [name for name in names if name.strip().casefold() == wanted]
    return next(iter(exact or folded), None)


def guess_columns(rows: pd.DataFrame) -> dict[str, str | None]:
    """text_col, label_col and split_col from a file's first rows (all text): the columns named text,
    label and split where there are such; else the text is the column with the longest values, the
    split a column of train/validation/test values, and the label the one of the rest with the
    fewest distinct values (two at least where some column has two)."""
    names = [str(name) for name in rows.columns]
    if not names:
        return {"text_col": "text", "label_col": "label", "split_col": None}
    values = {name: rows[name].astype(str).str.strip() for name in names}
    split = _named(names, "split") or next(
        (name for name in names if len(values[name]) and all(split_word(v) for v in values[name])), None)
    text = _named(names, "text") or max((name for name in names if name != split),
                                        key=lambda name: values[name].str.len().mean(), default=names[0])
    rest = [name for name in names if name not in (text, split)]
    distinct = {name: values[name].nunique() for name in rest}
    label = _named(names, "label") or min(rest, key=lambda name: (distinct[name] < 2, distinct[name]),
                                          default=text)
    return {"text_col": text, "label_col": label, "split_col": split}
