"""The topic model a run's `topic_model` setting names."""
from __future__ import annotations

from ..config import TOPIC_MODELS
from .nvdm import NVDM
from .prodlda import ProdLDA
from .topic_model import TopicModel

CLASSES: dict[str, type[TopicModel]] = {"nvdm": NVDM, "prodlda": ProdLDA}
assert tuple(CLASSES) == TOPIC_MODELS, "config.TOPIC_MODELS lists the models this registry builds"


def build_topic_model(name: str, vocab_size: int, n_topics: int, hidden: int, inputs: str) -> TopicModel:
    return CLASSES[name](vocab_size, n_topics=n_topics, hidden=hidden, inputs=inputs)
