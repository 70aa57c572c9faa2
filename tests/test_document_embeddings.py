"""The documents' embeddings CombinedTM reads: the frozen encoder's mean-pooled, normalised output over
a document's first word pieces, computed once and read back from the corpus's cache; and a TopicBERT
run with CombinedTM end to end: trained, resumed, its cost recorded."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from topicbert.data.splits import prepare_data
from topicbert.data.token_cache import corpus_cache_folder
from topicbert.model.encoders import load_encoder, load_tokenizer
from topicbert.training import document_embeddings as embeddings_module
from topicbert.training.callbacks import Callback
from topicbert.training.checkpoints import Checkpoints
from topicbert.training.document_embeddings import EMBEDDING_PIECES, document_embeddings, embed_documents
from topicbert.training.loop import train

CPU = torch.device("cpu")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_an_embedding_is_the_normalised_mean_of_the_encoders_output(tiny_config, tiny_model_dir):
    tokenizer, encoder = load_tokenizer(str(tiny_model_dir)), load_encoder(str(tiny_model_dir))
    long_document = tokenizer("goal " * 300, add_special_tokens=False)["input_ids"]
    token_ids = [tokenizer("team score goal", add_special_tokens=False)["input_ids"], long_document]
    embeddings = embed_documents(encoder, token_ids, tokenizer.cls_token_id, tokenizer.sep_token_id,
                                 tokenizer.pad_token_id, CPU, tiny_config, batch_size=2)
    assert embeddings.shape == (2, 32) and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    with torch.inference_mode():
        for ids, embedding in zip(token_ids, embeddings, strict=True):
            pieces = [tokenizer.cls_token_id, *ids[:EMBEDDING_PIECES - 2], tokenizer.sep_token_id]
            mean = encoder(input_ids=torch.tensor([pieces])).last_hidden_state[0].mean(dim=0)
            # alone, without padding: the same vector as in the padded batch, of the first pieces only
            assert np.allclose(embedding, torch.nn.functional.normalize(mean, dim=0).numpy(), atol=1e-4)


def test_embeddings_are_computed_once_and_read_back(tiny_config, home, monkeypatch):
    token_ids = [[10, 11, 12], [13, 14]]
    first, seconds = document_embeddings(tiny_config, token_ids, CPU)
    assert seconds is not None and first.shape == (2, 32)
    assert list(corpus_cache_folder(tiny_config.corpus).glob("array-embeddings-*.npy"))
    monkeypatch.setattr(embeddings_module, "embed_documents", lambda *args, **kwargs: pytest.fail("not read back"))
    again, seconds = document_embeddings(tiny_config, token_ids, CPU)
    assert seconds is None and np.array_equal(first, again)
    # other documents are other embeddings; a run with the cache off computes its own
    for config, ids in ((tiny_config, [[10, 11]]), (tiny_config.replace(embedding_cache=False), token_ids)):
        with pytest.raises(pytest.fail.Exception, match="not read back"):
            document_embeddings(config, ids, CPU)


def test_a_combinedtm_run_trains_resumes_and_records_its_embeddings(tiny_config, home, tmp_path, monkeypatch):
    config = tiny_config.replace(topic_model="combinedtm", n_topics=None, epochs=1)
    assert len(prepare_data(config, load_tokenizer(config.model)).train) == 72
    result = train(config, tmp_path / "run")
    assert result.embedding_seconds is not None and result.summary()["embedding_seconds"] > 0
    assert result.n_topics == 10 == len(result.topics)   # chosen from its 72 training documents
    assert len(result.topic_quality.npmi_window) == len(result.topic_quality.npmi_held_out) == 10
    # resumed from its checkpoint, the run reads its embeddings back from the cache, and keeps the cost
    # its first attempt paid for them
    assert Checkpoints(tmp_path / "run").resumable() is not None
    monkeypatch.setattr(embeddings_module, "embed_documents", lambda *args, **kwargs: pytest.fail("not read back"))
    resumed = train(config.replace(epochs=2), tmp_path / "run", resume=True)
    assert resumed.embedding_seconds == result.embedding_seconds and resumed.steps > result.steps


def test_test_documents_are_embedded_when_classified(tiny_config, home, tmp_path, monkeypatch):
    """The training and validation documents' embeddings come before pretraining (the run's fixed cost); the
    test documents' inside the test pass the meters read as classifying (a new document needs one too)."""
    events = []
    real = embeddings_module.embed_documents
    monkeypatch.setattr(embeddings_module, "embed_documents",
                        lambda encoder, ids, *args, **kwargs: events.append(("embedded", len(ids)))
                        or real(encoder, ids, *args, **kwargs))

    class Order(Callback):
        def on_pretrained(self, seconds):
            events.append("pretrained")

        def on_trained(self, seconds):
            events.append("trained")

        def on_tested(self, n_docs):
            events.append(("tested", n_docs))

    config = tiny_config.replace(topic_model="combinedtm", epochs=1)
    data = prepare_data(config, load_tokenizer(config.model))
    train(config, tmp_path / "run", [Order()])
    assert events == [("embedded", len(data.train) + len(data.validation)), "pretrained", "trained",
                      ("embedded", len(data.test)), ("tested", len(data.test))]
