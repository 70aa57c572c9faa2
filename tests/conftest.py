"""Shared fixtures: a tiny random BERT with its own WordPiece vocabulary, a small corpus, an empty store in a
TOPICBERT_HOME of its own, and a home for the session's other tests (never the user's)."""
from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real corpora absent: {SHARED_DATA} not found")


def pytest_addoption(parser: pytest.Parser) -> None:
    # tests/test_e2e_browser.py draws docs/*.png from the real demo only when asked: it trains for minutes
    parser.addoption("--docs-screenshots", action="store_true",
                     help="redraw the README's and docs/' pictures from the demo, in headless Chromium")

TOPIC_WORDS = {
    "sport": "game team score goal match player coach season league win".split(),
    "money": "bank market stock price share profit trade dollar rate investor".split(),
    "space": "orbit rocket launch planet moon star nasa shuttle satellite mission".split(),
}
FILLER = "the a of and to in is was for on with that it as by this".split()


def synthetic_documents(n_per_class: int, seed: int = 0) -> list[tuple[str, str]]:
    """Documents whose class shows in their words, so a tiny model can learn it."""
    rng = random.Random(seed)
    rows = []
    for label, words in TOPIC_WORDS.items():
        for _ in range(n_per_class):
            length = rng.randint(12, 60)
            tokens = [rng.choice(words) if rng.random() < 0.4 else rng.choice(FILLER) for _ in range(length)]
            rows.append((" ".join(tokens), label))
    rng.shuffle(rows)
    return rows


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory):
    """The Studio's files (caches, shared texts) of tests that name no home of their own go to this session's
    folder, never to the user's ~/.topicbert; tests that need a home of their own set TOPICBERT_HOME."""
    previous = os.environ.get("TOPICBERT_HOME")
    os.environ["TOPICBERT_HOME"] = str(tmp_path_factory.mktemp("home"))
    yield
    if previous is None:
        os.environ.pop("TOPICBERT_HOME", None)
    else:
        os.environ["TOPICBERT_HOME"] = previous


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random 2-layer, 32-wide BERT and a WordPiece tokenizer, saved like a hub folder."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny_bert")
    words = sorted({w for ws in TOPIC_WORDS.values() for w in ws} | set(FILLER))
    pieces = ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'"),
              *pieces, *words]
    vocab = list(dict.fromkeys(tokens))  # single letters are also words ("a"): keep each once
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}, do_lower_case=True)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    import torch
    torch.manual_seed(0)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_corpus_csv(tmp_path_factory) -> Path:
    """90 labelled documents in three classes, as a CSV with a header."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(synthetic_documents(30))
    return path


@pytest.fixture
def tiny_config(tiny_model_dir, tiny_corpus_csv):
    """A RunConfig that trains in seconds on CPU."""
    from topicbert.config import RunConfig

    return RunConfig(corpus=str(tiny_corpus_csv), model=str(tiny_model_dir), variant="topicbert", max_len=32,
                     epochs=2, batch_size=8, n_topics=5, tm_hidden=16, bow_min_df=1, bow_drop_top=0.0,
                     tm_pretrain_epochs=3, lr=1e-3, eval_batch_size=16, device="cpu")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty store, in a TOPICBERT_HOME of this test's own."""
    from topicbert.runs.store import Store

    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TOPICBERT_DEVICE", "cpu")  # a worker made here serves the CPU, whatever the machine has
    with Store() as s:
        yield s
