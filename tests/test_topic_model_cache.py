"""A topic model pretrained once is loaded by the next run that would pretrain the very same one, and that
run ends as it would have ended pretraining it itself."""
from __future__ import annotations

import numpy as np
from safetensors.torch import load_file
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.studio import compare_curves
from topicbert.training import topic_model_cache
from topicbert.training.loop import train


def counting_pretraining(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = topic_model_cache.pretrain_topic_model
    monkeypatch.setattr(topic_model_cache, "pretrain_topic_model",
                        lambda *args, **kwargs: (calls.append(1), real(*args, **kwargs))[1])
    return calls


def outcome(run_dir) -> tuple[np.ndarray, dict]:
    probabilities = np.load(run_dir / "test_predictions.npz")["probabilities"]
    return probabilities, load_file(run_dir / "best" / "topic_model.safetensors")


def test_a_longer_sequence_reuses_the_topic_model_and_ends_as_if_it_had_pretrained(tiny_config, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    calls = counting_pretraining(monkeypatch)
    first = train(tiny_config, tmp_path / "short")
    reusing = train(tiny_config.replace(max_len=64), tmp_path / "long")
    assert len(calls) == 1  # the second run loaded what the first pretrained
    assert first.topic_model_fitted_by is None and reusing.topic_model_fitted_by == str(tmp_path / "short")
    assert reusing.summary()["topic_model_fitted_by"] == str(tmp_path / "short")

    on_its_own = train(tiny_config.replace(max_len=64, topic_model_cache=False), tmp_path / "alone")
    assert len(calls) == 2 and on_its_own.topic_model_fitted_by is None
    # the same fine-tuning too: the random generator's state after pretraining came back with the weights
    (reused_probabilities, reused_weights), (own_probabilities, own_weights) = outcome(tmp_path / "long"), \
        outcome(tmp_path / "alone")
    assert np.array_equal(reused_probabilities, own_probabilities)
    assert reused_weights.keys() == own_weights.keys()
    assert all(np.array_equal(reused_weights[name].numpy(), own_weights[name].numpy()) for name in own_weights)


def test_another_seed_topic_count_optimiser_or_stopping_rule_pretrains_its_own(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    calls = counting_pretraining(monkeypatch)
    config = tiny_config.replace(epochs=1)
    train(config, tmp_path / "a")
    assert train(config.replace(seed=7), tmp_path / "b").topic_model_fitted_by is None
    assert train(config.replace(n_topics=4), tmp_path / "c").topic_model_fitted_by is None
    assert train(config.replace(fused_optimizer=False), tmp_path / "d").topic_model_fitted_by is None
    monkeypatch.setattr(topic_model_cache, "MIN_GAIN", 0.01)  # a model kept under another rule is not reused
    assert train(config, tmp_path / "e").topic_model_fitted_by is None
    assert len(calls) == 5


def test_compare_says_whose_topic_model_a_run_loaded(store):
    config = RunConfig(corpus="c", variant="topicbert", max_len=128)
    fitter = run_with_curve(store, config, [0.6, 0.7], kwh_per_epoch=0.01, pretrained=30.0)
    loader = run_with_curve(store, config.replace(max_len=256), [0.6, 0.7], kwh_per_epoch=0.01, pretrained=0.1)
    store.set_final_metrics(loader, {**store.get_run(loader)["final_metrics"],
                                     "topic_model_fitted_by": store.get_run(fitter)["run_dir"]})
    [sentence] = compare_curves.topic_model_reuse(store, [fitter, loader])
    assert sentence.startswith(f"#{loader} ") and f"run #{fitter} pretrained" in sentence
    assert compare_curves.topic_model_reuse(store, [fitter]) == []  # a run that pretrained its own: nothing to say
    store.delete_run(fitter)
    assert "an earlier run, since deleted," in compare_curves.topic_model_reuse(store, [loader])[0]
