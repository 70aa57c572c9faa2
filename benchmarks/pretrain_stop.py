"""When the topic model's pretraining should stop: one long pretraining per seed with its validation perplexity
and topic quality after every epoch, then the epoch each stopping rule ends on and what it keeps. The rules:
the Studio's (training/pretrain.PerplexityStop: patience counts once below the unigram model's perplexity, and
only drops of MIN_GAIN are progress), the same without the unigram gate, and the rule before it (at least
1,500 steps, then 5 epochs without any better perplexity). Seconds are the pretraining's own clock with the
scoring taken out; they need a quiet machine.

    python -m benchmarks.pretrain_stop --corpus bbc --limit-train 400 --seeds 42,43,44 --epochs 250 \
        --min-gains 0.005,0.002,0.001,0
    python -m benchmarks.pretrain_stop --corpus bbc --limit-train 400 --seeds 42 --epochs 250 --batch-size 400
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks import script_parser
from topicbert.bench.topics import Corpus, prepare_corpus
from topicbert.config import RunConfig
from topicbert.data.corpus import builtin_corpus_path
from topicbert.model.registry import build_topic_model
from topicbert.model.topic_model import TopicModel
from topicbert.training import pretrain
from topicbert.training.topic_quality import score_topics, top_word_ids, unigram_perplexity

FORMER_MIN_STEPS = 1500
Row = dict[str, Any]  # one epoch of the recorded curve


def recorded_curve(config: RunConfig, corpus: Corpus, epochs: int, batch_size: int) -> list[Row]:
    """Pretrain for `epochs` epochs with no early stop; after each, the perplexity, steps, the clock without
    scoring, and the topics' held-out and training NPMI, diversity and top words (their windowed NPMI is
    computed only for the epochs a rule keeps: sliding windows over the training texts cost)."""
    train, held_out = corpus.inputs["train"], corpus.inputs["test"].bow
    rows: list[Row] = []
    per_epoch = pretrain.pretrain_batches(len(train), batch_size)
    scoring = 0.0
    started = time.perf_counter()

    def scored(model: TopicModel, perplexity: float) -> None:
        nonlocal scoring
        before = time.perf_counter()
        word_ids = top_word_ids(model.topic_word_distribution().detach().cpu().numpy())
        quality = score_topics(word_ids, train.bow, held_out=held_out)
        rows.append({"epoch": len(rows) + 1, "steps": (len(rows) + 1) * per_epoch,
                     "perplexity": perplexity, "seconds": before - started - scoring,
                     "npmi_test": quality.mean_npmi_held_out, "npmi_train": quality.mean_npmi,
                     "diversity": quality.diversity, "word_ids": word_ids})
        scoring += time.perf_counter() - before

    assert config.n_topics is not None, "the topic count is chosen from the training documents first (main)"
    torch.manual_seed(config.seed)
    embedding_size = train.embeddings.shape[1] if train.embeddings is not None else 0
    model = build_topic_model(config.topic_model, len(corpus.vocabulary), config.n_topics, config.tm_hidden,
                              config.tm_input, embedding_size)
    pretrain.pretrain_topic_model(model, train, corpus.inputs["validation"],
                                  config.replace(tm_pretrain_epochs=epochs, tm_patience=10**9), torch.device("cpu"),
                                  batch_size, on_epoch=scored)
    return rows


def studio_rule(unigram: float, patience: int, min_gain: float) -> Callable[[Row], bool]:
    stop = pretrain.PerplexityStop(unigram, patience, min_gain)
    return lambda row: stop.update(row["perplexity"])[1]


def former_rule(patience: int) -> Callable[[Row], bool]:
    state = {"best": float("inf"), "waited": 0}

    def update(row: Row) -> bool:
        if row["perplexity"] < state["best"]:
            state["best"], state["waited"] = row["perplexity"], 0
        else:
            state["waited"] += 1
        return state["waited"] >= patience and row["steps"] >= FORMER_MIN_STEPS
    return update


def replay(rows: list[Row], stops: Callable[[Row], bool]) -> tuple[Row, Row]:
    """(the epoch a rule stops after, the epoch it keeps: the lowest perplexity up to there)."""
    end = next((row for row in rows if stops(row)), rows[-1])
    return end, min(rows[:end["epoch"]], key=lambda row: row["perplexity"])


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--corpus", required=True, help="a corpus path, or bbc for the built-in BBC News")
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--epochs", type=int, default=250)
    parser.add_argument("--topic-model", default=RunConfig(corpus="").topic_model)
    parser.add_argument("--batch-size", type=int, default=pretrain.PRETRAIN_BATCH)
    parser.add_argument("--tm-lr", type=float, default=None, help="default: the topic model's own")
    parser.add_argument("--min-gains", default=str(pretrain.MIN_GAIN), help="the Studio's rule with each of these")
    args = parser.parse_args(argv)
    base = RunConfig(corpus=str(builtin_corpus_path()) if args.corpus == "bbc" else args.corpus,
                     limit_train=args.limit_train, topic_model=args.topic_model, tm_lr=args.tm_lr)
    corpus, about = prepare_corpus(base, [args.topic_model], torch.device("cpu"))
    base = base.replace(n_topics=base.topics_for(about["documents"]["train"]))
    unigram = unigram_perplexity(corpus.inputs["train"].bow, corpus.inputs["validation"].bow)
    print(f"{args.topic_model}, {base.n_topics} topics, {about['documents']} documents, unigram validation "
          f"perplexity {unigram:,.0f}\n")
    print("| seed | rule | stops after epoch (steps) | s | kept epoch | perplexity | NPMI test | NPMI train "
          "| NPMI window | diversity |")
    print("|" + " --- |" * 10)
    for seed in (int(s) for s in args.seeds.split(",")):
        rows = recorded_curve(base.replace(seed=seed), corpus, args.epochs, args.batch_size)
        gains = [float(gain) for gain in args.min_gains.split(",")]
        rules = {**{f"Studio, gain {gain:.1%}": studio_rule(unigram, base.tm_patience, gain) for gain in gains},
                 "no unigram gate": studio_rule(math.inf, base.tm_patience, gains[0]),
                 f"former (>= {FORMER_MIN_STEPS:,} steps)": former_rule(base.tm_patience)}
        for name, stops in rules.items():
            end, kept = replay(rows, stops)
            window = score_topics(kept["word_ids"], corpus.inputs["train"].bow, corpus.train_sequences)
            print(f"| {seed} | {name} | {end['epoch']} ({end['steps']:,}) | {end['seconds']:.1f} | {kept['epoch']} "
                  f"| {kept['perplexity']:,.0f} | {kept['npmi_test']:+.3f} | {kept['npmi_train']:+.3f} "
                  f"| {window.mean_npmi_window:+.3f} | {kept['diversity']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
