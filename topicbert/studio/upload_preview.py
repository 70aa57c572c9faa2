"""What the Corpora page shows of an uploaded file before the reader reads it: the file kept on disk
under the store's home, and its first rows with the columns guessed for text, label and split."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data import upload
from ..data.upload import PREVIEW_ROWS, UPLOAD_TYPES  # the page's file picker and preview, as the reader has them
from ..runs.store import Store

__all__ = ["PREVIEW_ROWS", "UPLOAD_TYPES", "UploadPreview", "keep_upload", "preview"]


@dataclass(frozen=True)
class UploadPreview:
    rows: pd.DataFrame  # the first GUESS_ROWS rows, split into columns as the reader splits them
    guess: dict[str, str | None]  # text_col, label_col, split_col: the columns that look like each


def keep_upload(store: Store, name: str, data: bytes) -> Path:
    """The upload's bytes written once (by content hash) into the store's uploads folder."""
    return upload.stash_upload(name, data, store.path.parent / "uploads")


def preview(path: Path) -> UploadPreview | None:
    """The file's first rows and guessed columns; None for a ZIP or a file with no columns to choose from."""
    if upload.kind(path) not in upload.TABLE_TYPES + upload.JSONL_TYPES:
        return None
    rows = upload.preview_rows(path, upload.GUESS_ROWS)
    if rows is None or not len(rows.columns):
        return None
    return UploadPreview(rows, upload.guess_columns(rows))
