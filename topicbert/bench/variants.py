"""The bench's rows by name: bert-512, topicbert-128-partition, tfidf, an ablation suffix such as +nogroup,
and what the bench runs unless told otherwise. Nothing heavy here: the command line builds its help from it."""
from __future__ import annotations

from pathlib import Path

from ..config import TOPIC_MODELS

BASELINE = "bert-512"
HF_TRAINER = "hf-trainer-512"
TFIDF = "tfidf"
DEFAULT_VARIANTS = "bert-512,bert-128,topicbert-256,topicbert-128,topicbert-128-partition,tfidf"
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "20news-bydate.zip"

# ablation suffixes: each switches one change off (or on) for a row of its own
# (and +nvdm / +prodlda choose the topic model of a TopicBERT row)
SWITCHES: dict[str, dict[str, object]] = {
    "nogroup": {"length_grouping": False}, "compile": {"compile": True}, "unfused": {"fused_optimizer": False},
    "bf16": {"cpu_bf16": True}, "fp32": {"cpu_bf16": False},
    **{name: {"topic_model": name} for name in TOPIC_MODELS}}


def parse_variant(name: str) -> dict:
    """'topicbert-128-partition' -> {variant: topicbert, max_len: 128, mode: partition};
    'bert-512+nogroup' adds {length_grouping: False}; 'tfidf' -> {variant: tfidf}."""
    base, *switches = name.strip().lower().split("+")
    if base == TFIDF and not switches:
        return {"variant": "tfidf"}
    parts = base.split("-")
    if len(parts) not in (2, 3) or parts[0] not in ("bert", "topicbert") or not parts[1].isdigit():
        raise ValueError(f"variant {name!r} is not like bert-512, topicbert-128[-partition][+switch] or tfidf")
    unknown = [s for s in switches if s not in SWITCHES]
    if unknown:
        raise ValueError(f"variant {name!r}: unknown switch {unknown[0]!r}; known: {', '.join(SWITCHES)}")
    settings = {"variant": parts[0], "max_len": int(parts[1]), "mode": parts[2] if len(parts) == 3 else "truncate"}
    for switch in switches:
        settings.update(SWITCHES[switch])
    return settings
