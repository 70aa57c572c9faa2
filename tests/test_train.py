"""Training end to end: a tiny random BERT on a synthetic corpus, and the real encoder on Reuters8."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, needs_shared
from safetensors.torch import load_file
from transformers import AutoModel

from topicbert.config import TOPIC_MODELS, RunConfig
from topicbert.data.batching import TopicInputs
from topicbert.data.corpus import load_corpus
from topicbert.data.vocabulary import TopicVocabulary
from topicbert.model.registry import build_topic_model, reads_embeddings
from topicbert.training.callbacks import Callback
from topicbert.training.device import choose_device
from topicbert.training.loop import train
from topicbert.training.pretrain import pretrain_topic_model, validation_perplexity
from topicbert.training.topic_quality import unigram_perplexity


class Recorder(Callback):
    def __init__(self):
        self.evaluations, self.steps, self.info, self.result, self.setup = [], [], None, None, []

    def on_phase(self, name):
        self.setup.append(name)

    def on_start(self, info):
        self.info = info
        self.setup.append("start")

    def on_step(self, step, total_steps):
        self.steps.append(step)

    def on_evaluate(self, step, epoch, wall_seconds, metrics):
        self.evaluations.append((step, epoch, wall_seconds, metrics))

    def on_end(self, result):
        self.result = result


def test_train_reports_saves_and_evaluates(tiny_config, tmp_path):
    recorder = Recorder()
    result = train(tiny_config.replace(eval_every_steps=5), tmp_path, [recorder])
    # the setup's parts in order, then the start (CombinedTM reads the documents' embeddings; no TF-IDF fusion)
    assert recorder.setup == ["tokenizer", "corpus", "word_pieces", "splits", "embeddings", "model", "pretraining",
                              "start"]
    assert recorder.info["total_steps"] == recorder.steps[-1] == len(recorder.steps)
    epochs = [e for _, e, _, _ in recorder.evaluations]
    assert epochs == sorted(epochs) and epochs[-1] == pytest.approx(2.0)
    expected = {"val_macro_f1", "val_micro_f1", "val_loss", "val_perplexity", "train_loss"}
    assert expected <= set(recorder.evaluations[0][3])
    assert recorder.result is result and 0 <= result.test_macro_f1 <= 1
    assert result.test_macro_f1_ci[0] <= result.test_macro_f1 <= result.test_macro_f1_ci[1]
    assert result.best_val_macro_f1 == max(m["val_macro_f1"] for *_, m in recorder.evaluations)
    assert len(result.topics) == tiny_config.n_topics and len(result.topics[0]) == 10
    assert sum(map(sum, result.confusion)) == len(np.load(tmp_path / "test_predictions.npz")["labels"])
    assert 0 <= result.padded_fraction < 0.5 and result.tokens_processed > 0
    predictions = np.load(tmp_path / "test_predictions.npz")
    assert predictions["probabilities"].shape[1] == 3
    assert np.allclose(predictions["probabilities"].sum(axis=1), 1, atol=1e-4)
    assert predictions["topic_mixtures"].shape == (len(predictions["labels"]), tiny_config.n_topics)
    assert np.allclose(predictions["topic_mixtures"].sum(axis=1), 1, atol=1e-4)
    # one definition of a topic's words: the map's topic-term rows rank them as the table lists them
    with np.load(tmp_path / "topics.npz") as arrays:
        vocab = json.loads((tmp_path / "vocab.json").read_text())
        map_words = [[vocab[i] for i in np.argsort(-row, kind="stable")[:10]] for row in arrays["topic_term"]]
    assert map_words == [[word for word, _ in words] for words in result.topics]
    assert len(result.topic_quality.npmi) == tiny_config.n_topics and 0 < result.topic_quality.diversity <= 1
    # the model in two parts: a transformers-loadable encoder, head and topic model as safetensors
    # as the README says to load it: every weight it has was trained, none is missing or made up
    encoder, report = AutoModel.from_pretrained(tmp_path / "best" / "encoder", add_pooling_layer=False,
                                                output_loading_info=True)
    assert encoder.config.hidden_size == 32 and not report["missing_keys"] and not report["unexpected_keys"]
    assert "fusion.weight" in load_file(tmp_path / "best" / "head.safetensors")
    assert "beta.weight" in load_file(tmp_path / "best" / "topic_model.safetensors")  # the default, CombinedTM
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pkl"))


def test_training_is_repeatable_on_cpu_with_another_variant_between(tiny_config, tmp_path):
    """One process, as the benchmark runs its rows: TopicBERT, then BERT under bf16 autocast with random
    batches, then the same TopicBERT again; the second must predict exactly as the first."""
    config = tiny_config.replace(epochs=1, resumable_checkpoints=False)
    first = train(config, tmp_path / "first")
    train(config.replace(variant="bert", max_len=64, cpu_bf16=True, length_grouping=False), tmp_path / "between")
    again = train(config, tmp_path / "again")
    assert first.test_macro_f1 == again.test_macro_f1
    assert np.array_equal(np.load(tmp_path / "first" / "test_predictions.npz")["probabilities"],
                          np.load(tmp_path / "again" / "test_predictions.npz")["probabilities"])


def test_early_stopping_ends_after_patience_evaluations_without_gain(tiny_config, tmp_path):
    recorder = Recorder()
    # a learning rate of almost nothing: validation F1 never rises after the first evaluation
    config = tiny_config.replace(epochs=6, lr=1e-12, head_lr=1e-12, early_stopping_patience=2)
    result = train(config, tmp_path, [recorder])
    steps_per_epoch = recorder.info["steps_per_epoch"]
    assert [e for _, e, _, _ in recorder.evaluations] == pytest.approx([1.0, 2.0, 3.0])
    assert result.steps == 3 * steps_per_epoch < recorder.info["total_steps"]
    assert result.best_step == steps_per_epoch
    with pytest.raises(ValueError, match="early_stopping_patience"):
        tiny_config.replace(early_stopping_patience=0)


def test_bf16_autocast_on_cpu_where_the_cpu_has_it_unless_float32_is_asked(tiny_config, tmp_path, monkeypatch):
    from topicbert.config import RunConfig
    from topicbert.training import device as devices

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    fp32_config = tiny_config.replace(cpu_bf16=False)
    for info, native in (({"flags": "fpu avx512f amx_bf16"}, True), ({"features": "fp asimd bf16"}, True),
                         ({"flags": "fpu avx2 avx512f"}, False), ({}, False)):
        monkeypatch.setattr(devices, "cpu_info", lambda info=info: info)
        assert devices.cpu_has_native_bf16() is native
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: False)
    assert not devices.uses_bf16(cpu, tiny_config)  # emulated bf16 is slower than float32: not asked for
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: True)
    assert devices.uses_bf16(cpu, tiny_config) and not devices.uses_bf16(cpu, fp32_config)
    assert devices.uses_bf16(cuda, fp32_config) and not devices.uses_bf16(cuda, tiny_config.replace(bf16=False))
    # a run stored before the setting existed ran in float32, and reads so
    stored = {k: v for k, v in tiny_config.to_dict().items() if k != "cpu_bf16"}
    assert RunConfig.from_dict(stored).cpu_bf16 is False
    # and one stored before the vocabulary dropped words in over half the documents kept them: resumed, it still does
    stored = {k: v for k, v in tiny_config.to_dict().items() if k != "bow_max_df"}
    assert RunConfig.from_dict(stored).bow_max_df == 1.0 and RunConfig(corpus="c").bow_max_df == 0.5
    # TopicBERT with each topic model: the autocast path CUDA takes by default, here on CPU
    for topic_model in TOPIC_MODELS:
        config = tiny_config.replace(epochs=1, topic_model=topic_model)
        fp32 = train(config.replace(cpu_bf16=False), tmp_path / topic_model / "fp32")
        bf16 = train(config, tmp_path / topic_model / "bf16")
        assert 0 <= bf16.test_macro_f1 <= 1 and fp32.tokens_processed == bf16.tokens_processed
        assert bf16.summary()["bf16"] is True and fp32.summary()["bf16"] is False  # what the Train page learns from
        # the same run in another precision: the numbers move
        assert not np.array_equal(np.load(tmp_path / topic_model / "fp32" / "test_predictions.npz")["probabilities"],
                                  np.load(tmp_path / topic_model / "bf16" / "test_predictions.npz")["probabilities"])


def test_speed_switches_change_how_not_what_is_trained(tiny_config, tmp_path):
    class Checkpointed(Callback):
        def __init__(self):
            self.paths = []

        def on_checkpoint(self, step, epoch, path):
            self.paths.append(path)

    plain = Checkpointed()
    grouped = train(tiny_config.replace(variant="bert", resumable_checkpoints=False), tmp_path / "grouped", [plain])
    random_batches = train(tiny_config.replace(variant="bert", length_grouping=False), tmp_path / "random")
    assert plain.paths == [] and not (tmp_path / "grouped" / "checkpoint").exists()
    assert (tmp_path / "grouped" / "best" / "head.safetensors").exists()
    assert (tmp_path / "random" / "checkpoint" / "state.json").exists()
    # the same documents either way; grouping only saves padding
    assert grouped.tokens_processed == random_batches.tokens_processed
    assert grouped.padded_fraction < random_batches.padded_fraction



def test_the_fused_optimizer_trains_what_the_per_tensor_one_does(tiny_config, tmp_path):
    from topicbert.training import device as devices
    from topicbert.training.loop import build_model, make_optimizer

    cpu, unfused = torch.device("cpu"), tiny_config.replace(fused_optimizer=False)
    assert devices.fused_optimizer(cpu, tiny_config) is True
    # off, or on a device PyTorch has no fused kernel for: PyTorch's own choice (not False, which would also
    # turn off CUDA's default kernels)
    assert devices.fused_optimizer(cpu, unfused) is None
    assert devices.fused_optimizer(torch.device("mps"), tiny_config) is None
    fused_run = train(tiny_config.replace(variant="bert", epochs=1), tmp_path / "fused")
    plain_run = train(unfused.replace(variant="bert", epochs=1), tmp_path / "unfused")
    fused_p, plain_p = (np.load(tmp_path / name / "test_predictions.npz")["probabilities"]
                        for name in ("fused", "unfused"))
    assert np.allclose(fused_p, plain_p, atol=1e-4) and fused_run.best_step == plain_run.best_step
    # a checkpoint an unfused optimiser wrote (every run before the switch) resumes into a fused one
    model = build_model(tiny_config.replace(variant="bert"), 2, None)
    before, after = make_optimizer(model, unfused, cpu), make_optimizer(model, tiny_config, cpu)
    ids = torch.ones(2, 4, dtype=torch.long)
    model(ids, torch.ones_like(ids), None, torch.tensor([0, 1])).loss.backward()
    before.step()
    after.load_state_dict(before.state_dict())
    weights = [p.detach().clone() for p in model.parameters()]
    after.step()
    assert after.defaults["fused"] is True
    assert any(not torch.equal(w, p) for w, p in zip(weights, model.parameters(), strict=True))

@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None, reason="torch.compile on CPU needs a C compiler")
def test_compiled_training_runs(tiny_config, tmp_path):
    result = train(tiny_config.replace(variant="bert", epochs=1, compile=True), tmp_path)
    assert 0 <= result.test_macro_f1 <= 1 and result.tokens_processed > 0


def test_resume_continues_step_and_wall_clock(tiny_config, tmp_path):
    config = tiny_config.replace(variant="bert", mode="partition", epochs=3)
    first = Recorder()

    class StopAfterFirstEpoch(Callback):
        def on_checkpoint(self, step, epoch, path):
            raise KeyboardInterrupt  # as if the process died right after its first checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, [first, StopAfterFirstEpoch()])
    resumed = Recorder()
    train(config, tmp_path, [resumed], resume=True)
    assert resumed.info["start_step"] == first.evaluations[0][0] > 0
    assert [e for _, e, _, _ in resumed.evaluations] == pytest.approx([2.0, 3.0])
    assert resumed.evaluations[0][2] > first.evaluations[0][2]


def test_train_command_prints_json_last(tiny_config, tmp_path):
    command = [sys.executable, "-m", "topicbert", "train", "--corpus", tiny_config.corpus, "--model",
               tiny_config.model, "--variant", "topicbert", "--max-len", "32", "--mode", "partition",
               "--epochs", "1", "--n-topics", "5", "--out", str(tmp_path), "--json", "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("variant", "max_len", "mode", "val_macro_f1", "test_macro_f1", "test_micro_f1", "train_seconds",
                "tokens_processed", "padded_fraction", "n_topics", "perplexity", "run_dir", "steps",
                "test_macro_f1_ci"):
        assert key in summary
    assert summary["mode"] == "partition" and summary["perplexity"] > 0


def test_train_command_reports_bad_model_cleanly(tiny_corpus_csv, tmp_path):
    done = subprocess.run([sys.executable, "-m", "topicbert", "train", "--corpus", str(tiny_corpus_csv),
                           "--model", str(tmp_path / "missing"), "--epochs", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_device_is_chosen_automatically_and_overridable():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert choose_device("auto").type in (expected, "mps")
    assert choose_device("cpu").type == "cpu"


@needs_shared
@pytest.mark.parametrize("name", [name for name in TOPIC_MODELS if not reads_embeddings(name)])
def test_each_topic_model_learns_reuters8(name):
    """Pretrained on the paper's Reuters8 vocabulary, each model's test perplexity is finite and falls.
    NVDM's beats a unigram model's; ProdLDA's need not on documents this short: its batch-normalised
    mean keeps the KL term at about K/2 nats a document (BENCHMARKS.md). (CombinedTM, which needs the
    documents' embeddings too, learns BBC News in test_topic_models.py.)"""
    corpus = load_corpus(SHARED_DATA / "reuters8")
    texts = {s: [corpus.texts[i] for i in corpus.indices(s)] for s in ("train", "validation", "test")}
    vocabulary = TopicVocabulary.fit(texts["train"], min_df=10, drop_top=0.001)
    # the paper reports about 4.8k words; fitted on the training split alone this recipe keeps about 2.8k
    assert 2000 < len(vocabulary) < 7000
    bow = {s: TopicInputs(vocabulary.transform(t)) for s, t in texts.items()}
    torch.manual_seed(0)
    topic_model = build_topic_model(name, len(vocabulary), n_topics=50, hidden=256, inputs="log1p")
    config = RunConfig(corpus="", tm_pretrain_epochs=8, tm_patience=3)
    history = pretrain_topic_model(topic_model, bow["train"], bow["validation"], config, torch.device("cpu"))
    assert min(history) < 0.9 * history[0], history
    test_ppl = validation_perplexity(topic_model, bow["test"], torch.device("cpu"))
    assert np.isfinite(test_ppl)
    if name == "nvdm":
        assert test_ppl < 0.9 * unigram_perplexity(bow["train"].bow, bow["test"].bow), test_ppl


@pytest.mark.slow
@needs_shared
def test_short_real_run_learns_reuters8(tmp_path):
    """The real default encoder on a small stratified Reuters8 subset: macro-F1 well above chance (1/8)."""
    config = RunConfig(corpus=str(SHARED_DATA / "reuters8"), variant="topicbert", max_len=64, epochs=2,
                       limit_train=400, limit_eval=120, lr=1e-4, n_topics=20, bow_min_df=3,
                       tm_pretrain_epochs=10, device="cpu")
    result = train(config, tmp_path)
    assert result.test_macro_f1 > 0.4, result.summary()
    assert result.test_micro_f1 > 0.7
