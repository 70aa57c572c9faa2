"""The Corpora page's tables: the saved corpora, and what TOPICBERT_HOME holds by kind, with disk use in
megabytes under DISK_COLUMN (the Runs table's disk column too)."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..data.corpus import source_name
from .units import in_megabytes

DISK_COLUMN = "disk (MB)"


def corpora_frame(corpora: Sequence[dict], disk: dict[int, int]) -> pd.DataFrame:
    """The saved corpora: id, name, documents, classes, source and disk use (corpus id -> bytes)."""
    return pd.DataFrame([{"id": row["id"], "name": row["name"], "documents": row["n_docs"],
                          "classes": row["n_classes"], DISK_COLUMN: in_megabytes(disk.get(row["id"], 0)),
                          "source": source_name(row["source"])} for row in corpora],
                        columns=["id", "name", "documents", "classes", DISK_COLUMN, "source"])


def storage_frame(overview: dict[str, int]) -> pd.DataFrame:
    """What TOPICBERT_HOME holds, by kind, in MB (storage.storage_overview), with the total."""
    rows = [{"what": what, DISK_COLUMN: in_megabytes(size)} for what, size in overview.items()]
    rows.append({"what": "in all", DISK_COLUMN: in_megabytes(sum(overview.values()))})
    return pd.DataFrame(rows, columns=["what", DISK_COLUMN])
