"""The topic models (NVDM, ProdLDA, CombinedTM): sound numbers on extreme documents, learning on a real
corpus, separate themes, one definition of a topic's words, CombinedTM reading the documents' embeddings;
the pretraining schedule sized to the corpus; NPMI by hand (ours over documents, the literature's over
10-word windows); the topic-model benchmark."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import TOPIC_WORDS, synthetic_documents

from topicbert.config import TOPIC_MODELS, RunConfig
from topicbert.data.batching import TopicInputs
from topicbert.data.corpus import builtin_corpus_path, load_corpus
from topicbert.data.splits import limit_corpus
from topicbert.data.vocabulary import TopicVocabulary
from topicbert.model.registry import build_topic_model, reads_embeddings
from topicbert.model.topic_model import perplexity
from topicbert.training import pretrain
from topicbert.training.evaluation import topic_model_outputs
from topicbert.training.metrics import npmi_coherence
from topicbert.training.pretrain import pretrain_epochs, pretrain_topic_model
from topicbert.training.topic_quality import score_topics, top_word_ids, topic_words
from topicbert.training.window_npmi import window_counts, window_npmi

CPU = torch.device("cpu")
EMBEDDING_SIZE = 8


def unit_embeddings(n_docs: int, seed: int = 0) -> np.ndarray:
    """Random unit vectors, as a sentence encoder's normalised embeddings are: (n_docs, EMBEDDING_SIZE)."""
    vectors = np.random.default_rng(seed).normal(size=(n_docs, EMBEDDING_SIZE)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def inputs_for(name: str, bow: sp.csr_matrix, seed: int = 0) -> TopicInputs:
    """A model's inputs: the bags of words, with embeddings for a model that reads them."""
    return TopicInputs(bow, unit_embeddings(bow.shape[0], seed) if reads_embeddings(name) else None)


def build(name: str, vocab_size: int, n_topics: int, hidden: int):
    return build_topic_model(name, vocab_size, n_topics=n_topics, hidden=hidden, inputs="log1p",
                             embedding_size=EMBEDDING_SIZE)


def extreme_documents(vocab_size: int) -> torch.Tensor:
    """A 50,000-word document, a document with no topic word at all, and an ordinary one."""
    rng = np.random.default_rng(0)
    huge = np.bincount(rng.integers(0, vocab_size, 50_000), minlength=vocab_size)
    ordinary = np.bincount(rng.integers(0, vocab_size, 40), minlength=vocab_size)
    return torch.tensor(np.stack([huge, np.zeros(vocab_size), ordinary]), dtype=torch.float32)


@pytest.mark.parametrize("name", TOPIC_MODELS)
@pytest.mark.parametrize("training", [True, False])
def test_extreme_documents_give_finite_outputs(name, training):
    torch.manual_seed(0)
    model = build(name, 300, n_topics=20, hidden=32).train(training)
    bow = extreme_documents(300)
    embedding = torch.from_numpy(unit_embeddings(3)) if reads_embeddings(name) else None
    out = model(bow, embedding)
    for value in (out.h, out.theta, out.loss, out.reconstruction, out.kl):
        assert torch.isfinite(value).all()
    assert torch.allclose(out.theta.sum(dim=1), torch.ones(3), atol=1e-5)
    assert out.reconstruction[1] == 0  # nothing to predict in an empty document
    assert np.isfinite(perplexity(out.loss.detach(), bow.sum(dim=1)))
    out.loss.mean().backward()  # and the gradients too
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def bbc_bows(n_train: int = 300):
    corpus = limit_corpus(load_corpus(builtin_corpus_path()), n_train, 60, seed=0)
    texts = {s: [corpus.texts[i] for i in corpus.indices(s)] for s in ("train", "validation")}
    vocabulary = TopicVocabulary.fit(texts["train"], min_df=3)
    return vocabulary, {s: vocabulary.transform(t) for s, t in texts.items()}


@pytest.mark.parametrize("name", TOPIC_MODELS)
def test_loss_falls_on_a_small_real_corpus(name):
    vocabulary, bows = bbc_bows()
    inputs = {split: inputs_for(name, bow, seed) for seed, (split, bow) in enumerate(bows.items())}
    torch.manual_seed(0)
    model = build(name, len(vocabulary), n_topics=10, hidden=64)
    before = topic_model_outputs(model, inputs["train"], CPU)[1].mean()
    config = RunConfig(corpus="", tm_pretrain_epochs=10, tm_patience=10, tm_lr=1e-2)
    history = pretrain_topic_model(model, inputs["train"], inputs["validation"], config, CPU, batch_size=32)
    assert topic_model_outputs(model, inputs["train"], CPU)[1].mean() < before
    assert history[-1] < 0.8 * history[0] and np.isfinite(history).all(), history


def test_combinedtm_reads_the_embedding_beside_the_words():
    """Two documents with the same words and other embeddings get other topic mixtures; without its
    embeddings the model says what it lacks rather than guessing."""
    torch.manual_seed(0)
    model = build("combinedtm", 30, n_topics=4, hidden=16).eval()
    bow = torch.ones(2, 30)
    mixtures = model(bow, torch.from_numpy(unit_embeddings(2))).theta
    assert not torch.allclose(mixtures[0], mixtures[1], atol=1e-4)
    assert torch.allclose(model(bow[:1], torch.from_numpy(unit_embeddings(2))[:1]).theta, mixtures[:1])
    with pytest.raises(ValueError, match="embedding"):
        model(bow)
    with pytest.raises(ValueError, match="embedding"):
        build_topic_model("combinedtm", 30, 4, 16, "log1p")  # no width for its embeddings


def test_pretraining_may_give_a_small_corpus_the_steps_its_model_needs():
    """A corpus of 400 documents makes 7 batches an epoch: 50 epochs would be 350 steps, far from the
    700-900 ProdLDA needs there. Unless the run sets its epochs, pretraining may take as many as its
    model's steps bound needs, up to 250."""
    config = RunConfig(corpus="")
    assert pretrain_epochs(config, 400, most_steps=1500) == 215 + config.tm_patience   # ceil(1500 / 7) = 215
    assert pretrain_epochs(config, 10_000, most_steps=1500) == 50                     # 157 batches an epoch
    assert pretrain_epochs(config, 400, most_steps=0) == 50                           # NVDM
    assert pretrain_epochs(config, 70, most_steps=1500) == 250                        # 2 batches: 250 epochs at most
    assert pretrain_epochs(config.replace(tm_pretrain_epochs=8), 400, most_steps=1500) == 8   # the run's choice


def replayed(monkeypatch, perplexities: list[float], unigram: float, patience: int = 3) -> list[float]:
    """The validation perplexities pretraining saw before it stopped, when its epochs give `perplexities`
    and a unigram model `unigram`."""
    bow = TopicInputs(sp.csr_matrix(np.ones((64, 5), dtype=np.float32)))
    model = build_topic_model("nvdm", 5, n_topics=2, hidden=4, inputs="log1p")
    curve = iter(perplexities)
    monkeypatch.setattr(pretrain, "validation_perplexity", lambda *args: next(curve))
    monkeypatch.setattr(pretrain, "unigram_perplexity", lambda *args: unigram)
    config = RunConfig(corpus="", tm_pretrain_epochs=len(perplexities), tm_patience=patience)
    return pretrain_topic_model(model, bow, bow, config, CPU, batch_size=32)


def test_pretraining_stops_once_below_word_frequencies_its_perplexity_stops_falling(monkeypatch):
    # ProdLDA's curve: a dip after one epoch, a climb, then a long fall below the unigram model (100)
    dip_then_fall = [120, 130, 140, 135, 125, 118, 110, 99, 95, 90, 89.99, 89.98, 89.97, 89.6, 80, 70]
    seen = replayed(monkeypatch, dip_then_fall, unigram=100)
    # the dip is above the unigram model: no patience spent there; below it, 90 -> 89.97 falls less than
    # MIN_GAIN (0.1%), so three epochs after 90 it stops
    assert seen == dip_then_fall[:13], seen
    # without the unigram model below it, the same dip never stops pretraining early
    assert replayed(monkeypatch, dip_then_fall, unigram=50) == dip_then_fall
    # a fall of at least 0.1% an epoch is progress: nothing stops it
    falling = [100 * 0.99 ** i for i in range(20)]
    assert len(replayed(monkeypatch, falling, unigram=200)) == 20
    # small steps that add up to 0.1% within the patience are progress when they get there (99.89), and the
    # patience starts again from there
    creeping = [100, 99.95, 99.92, 99.89, 99.85, 99.82, 99.81, 99.7]
    assert replayed(monkeypatch, creeping, unigram=200) == creeping[:7]
    assert pretrain.MIN_GAIN == 0.001


def default_model_on(texts: list[str], n_topics: int):
    """The run default's topic model fitted on `texts` alone (their words after the stop words)."""
    vocabulary = TopicVocabulary.fit(texts, min_df=2, drop_top=0.0)
    bow = vocabulary.transform(texts)
    config = RunConfig(corpus="", n_topics=n_topics)
    torch.manual_seed(0)
    model = build(config.topic_model, len(vocabulary), config.n_topics, 32)
    inputs = inputs_for(config.topic_model, bow)
    pretrain_topic_model(model, inputs, inputs, config.replace(tm_pretrain_epochs=60, tm_patience=60, tm_lr=1e-2), CPU,
                         batch_size=32)
    return model, vocabulary, inputs


def test_the_default_model_separates_two_planted_themes():
    """Documents drawn from two word lists: the default model's topics each take one list."""
    themes = {"sport": TOPIC_WORDS["sport"], "space": TOPIC_WORDS["space"]}
    model, vocabulary, _ = default_model_on(
        [text for text, label in synthetic_documents(150, seed=1) if label in themes], n_topics=4)
    tops = [{word for word, _ in words[:5]} for words in topic_words(model, vocabulary.words)]
    for name, words in themes.items():
        other = set().union(*(w for n, w in themes.items() if n != name))
        assert any(top <= set(words) for top in tops), (name, tops)
        assert not any(top & set(words) and top & other for top in tops if len(top & set(words)) >= 4), tops


def test_the_default_models_mixtures_show_how_much_of_the_corpus_each_topic_holds():
    """Three sport documents for each space document: the topic map's circles (each topic's share of
    the corpus's words, from the documents' mixtures) must say which theme holds more. (ProdLDA's
    prior, like LDA's symmetric Dirichlet, pulls the shares towards equal: 0.76 reads as about 0.65.)"""
    rows = synthetic_documents(120, seed=2)
    model, vocabulary, inputs = default_model_on([text for text, label in rows if label == "sport"] +
                                                 [text for text, label in rows if label == "space"][:40], n_topics=2)
    mixtures, _ = topic_model_outputs(model, inputs, CPU)
    lengths = np.asarray(inputs.bow.sum(axis=1)).ravel()
    share = (mixtures * lengths[:, None]).sum(axis=0) / lengths.sum()
    sport_words = sum(lengths[:120]) / lengths.sum()
    assert 0.6 < max(share) <= sport_words + 0.05, (share, sport_words)
    big = int(np.argmax(share))
    assert {word for word, _ in topic_words(model, vocabulary.words)[big][:5]} <= set(TOPIC_WORDS["sport"])


def test_a_topics_words_are_the_top_of_its_distribution():
    torch.manual_seed(0)
    model = build("prodlda", 30, n_topics=4, hidden=8)
    distribution = model.topic_word_distribution().numpy()
    words = [f"w{i}" for i in range(30)]
    listed = topic_words(model, words, k=5)
    assert len(listed) == len(distribution) == 4 and all(len(topic) == 5 for topic in listed)
    for row, topic in zip(distribution, listed, strict=True):
        assert [w for w, _ in topic] == [words[i] for i in np.argsort(-row, kind="stable")[:5]]
        assert [p for _, p in topic] == pytest.approx(sorted(row, reverse=True)[:5])


def test_npmi_by_hand():
    # 4 documents, 3 words: w0 and w1 always together (in docs 0, 1), w2 alone (docs 2, 3)
    bow = sp.csr_matrix(np.array([[1, 2, 0], [3, 1, 0], [0, 0, 1], [0, 0, 5]]))
    # p(w0) = p(w1) = p(w0, w1) = 1/2: PMI = log(0.5 / 0.25) = log 2, NPMI = log 2 / -log(0.5) = 1
    # w0 and w2 never co-occur: -1 by convention
    assert npmi_coherence([[0, 1], [0, 2]], bow) == pytest.approx([1.0, -1.0])
    # 3 words: pairs (0,1) = 1, (0,2) = -1, (1,2) = -1
    assert npmi_coherence([[0, 1, 2]], bow) == pytest.approx([-1 / 3])
    # p(w0) = 1/2, p(w3) = 3/4, p(w0, w3) = 1/4: NPMI = log(1/4 / 3/8) / -log(1/4) = log(2/3) / log 4
    bow = sp.csr_matrix(np.array([[1, 1], [1, 0], [0, 1], [0, 1]]))
    assert npmi_coherence([[0, 1]], bow) == pytest.approx([np.log(2 / 3) / np.log(4)])
    assert score_topics(np.array([[0, 1]]), bow).diversity == 1.0


def test_window_npmi_by_hand():
    """The literature's NPMI (gensim's c_npmi) on texts small enough to count by hand. Word ids: a=0,
    b=1, c=2, and x=3, a word in no topic. e = 1e-12, the protocol's smoothing."""
    a, b, c, x = 0, 1, 2, 3
    e = 1e-12
    # windows of 3: "a x b x x" gives 3 windows (a in the first, b in all three), "b c" (shorter than 3)
    # one, the whole text; "x x" holds no topic word and the empty text nothing: both left out, so N = 4
    texts = [np.array([a, x, b, x, x]), np.array([b, c]), np.array([x, x]), np.array([], dtype=np.int64)]
    n_windows, occurrences, together = window_counts(texts, np.array([a, b, c]), window=3)
    assert n_windows == 4 and occurrences.tolist() == [1, 4, 1]
    assert together.tolist() == [[1, 1, 0], [1, 4, 1], [0, 1, 1]]
    # p(a) = 1/4, p(b) = 1, p(a, b) = 1/4: NPMI = log((1/4 + e) / (1/4)) / -log(1/4 + e), about 0; the same
    # for (b, c); a and c never meet: log(e / (1/16)) / -log(e) = -1 + log 16 / -log(e) = -0.89966
    never = -1 + np.log(16) / -np.log(e)
    assert window_npmi([[a, b, c]], texts, window=3) == pytest.approx([never / 3], abs=1e-9)
    # windows of 10 (the default): "a b x x x x x x x x x c", 12 words, gives 3 windows (a in the first,
    # b in the first two, c in the last); "a b" one. N = 4, p(a) = 1/2, p(b) = 3/4, p(a, b) = 1/2, p(c) = 1/4
    texts = [np.array([a, b] + [x] * 9 + [c]), np.array([a, b])]
    ab = np.log((1 / 2) / (1 / 2 * 3 / 4)) / -np.log(1 / 2)                       # log(4/3) / log 2 = 0.41504
    ac = -1 + np.log(8) / -np.log(e)                                               # never together: -0.92474
    assert window_npmi([[a, b], [a, c]], texts) == pytest.approx([ab, ac], abs=1e-9)
    # ours counts whole documents: there a and c, 11 words apart, do meet
    bow = sp.csr_matrix(np.array([[1, 1, 1, 9], [1, 1, 0, 0]]))
    assert npmi_coherence([[a, c]], bow)[0] > -0.5


def test_top_word_ids_rank_by_weight():
    assert top_word_ids(np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]), k=2).tolist() == [[1, 2], [2, 0]]


@pytest.mark.slow
def test_topics_bench_command(tiny_corpus_csv, tiny_model_dir, tmp_path):
    out = tmp_path / "topics.json"
    command = [sys.executable, "-m", "topicbert", "topics-bench", "--corpus", str(tiny_corpus_csv), "--n-topics", "3",
               "--topic-models", "nvdm,nvdm+counts,prodlda,combinedtm,lda", "--model", str(tiny_model_dir),
               "--json", str(out), "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [r["name"] for r in rows] == ["nvdm", "nvdm+counts", "prodlda", "combinedtm", "lda"]
    vocabulary = set(TopicVocabulary.fit(load_corpus(tiny_corpus_csv).texts, min_df=1, drop_top=0.0).words)
    for row in rows:
        assert {"npmi_test", "npmi_train", "npmi_window", "diversity", "perplexity", "fit_seconds",
                "default"} <= set(row)
        assert -1 <= row["npmi_test"] <= 1 and -1 <= row["npmi_window"] <= 1 and 0 < row["diversity"] <= 1
        assert row["fit_seconds"] > 0
        # each row's topics beside its figures: 10 words each, all words of the corpus
        assert len(row["topics"]) == 3 and all(len(t) == 10 and set(t) <= vocabulary for t in row["topics"])
    assert report["embedding_encoder"] == str(tiny_model_dir)
    assert rows[4]["perplexity"] is None and all(r["perplexity"] > 0 for r in rows[:4])
    default = RunConfig(corpus="").topic_model
    assert [r["name"] for r in rows if r["default"]] == [default]
    assert "| lda (reference) |" in done.stdout and "NPMI, window 10 (literature)" in done.stdout
    bad = subprocess.run([*command[:-6], "--topic-models", "nvdm+typo"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "nvdm+typo" in bad.stderr
