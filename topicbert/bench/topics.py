"""The topic-model benchmark: each topic model fitted alone on the training split, with one
vocabulary and one number of topics for all, against scikit-learn's LDA as the reference row.

Per model: NPMI of each topic's top 10 words over the test documents (held out) and over the
training documents, the topics' diversity, the test perplexity where the model defines one, and
the seconds the fit took. A suffix names what the encoder reads: `nvdm+counts` is the paper's
NVDM on raw counts, `nvdm+frequency` on counts over length (default: log(1 + counts)).
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import scipy.sparse as sp
import torch

from ..config import TOPIC_INPUTS, TOPIC_MODELS, RunConfig
from ..data.splits import load_run_corpus
from ..data.vocabulary import TopicVocabulary
from ..model.registry import build_topic_model
from ..training.device import choose_device
from ..training.pretrain import pretrain_topic_model, validation_perplexity
from ..training.topic_quality import fit_lda, score_topics, top_word_ids, unigram_perplexity

LDA = "lda"
DEFAULT_MODELS = (*TOPIC_MODELS, LDA)


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
class Bows:
    """The three splits as bags of words over the one vocabulary (fitted on the training split)."""
    train: sp.csr_matrix
    validation: sp.csr_matrix
    test: sp.csr_matrix


@dataclass(frozen=True)
class Fit:
    npmi_test: float
    npmi_train: float
    diversity: float
    perplexity: Optional[float]
    fit_seconds: float


def fit_and_score(name: str, config: RunConfig, bows: Bows, device: torch.device) -> Fit:
    """Fit one topic model (or LDA) on the training bags of words and score its topics."""
    settings = parse_topic_model(name)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    if settings:
        config = config.replace(**settings)
        model = build_topic_model(config.topic_model, bows.train.shape[1], config.n_topics, config.tm_hidden,
                                  config.tm_input).to(device)
        pretrain_topic_model(model, bows.train, bows.validation, config, device)
        seconds = time.perf_counter() - started
        word_ids = top_word_ids(model.topic_word_distribution().cpu().numpy())
        perplexity = validation_perplexity(model, bows.test, device)
    else:
        lda = fit_lda(bows.train, config.n_topics, config.seed)
        seconds = time.perf_counter() - started
        word_ids = top_word_ids(lda.components_)
        perplexity = None  # scikit-learn's bound is corpus-wide, not the per-document perplexity above
    on_test, on_train = score_topics(word_ids, bows.test), score_topics(word_ids, bows.train)
    return Fit(on_test.mean_npmi, on_train.mean_npmi, on_test.diversity, perplexity, seconds)


def is_run_default(name: str) -> bool:
    """Whether `name` is what a run uses when nothing is set."""
    settings = parse_topic_model(name)
    defaults = RunConfig(corpus="")
    return bool(settings) and settings["topic_model"] == defaults.topic_model \
        and settings.get("tm_input", defaults.tm_input) == defaults.tm_input


def summarize(name: str, fits: Sequence[Fit]) -> dict:
    def mean(attr: str) -> Optional[float]:
        values = [getattr(f, attr) for f in fits]
        return None if any(v is None for v in values) else statistics.mean(values)

    npmi = [f.npmi_test for f in fits]
    return {"name": name, "npmi_test": mean("npmi_test"), "npmi_train": mean("npmi_train"),
            "diversity": mean("diversity"), "perplexity": mean("perplexity"), "fit_seconds": mean("fit_seconds"),
            "default": is_run_default(name), "seeds": len(fits),
            "npmi_test_std": statistics.stdev(npmi) if len(npmi) > 1 else None}


def run_topics_bench(base: RunConfig, names: Sequence[str], seeds: int) -> dict:
    """Every topic model in `names` on the corpus `base` names, each seed from base.seed on."""
    for name in names:
        parse_topic_model(name)  # refuse a bad name before minutes of fitting
    corpus = load_run_corpus(base)
    texts = {split: [corpus.texts[i] for i in corpus.indices(split)] for split in ("train", "validation", "test")}
    vocabulary = TopicVocabulary.fit(texts["train"], base.bow_min_df, base.bow_drop_top, base.bow_max_size)
    bows = Bows(*(vocabulary.transform(texts[split]) for split in ("train", "validation", "test")))
    device = choose_device(base.device)
    fits: dict[str, list[Fit]] = {name: [] for name in names}
    for seed in range(base.seed, base.seed + seeds):
        for name in names:
            fits[name].append(fit_and_score(name, base.replace(seed=seed), bows, device))
            f = fits[name][-1]
            print(f"[topics-bench] {name} seed {seed}: NPMI test {f.npmi_test:+.3f}, train {f.npmi_train:+.3f}, "
                  f"diversity {f.diversity:.2f}, {f.fit_seconds:.0f} s", file=sys.stderr, flush=True)
    return {"corpus": base.corpus, "n_topics": base.n_topics, "seeds": seeds, "vocabulary_size": len(vocabulary),
            "documents": {split: len(t) for split, t in texts.items()},
            "unigram_perplexity": unigram_perplexity(bows.train, bows.test),
            "rows": [summarize(name, fits[name]) for name in names]}


def markdown_table(report: dict) -> str:
    def number(value: Optional[float], spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    lines = ["| topic model | NPMI, test docs | NPMI, training docs | diversity | test perplexity | fit s |",
             "|" + " --- |" * 6]
    for r in report["rows"]:
        spread = f" ± {r['npmi_test_std']:.3f}" if r.get("npmi_test_std") is not None else ""
        name = r["name"] + (" (run default)" if r["default"] else "") + (" (reference)" if r["name"] == LDA else "")
        lines.append(f"| {name} | {number(r['npmi_test'], '+.3f')}{spread} | {number(r['npmi_train'], '+.3f')} "
                     f"| {number(r['diversity'], '.2f')} | {number(r['perplexity'], ',.0f')} "
                     f"| {number(r['fit_seconds'], '.0f')} |")
    docs = report["documents"]
    lines.append(f"\n{report['n_topics']} topics, vocabulary of {report['vocabulary_size']:,} words, "
                 f"{docs['train']:,} training / {docs['validation']:,} validation / {docs['test']:,} test documents; "
                 f"a unigram model's test perplexity: {report['unigram_perplexity']:,.0f}")
    return "\n".join(lines)
