"""Where the Studio keeps its data: TOPICBERT_HOME, never inside the source tree."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = Path.home() / ".topicbert"


def home() -> Path:
    """The data folder: $TOPICBERT_HOME, else ~/.topicbert; created on first use."""
    path = Path(os.environ.get("TOPICBERT_HOME") or DEFAULT_HOME).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
