"""The bench's rows by name: bert-512, topicbert-128-partition, tfidf, an ablation suffix such as +nogroup,
`recommended` for the preset the Studio recommends, and what the bench runs unless told otherwise. Nothing heavy
here: the command line builds its help from it and checks every name before anything trains."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import RECOMMENDED, TOPIC_MODELS, RunConfig

BASELINE = "bert-512"
HF_TRAINER = "hf-trainer-512"
TFIDF = "tfidf"
# the name that stands for config.RECOMMENDED, so that a check on another corpus can ask for it by that name
RECOMMENDED_NAME = "recommended"
DEFAULT_VARIANTS = "bert-512,bert-128,topicbert-256,topicbert-128,topicbert-128-partition,tfidf"
DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "20news-bydate.zip"

# suffixes: each switches one change off (or on) for a row of its own (and +nvdm / +prodlda choose the topic
# model of a TopicBERT row; +tfidf adds the wide path, the TF-IDF reference fused into the encoder's predictions)
SWITCHES: dict[str, dict[str, object]] = {
    "nogroup": {"length_grouping": False}, "compile": {"compile": True}, "unfused": {"fused_optimizer": False},
    "bf16": {"cpu_bf16": True}, "fp32": {"cpu_bf16": False}, "tfidf": {"tfidf_fusion": True},
    **{name: {"topic_model": name} for name in TOPIC_MODELS}}
KNOWN_NAMES = (f"bert-N or topicbert-N (N word pieces, 32 to 512: {BASELINE}, topicbert-128), -partition after "
               f"either, {TFIDF}, {RECOMMENDED_NAME}; suffixes " + ", ".join(f"+{s}" for s in SWITCHES))


def parse_variant(name: str) -> dict:
    """'topicbert-128-partition' -> {variant: topicbert, max_len: 128, mode: partition};
    'bert-512+nogroup' adds {length_grouping: False}; 'tfidf' -> {variant: tfidf}."""
    base, *switches = name.strip().lower().split("+")
    if base == TFIDF and not switches:
        return {"variant": "tfidf"}
    parts = base.split("-")
    if len(parts) not in (2, 3) or parts[0] not in ("bert", "topicbert") or not parts[1].isdigit() or (
            len(parts) == 3 and parts[2] != "partition"):
        raise ValueError(f"variant {name!r} is not like bert-512, topicbert-128[-partition][+switch] or tfidf")
    unknown = [s for s in switches if s not in SWITCHES]
    if unknown:
        raise ValueError(f"variant {name!r}: unknown switch {unknown[0]!r}; known: {', '.join(SWITCHES)}")
    settings = {"variant": parts[0], "max_len": int(parts[1]), "mode": parts[2] if len(parts) == 3 else "truncate"}
    for switch in switches:
        settings.update(SWITCHES[switch])
    return settings


def variant_name(settings: Mapping[str, Any]) -> str:
    """The row name of a preset's settings (variant, max_len, mode, tfidf_fusion), as parse_variant reads it:
    {variant: bert, max_len: 128, tfidf_fusion: True} -> 'bert-128+tfidf'."""
    config = RunConfig(corpus="", **settings)
    if not config.uses_encoder:
        return TFIDF
    name = f"{config.variant}-{config.max_len}" + ("-partition" if config.mode == "partition" else "")
    return name + ("+tfidf" if config.tfidf_fusion else "")


def variant_names(text: str, base: RunConfig) -> list[str]:
    """The rows `--variants` asks for, every one checked on `base` before anything trains: `recommended` (with
    any suffixes) read as the preset the Studio recommends. ValueError naming the first name that is wrong and
    the names that are known."""
    names = []
    for given in text.split(","):
        name = given.strip().lower()
        if not name:
            continue
        head, plus, switches = name.partition("+")
        if head == RECOMMENDED_NAME:
            name = variant_name(RECOMMENDED) + plus + switches
        try:
            base.replace(**parse_variant(name))  # a length out of range is refused here too, not after a row
        except ValueError as error:  # ConfigError is one
            raise ValueError(f"--variants {given.strip()}: {error}. Known names: {KNOWN_NAMES}") from None
        names.append(name)
    if not names:
        raise ValueError(f"--variants names no variant. Known names: {KNOWN_NAMES}")
    return names
