"""The topic model a run's `topic_model` setting names."""
from __future__ import annotations

from ..config import TOPIC_MODELS
from .combinedtm import CombinedTM
from .nvdm import NVDM
from .prodlda import ProdLDA
from .topic_model import TopicModel

CLASSES: dict[str, type[TopicModel]] = {"nvdm": NVDM, "prodlda": ProdLDA, "combinedtm": CombinedTM}
assert tuple(CLASSES) == TOPIC_MODELS, "config.TOPIC_MODELS lists the models this registry builds"


def reads_embeddings(name: str) -> bool:
    """Whether the topic model `name` needs each document's embedding (computed before it trains)."""
    return CLASSES[name].reads_embeddings


def build_topic_model(name: str, vocab_size: int, n_topics: int, hidden: int, inputs: str,
                      embedding_size: int = 0) -> TopicModel:
    """`embedding_size`: the width of the document embeddings, for a model that reads them."""
    extra = {"embedding_size": embedding_size} if reads_embeddings(name) else {}
    return CLASSES[name](vocab_size, n_topics=n_topics, hidden=hidden, inputs=inputs, **extra)
