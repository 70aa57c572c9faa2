"""The wide path: the TF-IDF reference fused into an encoder's probabilities, weighted on validation, trained
like any run and read back from its best/ folder to the very predictions it stored."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_train import Recorder

from topicbert.config import ConfigError, RunConfig
from topicbert.data.splits import prepare_data
from topicbert.model.encoders import load_tokenizer
from topicbert.training.checkpoints import Checkpoints
from topicbert.training.evaluation import evaluate
from topicbert.training.late_fusion import FILES, WEIGHTS, ValidationFusion, fuse, load_fusion
from topicbert.training.loop import build_model, train
from topicbert.training.tfidf import TfidfModel


def test_fusion_is_a_weighted_product_of_the_two_views():
    rng = np.random.default_rng(0)
    encoder = rng.dirichlet(np.ones(4), size=20).astype(np.float32)
    margins = rng.normal(size=(20, 4))
    assert np.allclose(fuse(encoder, margins, 0.0), encoder, atol=1e-6)  # weight 0: the encoder alone
    fused = fuse(encoder, margins, 2.0)
    expected = encoder * np.exp(margins - margins.max(axis=1, keepdims=True)) ** 2
    assert fused.dtype == np.float32 and np.allclose(fused, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    # at the largest weight the margins decide wherever they are not tied
    assert np.array_equal(fuse(encoder, margins, WEIGHTS[-1] * 10).argmax(axis=1), margins.argmax(axis=1))


def views(labels: np.ndarray, encoder_right: float, margins_right: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An encoder's probabilities and an SVM's margins that each pick the right class of a share of documents
    (at random which), 3 classes."""
    rng = np.random.default_rng(seed)

    def picks(share: float) -> np.ndarray:
        return np.where(rng.random(len(labels)) < share, labels, (labels + rng.integers(1, 3, len(labels))) % 3)
    encoder = np.full((len(labels), 3), 0.2, dtype=np.float32)
    encoder[np.arange(len(labels)), picks(encoder_right)] = 0.6
    margins = np.full((len(labels), 3), -1.0)
    margins[np.arange(len(labels)), picks(margins_right)] = 0.5
    return encoder, margins


def test_the_weight_follows_whichever_view_is_right_on_validation():
    labels = np.arange(300) % 3
    tfidf = TfidfModel(["w"], np.ones(1), np.zeros((3, 1)), np.zeros(3))  # the margins are given, not computed
    # an encoder that is always right: the margins (right on a third, chance) get no say
    encoder, margins = views(labels, 1.0, 1 / 3, seed=1)
    fusion, fused = ValidationFusion(tfidf, margins, labels).weigh(encoder)
    assert fusion.weight == 0.0 and np.array_equal(fused.argmax(axis=1), labels)
    # an encoder at chance beside margins right on 90%: the margins decide
    encoder, margins = views(labels, 1 / 3, 0.9, seed=2)
    fusion, fused = ValidationFusion(tfidf, margins, labels).weigh(encoder)
    assert fusion.weight > 0 and np.array_equal(fused.argmax(axis=1), margins.argmax(axis=1))


def test_the_wide_path_is_refused_without_an_encoder_and_named():
    with pytest.raises(ConfigError, match="tfidf_fusion"):
        RunConfig(corpus="c.csv", variant="tfidf", tfidf_fusion=True)
    assert RunConfig(corpus="c.csv", variant="bert", max_len=128, tfidf_fusion=True).name == "BERT-128+TF-IDF"
    assert RunConfig(corpus="c.csv", mode="partition", tfidf_fusion=True).name == "TopicBERT-128-partition+TF-IDF"


def test_a_run_with_the_wide_path_trains_keeps_it_and_reproduces_its_predictions(tiny_config, tmp_path):
    config = tiny_config.replace(variant="bert", tfidf_fusion=True, epochs=2, resumable_checkpoints=False)
    recorder = Recorder()
    result = train(config, tmp_path, [recorder])
    weights = [metrics["tfidf_weight"] for *_, metrics in recorder.evaluations]
    assert len(weights) == 2 and set(weights) <= set(WEIGHTS)
    assert result.summary()["name"] == "BERT-32+TF-IDF" and result.best_val_macro_f1 == max(
        metrics["val_macro_f1"] for *_, metrics in recorder.evaluations)
    best = tmp_path / "best"
    assert all((best / name).is_file() for name in FILES)
    fusion = load_fusion(best, config)
    assert fusion is not None and fusion.weight == weights[result.best_step // (result.steps // 2) - 1]
    # a loader's way: the model built as training builds it, its weights and the wide path read from best/
    model = build_model(config, 3, None)
    Checkpoints(tmp_path).load_best(model)
    tokenizer = load_tokenizer(config.model)
    data = prepare_data(config, tokenizer)
    output = evaluate(model, data.test, config, torch.device("cpu"), tokenizer.pad_token_id, fusion)
    with np.load(tmp_path / "test_predictions.npz") as stored:
        assert np.array_equal(output.probabilities, stored["probabilities"])
    # the encoder alone predicts otherwise than the fusion wherever the weight gave the TF-IDF a say
    alone = evaluate(model, data.test, config, torch.device("cpu"), tokenizer.pad_token_id)
    assert fusion.weight == 0.0 or not np.allclose(alone.probabilities, output.probabilities)
    assert json.loads((best / "run_config.json").read_text())["tfidf_fusion"] is True


def test_the_train_page_offers_the_wide_path_explains_it_and_queues_it_with_its_baselines(store, tiny_corpus_csv,
                                                                                          monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from topicbert.config import RECOMMENDED
    from topicbert.data.corpus import load_corpus
    from topicbert.runs import saved_corpora, services
    from topicbert.studio import launch

    saved_corpora.register_corpus(store, load_corpus(tiny_corpus_csv), "tiny")
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: False)
    monkeypatch.setattr(saved_corpora, "ensure_builtin_corpus", lambda store: None)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app_pages" / "2_Train.py"),
                           default_timeout=120).run()
    assert not at.exception
    # the preset preselected is the one the Studio recommends, the one constant the bench reads too
    assert at.selectbox(key="train_preset").value == launch.RECOMMENDED_PRESET
    assert launch.PRESETS[launch.RECOMMENDED_PRESET] == RECOMMENDED
    at.selectbox(key="train_preset").set_value("BERT-128+TF-IDF")
    at.button[0].click().run()  # "Estimate cost"
    assert not at.exception
    sentence = next(text for text in (m.value.replace("\\", "") for m in at.markdown)
                    if text.startswith("**BERT-128+TF-IDF:**"))
    assert "TF-IDF reference" in sentence and "validation" in sentence
    at.button[1].click().run()  # "Queue", with its baselines
    assert not at.exception and at.success
    runs = store.list_runs()[:3]
    assert [run["name"] for run in runs] == ["TF-IDF", "BERT-512", "BERT-128+TF-IDF"]
    # the baselines are the plain references, not fused themselves
    assert [run["config"]["tfidf_fusion"] for run in runs] == [False, False, True]


def test_train_and_submit_take_the_wide_path_by_name():
    from topicbert.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--corpus", "c.csv", "--variant", "bert", "--tfidf-fusion"])
    assert config_from_args(args).name == "BERT-128+TF-IDF"
    args = build_parser().parse_args(["submit", "--corpus", "c.csv", "--variant", "bert"])
    assert config_from_args(args).tfidf_fusion is False


def test_a_resumed_run_fits_the_same_tfidf_reference_again(tiny_config, tmp_path):
    from topicbert.training.callbacks import Callback

    config = tiny_config.replace(variant="bert", tfidf_fusion=True, epochs=2)

    class StopAfterFirstEpoch(Callback):
        def on_checkpoint(self, step, epoch, path):
            raise KeyboardInterrupt  # as if the process died right after its first checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, [StopAfterFirstEpoch()])
    before = TfidfModel.load(tmp_path / "best")
    resumed = Recorder()
    train(config, tmp_path, [resumed], resume=True)
    after = TfidfModel.load(tmp_path / "best")
    assert resumed.info["start_step"] > 0 and "tfidf_weight" in resumed.evaluations[0][3]
    assert after.vocabulary == before.vocabulary and np.array_equal(after.coef, before.coef)
