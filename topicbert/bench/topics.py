"""The topic-model benchmark: each topic model fitted alone on the training split, with one
vocabulary and one number of topics for all, against scikit-learn's LDA as the reference row.

Per model: two coherences of each topic's top 10 words, ours and the literature's. Ours: NPMI over
documents (document co-occurrence) of the test documents (held out) and of the training documents.
The literature's: NPMI over sliding windows of 10 words of the training texts, as gensim's c_npmi
computes it (training/window_npmi.py), the yardstick published figures use. Then the topics'
diversity, the test perplexity where the model defines one, the seconds the fit took, and the topics
themselves (top 10 words each). A suffix names what the encoder reads: `nvdm+counts` is the paper's
NVDM on raw counts, `nvdm+frequency` on counts over length (default: log(1 + counts)). CombinedTM
reads the documents' embeddings too, computed once for all rows (or read from the corpus's cache).
"""
from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..config import TOPIC_INPUTS, TOPIC_MODELS, RunConfig
from ..data.batching import TopicInputs
from ..data.splits import load_run_corpus
from ..data.token_cache import cached_tokenize
from ..data.vocabulary import TopicVocabulary
from ..model.encoders import load_tokenizer
from ..model.registry import build_topic_model, reads_embeddings
from ..training.device import choose_device
from ..training.document_embeddings import document_embeddings
from ..training.pretrain import pretrain_topic_model, validation_perplexity
from ..training.topic_quality import fit_lda, score_topics, top_word_ids, unigram_perplexity
from ..training.window_npmi import WINDOW

LDA = "lda"
DEFAULT_MODELS = (*TOPIC_MODELS, LDA)
SPLITS = ("train", "validation", "test")
# the figures a row reports, each the mean over seeds (with its spread over seeds)
FIGURES = ("npmi_test", "npmi_train", "npmi_window", "diversity", "perplexity", "fit_seconds")


def parse_topic_model(name: str) -> dict:
    """'prodlda' -> {topic_model: prodlda}; 'nvdm+counts' adds {tm_input: counts}; 'lda' -> {}."""
    base, *inputs = name.strip().lower().split("+")
    if base == LDA and not inputs:
        return {}
    if base not in TOPIC_MODELS or len(inputs) > 1 or (inputs and inputs[0] not in TOPIC_INPUTS):
        raise ValueError(f"topic model {name!r} is not one of {', '.join(DEFAULT_MODELS)}, optionally with "
                         f"+{'/+'.join(TOPIC_INPUTS)}")
    return {"topic_model": base, **({"tm_input": inputs[0]} if inputs else {})}


@dataclass(frozen=True)
class Corpus:
    """What every row reads: each split's topic-model inputs over the one vocabulary (fitted on the
    training split), and the training texts as word sequences for the windowed coherence."""
    vocabulary: TopicVocabulary
    inputs: dict[str, TopicInputs]
    train_sequences: list[np.ndarray]


@dataclass(frozen=True)
class Fit:
    npmi_test: float
    npmi_train: float
    npmi_window: float
    diversity: float
    perplexity: float | None
    fit_seconds: float
    topics: list[list[str]]   # each topic's top 10 words, heaviest first


def fit_and_score(name: str, config: RunConfig, corpus: Corpus, device: torch.device) -> Fit:
    """Fit one topic model (or LDA) on the training documents and score its topics."""
    settings = parse_topic_model(name)
    torch.manual_seed(config.seed)
    train = corpus.inputs["train"]
    n_topics = config.n_topics
    assert n_topics is not None  # run_topics_bench sets the count from the training documents for every row
    started = time.perf_counter()
    if settings:
        config = config.replace(**settings)
        embedding_size = train.embeddings.shape[1] if train.embeddings is not None else 0
        model = build_topic_model(config.topic_model, len(corpus.vocabulary), n_topics, config.tm_hidden,
                                  config.tm_input, embedding_size).to(device)
        pretrain_topic_model(model, train, corpus.inputs["validation"], config, device)
        seconds = time.perf_counter() - started
        word_ids = top_word_ids(model.topic_word_distribution().cpu().numpy())
        perplexity = validation_perplexity(model, corpus.inputs["test"], device)
    else:
        lda = fit_lda(train.bow, n_topics, config.seed)
        seconds = time.perf_counter() - started
        word_ids = top_word_ids(lda.components_)
        perplexity = None  # scikit-learn's bound is corpus-wide, not the per-document perplexity above
    quality = score_topics(word_ids, train.bow, corpus.train_sequences, held_out=corpus.inputs["test"].bow)
    npmi_test, npmi_window = quality.mean_npmi_held_out, quality.mean_npmi_window
    assert npmi_test is not None and npmi_window is not None  # scored with held-out documents and word sequences
    return Fit(npmi_test, quality.mean_npmi, npmi_window, quality.diversity,
               perplexity, seconds, [[corpus.vocabulary.words[i] for i in ids] for ids in word_ids])


def is_run_default(name: str) -> bool:
    """Whether `name` is what a run uses when nothing is set."""
    settings = parse_topic_model(name)
    defaults = RunConfig(corpus="")
    return bool(settings) and settings["topic_model"] == defaults.topic_model \
        and settings.get("tm_input", defaults.tm_input) == defaults.tm_input


def summarize(name: str, fits: Sequence[Fit]) -> dict:
    """A row: each figure's mean over seeds and its spread (sd, with two seeds or more), every seed's own
    figures, and the topics of the first seed."""
    row: dict = {"name": name, "default": is_run_default(name), "seeds": len(fits)}
    for figure in FIGURES:
        values = [getattr(f, figure) for f in fits]
        known = None not in values
        row[figure] = statistics.mean(values) if known else None
        row[f"{figure}_std"] = statistics.stdev(values) if known and len(values) > 1 else None
    row["per_seed"] = [{figure: getattr(f, figure) for figure in FIGURES} for f in fits]
    row["topics"] = fits[0].topics
    return row


def prepare_corpus(base: RunConfig, names: Sequence[str], device: torch.device) -> tuple[Corpus, dict]:
    """The splits over one vocabulary, with the documents' embeddings where a row reads them; and what
    the report says of them (documents per split, the vocabulary, the embeddings' seconds)."""
    corpus = load_run_corpus(base)
    texts = {split: [corpus.texts[i] for i in corpus.indices(split)] for split in SPLITS}
    vocabulary = TopicVocabulary.fit(texts["train"], base.bow_min_df, base.bow_drop_top, base.bow_max_size,
                                     base.bow_max_df)
    embeddings: dict[str, np.ndarray | None] = {split: None for split in SPLITS}
    embedded, embedding_seconds = False, None
    models = [parse_topic_model(name).get("topic_model") for name in names]
    if any(model is not None and reads_embeddings(model) for model in models):
        tokenizer = load_tokenizer(base.model)
        token_ids = [ids for split in SPLITS for ids in cached_tokenize(tokenizer, texts[split], base.corpus)]
        every, embedding_seconds = document_embeddings(base, token_ids, device)
        bounds = np.cumsum([0] + [len(texts[split]) for split in SPLITS])
        embeddings = {split: every[bounds[i]:bounds[i + 1]] for i, split in enumerate(SPLITS)}
        embedded = True
    inputs = {split: TopicInputs(vocabulary.transform(texts[split]), embeddings[split]) for split in SPLITS}
    about = {"documents": {split: len(t) for split, t in texts.items()}, "vocabulary_size": len(vocabulary),
             "embedding_encoder": base.model if embedded else None, "embedding_seconds": embedding_seconds}
    return Corpus(vocabulary, inputs, vocabulary.word_sequences(texts["train"])), about


def run_topics_bench(base: RunConfig, names: Sequence[str], seeds: int) -> dict:
    """Every topic model in `names` on the corpus `base` names, each seed from base.seed on."""
    for name in names:
        parse_topic_model(name)  # refuse a bad name before minutes of fitting
    device = choose_device(base.device)
    corpus, about = prepare_corpus(base, names, device)
    base = base.replace(n_topics=base.topics_for(about["documents"]["train"]))
    fits: dict[str, list[Fit]] = {name: [] for name in names}
    for seed in range(base.seed, base.seed + seeds):
        for name in names:
            fits[name].append(fit_and_score(name, base.replace(seed=seed), corpus, device))
            f = fits[name][-1]
            print(f"[topics-bench] {name} seed {seed}: NPMI test {f.npmi_test:+.3f}, train {f.npmi_train:+.3f}, "
                  f"window {f.npmi_window:+.3f}, diversity {f.diversity:.2f}, {f.fit_seconds:.0f} s",
                  file=sys.stderr, flush=True)
    train_bow = corpus.inputs["train"].bow
    return {"corpus": base.corpus, "n_topics": base.n_topics, "seeds": seeds, **about,
            "vocabulary": {"min_df": base.bow_min_df, "drop_top": base.bow_drop_top, "max_df": base.bow_max_df,
                           "max_size": base.bow_max_size},
            "window": WINDOW,
            "unigram_perplexity": unigram_perplexity(train_bow, corpus.inputs["test"].bow),
            "rows": [summarize(name, fits[name]) for name in names]}


def markdown_table(report: dict) -> str:
    def number(row: dict, figure: str, spec: str) -> str:
        value, spread = row[figure], row.get(f"{figure}_std")
        if value is None:
            return "n/a"
        return format(value, spec) + (f" ± {format(spread, spec.lstrip('+'))}" if spread is not None else "")

    lines = ["| topic model | NPMI, test docs | NPMI, training docs | NPMI, window 10 (literature) | diversity "
             "| test perplexity | fit s |", "|" + " --- |" * 7]
    for r in report["rows"]:
        name = r["name"] + (" (run default)" if r["default"] else "") + (" (reference)" if r["name"] == LDA else "")
        lines.append(f"| {name} | {number(r, 'npmi_test', '+.3f')} | {number(r, 'npmi_train', '+.3f')} "
                     f"| {number(r, 'npmi_window', '+.3f')} | {number(r, 'diversity', '.2f')} "
                     f"| {number(r, 'perplexity', ',.0f')} | {number(r, 'fit_seconds', '.0f')} |")
    docs, recipe = report["documents"], report["vocabulary"]
    lines.append(f"\n{report['n_topics']} topics, vocabulary of {report['vocabulary_size']:,} words (min_df "
                 f"{recipe['min_df']}, drop_top {recipe['drop_top']}, max_df {recipe['max_df']}, max_size "
                 f"{recipe['max_size']:,}), {docs['train']:,} training / {docs['validation']:,} validation / "
                 f"{docs['test']:,} test documents; a unigram model's test perplexity: "
                 f"{report['unigram_perplexity']:,.0f}" + (" ± sd over seeds" if report["seeds"] > 1 else ""))
    if report.get("embedding_encoder") is not None:
        took = (f"took {report['embedding_seconds']:.0f} s" if report["embedding_seconds"] is not None
                else "were read from the corpus's cache")
        lines.append(f"The documents' embeddings (encoder: {report['embedding_encoder']}) {took}, once for every "
                     "row that reads them (not in fit s).")
    return "\n".join(lines)
