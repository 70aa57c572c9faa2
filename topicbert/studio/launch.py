"""What to queue and what it will cost: the Train page's presets and configs, the demo, and
the projected time, kWh and CO2 of each run before it is queued."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import RECOMMENDED, TOPICS_MAX, TOPICS_MIN, ConfigError, RunConfig, UserError
from ..data.corpus import load_corpus
from ..energy.estimate import Estimate, PastRun, estimate_run
from ..energy.meter import carbon_intensity, country_code
from ..runs.saved_corpora import run_settings
from ..runs.services import baselines_for, reference_configs
from ..runs.store import Store
from .run_identity import finished_runs
from .units import format_duration, format_energy

# torch, and the modules that load it (batching, splits, the encoders, the topic models, the device, pretraining),
# are imported by the functions that use them: Home imports this module, and its first load should not wait for
# torch (tests/test_home_imports.py)
if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# the demo: TopicBERT-128 with its baselines (BERT-512, TF-IDF), small enough for minutes on two CPU cores (170 s
# measured with bf16 on a quiet machine, BENCHMARKS.md; Home projects it from this machine's past runs), with
# enough test documents (BBC News: all of its 223) that a real F1 gap stands out from the noise
# (its topic count, like any run's, is chosen from its training documents: 10 for 400)
DEMO_SETTINGS: dict[str, Any] = {"variant": "topicbert", "max_len": 128, "limit_train": 400, "limit_eval": 250,
                                 "epochs": 2}
# the Train page's choices, as the paper names its models, and the settings that make each
PRESETS: dict[str, dict[str, Any]] = {
    "BERT-512": {"variant": "bert", "max_len": 512}, "TopicBERT-512": {"variant": "topicbert", "max_len": 512},
    "TopicBERT-256": {"variant": "topicbert", "max_len": 256},
    "TopicBERT-128": {"variant": "topicbert", "max_len": 128},
    "TopicBERT-64": {"variant": "topicbert", "max_len": 64}, "BERT-256": {"variant": "bert", "max_len": 256},
    "BERT-128": {"variant": "bert", "max_len": 128}, "BERT-64": {"variant": "bert", "max_len": 64},
    "BERT-128+TF-IDF": {"variant": "bert", "max_len": 128, "tfidf_fusion": True},
    "TF-IDF (reference)": {"variant": "tfidf", "max_len": 128}}
# what the Train page says of a preset the paper has no name for, in one sentence
PRESET_NOTES = {
    "BERT-128+TF-IDF": "BERT-128 with a wide path beside it: the TF-IDF reference, fitted in seconds on the same "
                       "training documents, reads every word the 128 word pieces leave out, and its class scores "
                       "are fused with the encoder's probabilities at the weight that does best on the validation "
                       "documents, for a sparse product more per document when classifying."}
# the preset the Studio recommends (config.RECOMMENDED), preselected on the Train page
RECOMMENDED_PRESET = next(name for name, settings in PRESETS.items() if settings == RECOMMENDED)
DEFAULT_ENCODER = "default"
TOPIC_MODEL_NAMES = {"combinedtm": "CombinedTM (ProdLDA that also reads each document's embedding)",
                     "prodlda": "ProdLDA (coherent topics)", "nvdm": "NVDM (the paper's)"}


def demo_config(corpus_row: dict) -> RunConfig:
    """TopicBERT-128 on a small stratified subset of a saved corpus (its baselines are queued with it on submit)."""
    return RunConfig(**run_settings(corpus_row), **DEMO_SETTINGS)


def demo_configs(corpus_row: dict) -> list[RunConfig]:
    """The demo's runs as queued: TopicBERT-128, then its baselines."""
    config = demo_config(corpus_row)
    return [config] + reference_configs(config, **baselines_for(config))


def demo_pieces(corpus_row: dict) -> CorpusPieces | None:
    """The word pieces of the training documents the demo reads, under its encoder (the others counted 0: no demo
    run reads them; tokenizing 400 documents, not the whole corpus, keeps Home quick); None when the encoder or the
    corpus cannot be read."""
    from ..data.batching import tokenize
    from ..data.splits import limited_indices

    config = demo_config(corpus_row)
    try:
        corpus = load_corpus(config.corpus, config.text_col, config.label_col, config.split_col, seed=config.seed)
        tokenizer = encoder_tokenizer(config.model)
    except UserError:
        return None
    # every demo run (TopicBERT and its baselines) reads the same documents: the same corpus, limits and seed
    read = [i for i in limited_indices(corpus.labels, corpus.splits, config.limit_train, config.limit_eval, config.seed)
            if corpus.splits[i] == "train"]
    lengths = [0] * len(corpus.texts)
    for i, ids in zip(read, tokenize(tokenizer, [corpus.texts[i] for i in read]), strict=True):
        lengths[i] = len(ids)
    return CorpusPieces(corpus.labels, corpus.splits, lengths)


def demo_projection(store: Store, corpus_row: dict, host: str,
                    pieces: CorpusPieces | None) -> tuple[list[Estimate] | None, bool]:
    """Each demo run's projected cost on this host, as the Train page projects a run's (`pieces`: demo_pieces;
    this host's finished runs), and whether those runs gave the speed; (None, False) without the pieces."""
    if pieces is None:
        return None, False
    configs = demo_configs(corpus_row)
    history = past_runs(store, host)
    lengths = [train_piece_lengths(pieces, config) for config in configs]
    return (projections(configs, lengths, history, grid_intensity()),
            any(run.model == configs[0].model for run in history))


def _split_count(corpus_row: dict, split: str, limit: int) -> int:
    """Documents of a split a run limited to `limit` reads (the limit when the corpus row has no counts)."""
    available = sum(((corpus_row.get("counts") or {}).get(split) or {}).values())
    return min(limit, available) if available else limit


# what the projection leaves out: each run's start (loading the encoder, tokenizing) and its test pass; on two
# CPU cores the demo took 5 min 13 s from the click where its training was projected at 4 min 19 s
UNPROJECTED = "loading the models and testing them add to it"


def demo_description(corpus_row: dict, estimates: Sequence[Estimate] | None = None,
                     from_past_runs: bool = False) -> str:
    """One sentence for the home page: what the demo trains (its real document counts), how long it is projected
    to take (`estimates`: each demo run's projection, as the Train page makes it; `from_past_runs`: whether
    finished runs of its encoder on this machine gave the speed), what it will show and what it cannot."""
    settings = DEMO_SETTINGS
    seconds = sum(e.seconds for e in estimates or [] if e.seconds == e.seconds)  # TF-IDF's NaN: seconds, left out
    if not estimates:
        duration = "its duration projected once its encoder can be read"
    elif from_past_runs:
        duration = (f"about {format_duration(seconds)} of training in all, projected from this machine's past runs; "
                    f"{UNPROJECTED}")
    else:
        duration = (f"about {format_duration(seconds)} of training in all at the speed measured on two CPU cores; "
                    f"{UNPROJECTED}; the projection follows this machine's own runs once one finished")
    return (f"The demo trains TopicBERT-{settings['max_len']}, BERT-512 and the TF-IDF reference on "
            f"{_split_count(corpus_row, 'train', settings['limit_train'])} training documents of "
            f"“{corpus_row['name']}” for {settings['epochs']} epochs ({duration}) and tests all three on the same "
            f"{_split_count(corpus_row, 'test', settings['limit_eval'])} documents: it shows what TopicBERT saves in "
            f"time and energy and whether its F1 gap to BERT-512 stands out from the noise of that test set, but with "
            f"so few training documents and epochs it cannot tell how the models compare when trained on your whole "
            f"corpus.")


def encoder_setting(use_default: bool, name: str) -> str:
    """The `model` setting: the bundled default, or the Hugging Face id or folder the person named."""
    if use_default:
        return DEFAULT_ENCODER
    if not name.strip():
        raise ConfigError("name the Hugging Face id or the folder of the encoder")
    return name.strip()


def configs_to_queue(corpus_row: dict, preset: str, with_baselines: bool, **settings: Any) -> list[RunConfig]:
    """The run a preset and settings describe on a saved corpus, then, if asked, the baselines queued
    with it (services.baselines_for: BERT-512 and the TF-IDF reference).

    `settings`: RunConfig fields (model, mode, epochs, ...); a limit of 0 means every document.
    ConfigError if a setting is out of range.
    """
    for limit in ("limit_train", "limit_eval"):
        settings[limit] = settings.get(limit) or None
    config = RunConfig(**run_settings(corpus_row), **PRESETS[preset], **settings)
    return [config] + (reference_configs(config, **baselines_for(config)) if with_baselines else [])


@dataclass(frozen=True)
class TopicPlan:
    """What a TopicBERT run's topic model will be, on a given number of training documents."""
    topic_model: str
    n_topics: int
    chosen: bool              # the count was chosen from the corpus (the run left it open)
    n_train_docs: int
    max_epochs: int
    batches_per_epoch: int
    patience: int             # epochs without progress before pretraining stops

    def describe(self) -> str:
        from ..model.registry import CLASSES as TOPIC_MODEL_CLASSES
        from ..training.document_embeddings import EMBEDDING_PIECES
        from ..training.pretrain import MIN_GAIN

        name = TOPIC_MODEL_NAMES[self.topic_model].split(" (")[0]
        how = (f"chosen for {self.n_train_docs:,} training documents: half the square root of their number, "
               f"between {TOPICS_MIN} and {TOPICS_MAX}" if self.chosen else "as set")
        batches = f"{self.batches_per_epoch} batch" + ("es" if self.batches_per_epoch > 1 else "")
        sentence = (f"{name} with {self.n_topics} topics ({how}), pretrained alone for at most "
                    f"{self.max_epochs} epochs of {batches}, until its validation perplexity, once below a word-"
                    f"frequency model's, stops falling by {MIN_GAIN:.1%} in {self.patience} epochs.")
        if TOPIC_MODEL_CLASSES[self.topic_model].reads_embeddings:
            sentence += (f" Before that, the encoder as pretrained reads the first {EMBEDDING_PIECES} word pieces "
                         "of every training and validation document once, for the document embeddings it reads "
                         "(and of every test document when they are classified; kept for later runs on the same "
                         "documents).")
        return sentence + (" An earlier run's topic model pretrained from the same start on the same documents, "
                           "vocabulary, topics and seed (TopicBERT at another length, the same settings again) is "
                           "loaded instead of pretrained again; Compare says which.")


def topic_plan(config: RunConfig, n_train_docs: int) -> TopicPlan:
    """The topic model a TopicBERT config trains on `n_train_docs` training documents."""
    from ..model.registry import CLASSES as TOPIC_MODEL_CLASSES
    from ..training.pretrain import pretrain_batches, pretrain_epochs

    most_steps = TOPIC_MODEL_CLASSES[config.topic_model].pretrain_steps
    return TopicPlan(config.topic_model, config.topics_for(n_train_docs), config.n_topics is None, n_train_docs,
                     pretrain_epochs(config, n_train_docs, most_steps), pretrain_batches(n_train_docs),
                     config.tm_patience)


def past_runs(store: Store, host: str) -> list[PastRun]:
    """Finished runs on this host with what they cost (estimate.estimate_run's history)."""
    import torch

    from ..training.device import uses_bf16

    runs = [run for run in finished_runs(store) if run["host"] == host and (run["final_metrics"] or {}).get(
        "tokens_processed") and run["final_metrics"].get("train_seconds")]
    energies = store.last_energies([run["id"] for run in runs])  # one query, not one a run
    history = []
    for run in runs:
        final, energy = run["final_metrics"], energies.get(run["id"])
        # runs finished before results recorded it: what their config asked of this host's device
        bf16 = final.get("bf16")
        if bf16 is None:
            bf16 = uses_bf16(torch.device(run["device"] or "cpu"), RunConfig.from_dict(run["config"]))
        history.append(PastRun(model=run["config"]["model"], variant=run["variant"],
                               max_len=run["config"]["max_len"], pieces=int(final["tokens_processed"]), bf16=bf16,
                               seconds=float(final["train_seconds"]),
                               kwh=energy["kwh"] if energy else None, kg_co2e=energy["kg_co2e"] if energy else None))
    return history


@dataclass(frozen=True)
class CorpusPieces:
    """What a projection needs of a corpus, and no text: each document's label, split and word pieces."""
    labels: list[str]
    splits: list[str]
    lengths: list[int]


def encoder_tokenizer(model: str) -> PreTrainedTokenizerBase:
    """The run's encoder's tokenizer, loaded as a run loads it (a ModelNotFoundError when it is not installed)."""
    from ..model.encoders import load_tokenizer

    return load_tokenizer(model)


def corpus_pieces(config: RunConfig, tokenizer: PreTrainedTokenizerBase, chunk: int = 2000) -> CorpusPieces:
    """Read and tokenize the corpus a run names (its columns and seed), whole: once per corpus,
    whatever the run's other settings, its limits included (train_piece_lengths applies them)."""
    from ..data.batching import tokenize

    corpus = load_corpus(config.corpus, config.text_col, config.label_col, config.split_col, seed=config.seed)
    lengths = [len(ids) for start in range(0, len(corpus), chunk)  # chunks: never every document's pieces at once
               for ids in tokenize(tokenizer, corpus.texts[start:start + chunk])]
    return CorpusPieces(corpus.labels, corpus.splits, lengths)


def corpus_key(config: RunConfig) -> tuple:
    """The settings corpus_pieces reads: the same key, the same pieces."""
    return config.corpus, config.text_col, config.label_col, config.split_col, config.seed, config.model


def train_piece_lengths(pieces: CorpusPieces, config: RunConfig) -> list[int]:
    """Word pieces of each training document the run will read (its split and limits)."""
    from ..data.splits import limited_indices

    keep = limited_indices(pieces.labels, pieces.splits, config.limit_train, config.limit_eval, config.seed)
    return [pieces.lengths[i] for i in keep if pieces.splits[i] == "train"]


def grid_intensity(country: str | None = None) -> tuple[float, str]:
    """kg CO2e per kWh of this machine's grid (codecarbon's table), and where the figure comes from."""
    _, name, grams = carbon_intensity(country or country_code())
    return grams / 1000, f"codecarbon's figure for {name}; set TOPICBERT_COUNTRY to change it"


def projections(configs: Sequence[RunConfig], lengths: Sequence[Sequence[int]], history: Sequence[PastRun],
                intensity: tuple[float, str]) -> list[Estimate]:
    """Each config's projected cost; `lengths[i]`: its training documents' word pieces."""
    from ..training.device import choose_device, uses_bf16

    kg_per_kwh, source = intensity
    return [estimate_run(config, uses_bf16(choose_device(config.device), config), doc_lengths, history,
                         kg_per_kwh, source)
            for config, doc_lengths in zip(configs, lengths, strict=True)]


def projection_table(configs: Sequence[RunConfig], estimates: Sequence[Estimate]) -> pd.DataFrame:
    """One row per run to queue: training word pieces, time, energy (Wh or mWh, as every page writes it) and
    g CO2e."""
    return pd.DataFrame([{"run": c.name, "training word pieces": e.pieces, "time": format_duration(e.seconds),
                          "energy": format_energy(e.kwh), "g CO2e": 1000 * e.kg_co2e}
                         for c, e in zip(configs, estimates, strict=True)])
