"""A finished run's model as a classifier: predict, predict_proba, classes_, and for TopicBERT topic_mixture
and topic_words, as scikit-learn and BERTopic users expect.

It reproduces the evaluation exactly: the documents are cut as the run cut them (data.splits.encode_split:
truncation, or partition chunks whose probabilities are averaged), batched by length and classified by
training.evaluation.evaluate under the run's precision (bf16 autocast where the run computed in it), with the
wide path's TF-IDF reference fused in where the run has one (late_fusion.load_fusion), and a CombinedTM run's
document embeddings come from the same frozen encoder pass (embed_documents). A run's own
test documents, classified in one call, get the very probabilities the run stored.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.batching import tokenize
from ..data.corpus import MAX_DOC_CHARS
from ..data.splits import encode_split
from ..data.vocabulary import TopicVocabulary
from ..model.encoders import load_encoder, load_tokenizer
from ..training.checkpoints import load_model_parts
from ..training.device import choose_device, uses_bf16
from ..training.document_embeddings import embed_documents
from ..training.evaluation import evaluate
from ..training.late_fusion import load_fusion
from ..training.loop import build_model
from ..training.tfidf import TfidfModel
from ..training.topic_quality import TOP_WORDS, topic_words
from .model_folder import ModelParts, exported_model_parts


@dataclass
class Predictions:
    probabilities: np.ndarray           # (n_docs, C): each class's probability (TF-IDF: its uncalibrated share)
    topic_mixtures: np.ndarray | None   # (n_docs, K): each document's topic proportions, TopicBERT only


class Classifier(ABC):
    """What every kind of run's model gives."""

    def __init__(self, parts: ModelParts) -> None:
        self.parts = parts
        self.config = parts.config
        self.classes_ = np.asarray(parts.classes, dtype=object)

    @property
    def name(self) -> str:
        """TopicBERT-128, BERT-512, TF-IDF: what the run was."""
        return self.config.name

    @property
    def has_topics(self) -> bool:
        return self.config.use_topics

    @property
    def bf16(self) -> bool | None:
        """Whether it computes under bf16 autocast here (None: no encoder)."""
        return None

    @abstractmethod
    def classify(self, texts: Sequence[str]) -> Predictions:
        """Class probabilities and (TopicBERT) topic mixtures of `texts`, in one pass."""

    @staticmethod
    def as_read(texts: Sequence[str]) -> list[str]:
        """The texts as a corpus reader keeps them: a document longer than MAX_DOC_CHARS is its beginning."""
        return [text[:MAX_DOC_CHARS] for text in texts]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_docs, n_classes): one row per text, one column per class of classes_."""
        return self.classify(texts).probabilities

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's label, as the corpus named it."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def topic_mixture(self, texts: Sequence[str]) -> np.ndarray:
        """(n_docs, n_topics): each text's topic proportions (TopicBERT only)."""
        mixtures = self.classify(texts).topic_mixtures
        if mixtures is None:
            raise ValueError(f"{self.name} has no topic model: only TopicBERT runs give topic mixtures")
        return mixtures

    def topic_words(self, n: int = TOP_WORDS) -> list[list[str]]:
        """Each topic's n heaviest words (TopicBERT only)."""
        raise ValueError(f"{self.name} has no topic model: only TopicBERT runs have topics")


class EncoderClassifier(Classifier):
    """BERT and TopicBERT runs: the fine-tuned encoder, the head and (TopicBERT) the topic model."""

    def __init__(self, parts: ModelParts, device: str = "auto") -> None:
        super().__init__(parts)
        self.device = choose_device(device)
        encoder_folder = str(parts.folder / "encoder")
        self.tokenizer = load_tokenizer(encoder_folder)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        self.vocabulary = TopicVocabulary.load(parts.folder / "vocab.json") if self.has_topics else None
        # the run's own model built as training built it, its encoder read from the model's folder
        model = build_model(self.config.replace(model=encoder_folder), len(parts.classes),
                            len(self.vocabulary) if self.vocabulary is not None else None)
        load_model_parts(parts.folder, model)
        self.model = model.to(self.device).eval()
        self.fusion = load_fusion(parts.folder, self.config)  # the wide path's TF-IDF reference, where it has one
        self._lock = threading.Lock()
        self.embedding_encoder = None
        if parts.reads_embeddings:
            assert parts.embedding_encoder is not None  # ModelParts names it for a topic model that reads them
            # transformers wraps PreTrainedModel.to in functools.wraps(Module.to): mypy sees the unbound method
            self.embedding_encoder = load_encoder(parts.embedding_encoder).to(self.device)  # type: ignore[arg-type]

    @property
    def bf16(self) -> bool:
        return uses_bf16(self.device, self.config)

    def classify(self, texts: Sequence[str]) -> Predictions:
        texts = self.as_read(texts)
        if not texts:
            n_topics = self.model.topic_model.n_topics if self.model.topic_model is not None else 0
            return Predictions(np.zeros((0, len(self.classes_)), dtype=np.float32),
                               np.zeros((0, n_topics), dtype=np.float32) if self.has_topics else None)
        token_ids = tokenize(self.tokenizer, texts)
        # labels are not read to classify; evaluate's loss over these zeros is left unread
        split = encode_split(self.config, self.tokenizer, texts, np.zeros(len(texts), dtype=np.int64), token_ids,
                             self.vocabulary)
        # one pass at a time: evaluate hands the model back in training mode (for the loop), and a page's sessions
        # share one classifier, so another pass must not run with dropout switched on under it
        with self._lock:
            if self.embedding_encoder is not None:
                split.embeddings = embed_documents(self.embedding_encoder, token_ids, self.tokenizer.cls_token_id,
                                                   self.tokenizer.sep_token_id, self.pad_id, self.device, self.config)
            output = evaluate(self.model, split, self.config, self.device, self.pad_id, self.fusion)
            self.model.eval()
        return Predictions(output.probabilities, output.topic_mixtures)

    def topic_words(self, n: int = TOP_WORDS) -> list[list[str]]:
        if self.model.topic_model is None or self.vocabulary is None:
            return super().topic_words(n)
        return [[word for word, _ in topic] for topic in topic_words(self.model.topic_model, self.vocabulary.words, n)]


class TfidfClassifier(Classifier):
    """The TF-IDF reference: word 1-2-gram TF-IDF and a linear SVM, its class shares a softmax of its margins."""

    def __init__(self, parts: ModelParts) -> None:
        super().__init__(parts)
        self.model = TfidfModel.load(parts.folder)

    def classify(self, texts: Sequence[str]) -> Predictions:
        texts = self.as_read(texts)
        if not texts:
            return Predictions(np.zeros((0, len(self.classes_))), None)
        return Predictions(self.model.probabilities(texts), None)


def open_classifier(parts: ModelParts, device: str = "auto") -> Classifier:
    """The classifier of a model's parts, on `device` ("auto": a GPU when there is one)."""
    return EncoderClassifier(parts, device) if parts.config.uses_encoder else TfidfClassifier(parts)


def load_model_folder(folder: str | Path, device: str = "auto") -> Classifier:
    """The classifier of a model folder export_model wrote (no store needed)."""
    return open_classifier(exported_model_parts(Path(folder)), device)


def save_encoder(name: str, folder: Path) -> None:
    """Save the encoder `name` (and its tokenizer) as it is loaded, to `folder`: CombinedTM's frozen encoder, in an
    exported model folder."""
    load_encoder(name).save_pretrained(folder)
    load_tokenizer(name).save_pretrained(folder)

