"""RunConfig: every setting of one training run, validated and saved whole with the run."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# tfidf: the classical reference (TF-IDF and a linear classifier), no encoder
VARIANTS = ("bert", "topicbert", "tfidf")
# The preset the Studio recommends today, as the settings that make it: the Train page preselects it and
# `bench --variants recommended` trains it. It stays TopicBERT-128 until another preset meets issue 34's targets
# in the full benchmark: on 20 Newsgroups (1,500 posts, patience 2, 3 seeds, one machine per table) 99% of
# BERT-512's best validation macro-F1 at least 2x sooner with at least 50% less energy on every seed, 99% of its
# test F1 (interval's lower end 97% or above), classifying at no more than 1.1x BERT-128's cost per document,
# and no worse than TopicBERT-128 beyond the noise on BBC News and Reuters8.
RECOMMENDED: Mapping[str, Any] = MappingProxyType({"variant": "topicbert", "max_len": 128})
MODES = ("truncate", "partition")
DEVICES = ("auto", "cpu", "cuda", "mps")
TOPIC_MODELS = ("nvdm", "prodlda", "combinedtm")
TOPIC_INPUTS = ("log1p", "frequency", "counts")
# settings renamed since runs were first stored: a stored config is read under the new name
RENAMED = {"nvdm_lr": "tm_lr", "nvdm_pretrain_epochs": "tm_pretrain_epochs", "nvdm_patience": "tm_patience"}
# what a config stored before a setting existed meant by leaving it out: for every run, and for TopicBERT runs
BEFORE_SETTING = {"cpu_bf16": False, "bow_max_df": 1.0}
BEFORE_TOPIC_SETTING = {"topic_model": "nvdm", "tm_input": "counts"}


class UserError(Exception):
    """A person's mistake (a setting, a corpus, an encoder), worded for them: the command line prints it in
    one line and exits with 2."""


class ConfigError(UserError, ValueError):
    """A run setting that is out of range, worded for a person."""


# the topic count a run gets when it sets none: half the square root of its training documents, rounded,
# kept between these bounds (400 documents: 10 topics; 1,800: 21; 5,000: 35; 10,000 and more: 50)
TOPICS_MIN, TOPICS_MAX = 10, 50


def topic_count(n_train_docs: int) -> int:
    """Topics for a corpus of `n_train_docs` training documents: enough documents to estimate each topic
    on a small corpus, not so many topics on a large one that they split into near copies."""
    return max(TOPICS_MIN, min(TOPICS_MAX, round(math.sqrt(n_train_docs) / 2)))


@dataclass(frozen=True)
class RunConfig:
    # what to read
    corpus: str
    text_col: str = "text"
    label_col: str = "label"
    split_col: str | None = None
    limit_train: int | None = None
    limit_eval: int | None = None
    seed: int = 42

    # the model
    variant: str = "topicbert"
    model: str = "default"
    max_len: int = 128
    mode: str = "truncate"
    # the wide path beside the encoder (training/late_fusion.py): the TF-IDF reference fitted on the same training
    # documents, its class scores fused with the encoder's probabilities, their weight chosen on validation at each
    # evaluation: the whole bag of words, which the 128-piece cut and the topic bottleneck lose, at the cost of a
    # sparse product when classifying
    tfidf_fusion: bool = False
    # partition mode: a document is cut into at most partition_budget // max_len chunks
    partition_budget: int = 512
    # None: chosen from the number of training documents (topic_count)
    n_topics: int | None = None
    # the topic model: "combinedtm" (ProdLDA that also reads each document's embedding: the most coherent
    # topics on the demo's 400 documents, BENCHMARKS.md), "prodlda" or "nvdm" (the paper's); what its
    # encoder reads of the word counts: log(1 + counts), counts over length, or raw counts (the paper's)
    topic_model: str = "combinedtm"
    tm_input: str = "log1p"
    tm_hidden: int = 256
    alpha: float = 0.9
    dropout: float = 0.1
    # Attention dropout dominates the step cost at 512 tokens on CPU (SDPA falls back
    # to its slow path); it is switched off for every variant alike.
    attention_dropout: float = 0.0

    # topic vocabulary (data/vocabulary.py): words a person reads, by the paper's recipe (min_df, drop_top);
    # then words in over half the training documents go ("reuter" in Reuters8) and the 2,000 most frequent
    # stay, as the topic-model literature's 20 Newsgroups setups keep (rare words made incoherent topics)
    bow_min_df: int = 10
    bow_drop_top: float = 0.001
    bow_max_size: int = 2000
    bow_max_df: float = 0.5

    # optimisation
    epochs: int = 3
    batch_size: int = 16
    # 1e-4 suits the small default encoder (MiniLM-L6); the paper used 2e-5 with bert-base
    lr: float = 1e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_frac: float = 0.1
    clip: float = 1.0
    # the topic model's pretraining alone (Adam), early-stopped on validation perplexity;
    # tm_lr None: the rate the topic model's own paper used; tm_pretrain_epochs: the most epochs, None: sized
    # to the corpus (training/pretrain.py: pretrain_epochs); tm_patience: epochs without progress before it stops
    tm_lr: float | None = None
    tm_pretrain_epochs: int | None = None
    tm_patience: int = 5
    eval_every_steps: int | None = None
    # stop once this many evaluations in a row bring no better validation macro-F1 (None: train every epoch)
    early_stopping_patience: int | None = None
    # speed switches, kept so the benchmark can ablate each one (bench variant suffixes)
    length_grouping: bool = True
    compile: bool = False
    # Adam and AdamW as one fused kernel where the device has one (training/device.py): the optimiser step is
    # a fixed cost per step, so a short sequence length pays it on less work than a long one
    fused_optimizer: bool = True
    # a resumable checkpoint (model + optimiser state) after every evaluation; the
    # benchmark switches it off since nothing there is ever resumed
    resumable_checkpoints: bool = True
    # read the documents' embeddings (CombinedTM) back from the corpus's cache where an earlier run left
    # them; the benchmark switches it off, so each of its rows pays for them as a first run does
    embedding_cache: bool = True
    # load the topic model an earlier run pretrained from the same start on the same inputs instead of pretraining
    # it again (training/topic_model_cache.py); the benchmark switches it off, so each row pays for its own
    topic_model_cache: bool = True

    # where and how
    device: str = "auto"
    # bf16 autocast on CUDA; on CPU with cpu_bf16 where the CPU computes bf16 natively (AMX or AVX512-BF16:
    # training 1.25-1.64x faster, F1 within noise, BENCHMARKS.md); elsewhere CPU runs stay float32
    bf16: bool = True
    cpu_bf16: bool = True
    nproc: int = 1
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        checks = [
            (self.variant in VARIANTS, f"variant must be one of {VARIANTS}, not {self.variant!r}"),
            (self.mode in MODES, f"mode must be one of {MODES}, not {self.mode!r}"),
            (self.uses_encoder or not self.tfidf_fusion,
             "tfidf_fusion fuses the TF-IDF reference into an encoder's predictions: the variant tfidf has none"),
            (self.topic_model in TOPIC_MODELS, f"topic_model must be one of {TOPIC_MODELS}, not {self.topic_model!r}"),
            (self.tm_input in TOPIC_INPUTS, f"tm_input must be one of {TOPIC_INPUTS}, not {self.tm_input!r}"),
            (self.device in DEVICES, f"device must be one of {DEVICES}, not {self.device!r}"),
            (32 <= self.max_len <= 512, f"max_len must be between 32 and 512, not {self.max_len}"),
            (self.partition_budget >= self.max_len, "partition_budget must be at least max_len"),
            (0.0 < self.alpha <= 1.0, f"alpha must be in (0, 1], not {self.alpha}"),
            (self.n_topics is None or self.n_topics >= 2, f"n_topics must be at least 2, not {self.n_topics}"),
            (self.tm_pretrain_epochs is None or self.tm_pretrain_epochs >= 1,
             f"tm_pretrain_epochs must be at least 1, not {self.tm_pretrain_epochs}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), not {self.dropout}"),
            (self.epochs >= 1, f"epochs must be at least 1, not {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be at least 1, not {self.batch_size}"),
            (self.lr > 0, f"lr must be positive, not {self.lr}"),
            # a share of the planned steps: at 1 or more the rate would still be climbing when training ends
            (0.0 <= self.warmup_frac < 1.0, f"warmup_frac must be in [0, 1), not {self.warmup_frac}"),
            (self.tm_lr is None or self.tm_lr > 0, f"tm_lr must be positive, not {self.tm_lr}"),
            (self.nproc >= 1, f"nproc must be at least 1, not {self.nproc}"),
            # each process takes its share of every batch: a smaller batch gives some nothing, and
            # a batch a process cannot share is dropped, so the run would train no step at all
            (self.batch_size >= self.nproc, f"batch_size ({self.batch_size}) must be at least nproc "
                                            f"({self.nproc}): each process takes its share of every batch"),
            (self.bow_min_df >= 1, f"bow_min_df must be at least 1, not {self.bow_min_df}"),
            (0.0 <= self.bow_drop_top < 1.0, f"bow_drop_top must be in [0, 1), not {self.bow_drop_top}"),
            (0.0 < self.bow_max_df <= 1.0, f"bow_max_df must be in (0, 1], not {self.bow_max_df}"),
            (self.early_stopping_patience is None or self.early_stopping_patience >= 1,
             f"early_stopping_patience must be at least 1 (or off), not {self.early_stopping_patience}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def use_topics(self) -> bool:
        return self.variant == "topicbert"

    def topics_for(self, n_train_docs: int) -> int:
        """The topics this run trains on `n_train_docs` training documents: its own n_topics if set."""
        return self.n_topics if self.n_topics is not None else topic_count(n_train_docs)

    @property
    def uses_encoder(self) -> bool:
        return self.variant != "tfidf"

    @property
    def name(self) -> str:
        """Short display name, as the paper writes it: TopicBERT-128, BERT-512; TF-IDF for the reference;
        BERT-128+TF-IDF with the wide path."""
        if not self.uses_encoder:
            return "TF-IDF"
        base = "TopicBERT" if self.use_topics else "BERT"
        suffix = ("-partition" if self.mode == "partition" else "") + ("+TF-IDF" if self.tfidf_fusion else "")
        return f"{base}-{self.max_len}{suffix}"

    @property
    def test_set(self) -> str:
        """What decides a run's test documents: the corpus (and its columns), the seed and the limits.
        Runs with the same key were tested on the same documents; others cannot be compared."""
        return json.dumps([self.corpus, self.text_col, self.label_col, self.split_col, self.seed,
                           self.limit_train, self.limit_eval])

    @property
    def seed_group(self) -> str:
        """Every setting but the seed: runs with the same key differ only by seed, and Compare takes them together."""
        return json.dumps({key: value for key, value in self.to_dict().items() if key != "seed"}, sort_keys=True)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        data = {RENAMED.get(key, key): value for key, value in data.items()}
        data = {**BEFORE_SETTING, **(BEFORE_TOPIC_SETTING if data.get("variant") == "topicbert" else {}), **data}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown run settings: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))
