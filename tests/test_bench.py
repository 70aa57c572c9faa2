"""The side-by-side benchmark: variant names, rows with intervals and verdicts, a tiny run end to end,
and the GPU script on a CPU with a tiny setting."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from topicbert.bench.flops import forward_flops_per_sequence, mfu, training_flops
from topicbert.bench.measurement import Measurement, Stopwatch
from topicbert.bench.plot import save_pareto_png
from topicbert.bench.side_by_side import BenchPlan, run_bench
from topicbert.bench.summary import convergence, markdown_table, report_text, summarize_rows, verdicts
from topicbert.bench.variants import BASELINE, HF_TRAINER, parse_variant, variant_name, variant_names
from topicbert.cli import main as cli_main
from topicbert.config import RECOMMENDED, RunConfig
from topicbert.training import results
from topicbert.training.loop import train

ROOT = Path(__file__).resolve().parents[1]


def test_parse_variant_names():
    assert parse_variant("topicbert-128-partition") == {"variant": "topicbert", "max_len": 128, "mode": "partition"}
    assert parse_variant("BERT-512") == {"variant": "bert", "max_len": 512, "mode": "truncate"}
    assert parse_variant("bert-64") == {"variant": "bert", "max_len": 64, "mode": "truncate"}
    assert parse_variant("tfidf") == {"variant": "tfidf"}
    with pytest.raises(ValueError, match="like bert-512"):
        parse_variant("roberta-512")
    with pytest.raises(ValueError, match="like bert-512"):
        parse_variant("tfidf+bf16")  # no encoder: nothing to autocast
    assert parse_variant("bert-512+nogroup+compile+fp32") == {
        "variant": "bert", "max_len": 512, "mode": "truncate", "length_grouping": False, "compile": True,
        "cpu_bf16": False}
    assert parse_variant("topicbert-128+bf16") == {"variant": "topicbert", "max_len": 128, "mode": "truncate",
                                                   "cpu_bf16": True}
    with pytest.raises(ValueError, match="unknown switch 'fast'"):
        parse_variant("bert-512+fast")
    assert parse_variant("bert-128+tfidf") == {"variant": "bert", "max_len": 128, "mode": "truncate",
                                               "tfidf_fusion": True}
    with pytest.raises(ValueError, match="like bert-512"):
        parse_variant("bert-128-wide")  # only -partition may follow the length


def test_every_variant_name_is_checked_before_anything_trains(tmp_path, monkeypatch, capsys):
    base = RunConfig(corpus="c.csv")
    recommended = variant_name(RECOMMENDED)
    assert variant_names(" bert-512, recommended ,Recommended+nogroup,bert-128+tfidf,", base) == [
        "bert-512", recommended, recommended + "+nogroup", "bert-128+tfidf"]
    # `recommended` is the preset it names: the same run as that preset's settings make
    assert base.replace(**parse_variant(recommended)) == base.replace(**RECOMMENDED)
    for wrong, why in (("bert-512,robert-128", "robert-128: variant 'robert-128' is not like"),
                       ("bert-9999", "max_len must be between 32 and 512"),
                       ("tfidf+tfidf", "is not like"), (" , ", "names no variant")):
        with pytest.raises(ValueError, match=why) as raised:
            variant_names(wrong, base)
        assert "Known names: bert-N or topicbert-N" in str(raised.value) and "recommended" in str(raised.value)
    # the command line refuses at once, in one line, and trains nothing: BERT-512 first would have taken minutes
    trained = []
    monkeypatch.setattr("topicbert.bench.side_by_side.run_bench", lambda *a, **k: trained.append(a))
    assert cli_main(["bench", "--corpus", str(tmp_path / "c.csv"), "--variants", "bert-512,recommendd"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --variants recommendd:") and error.count("\n") == 1 and trained == []


def test_preset_names_read_back_as_their_settings():
    for settings in ({"variant": "bert", "max_len": 128, "tfidf_fusion": True}, {"variant": "tfidf"},
                     {"variant": "topicbert", "max_len": 256, "mode": "partition"}, RECOMMENDED):
        base = RunConfig(corpus="c.csv")
        assert base.replace(**parse_variant(variant_name(settings))) == base.replace(**settings)
    assert variant_name({"variant": "bert", "max_len": 128, "tfidf_fusion": True}) == "bert-128+tfidf"


def measurement(seed: int, labels: np.ndarray, predictions: np.ndarray, seconds: float, kwh: float,
                best_step: int | None = None) -> Measurement:
    f1 = float(np.mean(labels == predictions))  # the summary scores F1 itself; this is only carried
    return Measurement(seed=seed, test_macro_f1=f1, train_seconds=seconds, step_seconds=seconds / 2, steps=10,
                       tokens_processed=1000, padded_fraction=0.1, kwh=kwh, kg_co2e=kwh / 2, measured="estimated",
                       inference_docs_per_second=10.0, inference_kwh_per_1000_docs=0.001, labels=labels,
                       predictions=predictions, best_step=best_step)


def noisy(labels: np.ndarray, wrong: float, seed: int) -> np.ndarray:
    """Predictions that miss a share `wrong` of the documents."""
    rng = np.random.default_rng(seed)
    flip = rng.random(len(labels)) < wrong
    return np.where(flip, (labels + 1) % 4, labels)


def test_seeds_that_disagree_widen_the_interval_of_a_difference():
    """Each seed alone is far beyond its test documents' noise, but the seeds disagree: resampling
    documents alone would call a gain, resampling the seeds too leaves it within noise."""
    rng = np.random.default_rng(1)
    labels = {seed: rng.integers(0, 4, 2000) for seed in (42, 43)}
    bert512 = [measurement(s, labels[s], noisy(labels[s], 0.10, s), 100.0, 0.02) for s in (42, 43)]
    wrong = {("topicbert-128", 42): 0.10, ("bert-128", 42): 0.40, ("topicbert-128", 43): 0.25, ("bert-128", 43): 0.15}
    per_seed = {BASELINE: bert512, **{name: [measurement(s, labels[s], noisy(labels[s], wrong[name, s], s + 5), 40.0,
                                                         0.008) for s in (42, 43)]
                                      for name in ("topicbert-128", "bert-128")}}
    branch = {r["name"]: r for r in summarize_rows(list(per_seed), per_seed, BASELINE)}["topicbert-128"]["topic_branch"]
    first, second = branch["seed_differences"]
    assert first > 0.2 and second < -0.05  # the seeds' own differences, as each seed scored them
    assert branch["difference"] > 0.05 and branch["within_noise"] and branch["difference_ci"][0] < 0
    assert "(per seed: +0." in verdicts([{"name": "topicbert-128", "against_baseline": None, "ablation": None,
                                          "topic_branch": branch}])[0]


def test_rows_carry_intervals_and_verdicts():
    rng = np.random.default_rng(0)
    labels = {seed: rng.integers(0, 4, 3000) for seed in (42, 43)}
    bert512 = [measurement(s, labels[s], noisy(labels[s], 0.10, s), 100.0, 0.02) for s in (42, 43)]
    # TopicBERT-128 and BERT-128 predict alike: no difference to find; TopicBERT-256 is far better than BERT-256
    topic128 = [measurement(s, labels[s], noisy(labels[s], 0.30, s + 10), 40.0, 0.008) for s in (42, 43)]
    bert128 = [measurement(s, labels[s], noisy(labels[s], 0.30, s + 10), 35.0, 0.007) for s in (42, 43)]
    topic256 = [measurement(42, labels[42], noisy(labels[42], 0.12, 7), 60.0, 0.012)]
    bert256 = [measurement(42, labels[42], noisy(labels[42], 0.40, 8), 55.0, 0.011)]
    # the same predictions in half the time: an ablation that changes speed alone
    topic128_bf16 = [measurement(s, labels[s], noisy(labels[s], 0.30, s + 10), 20.0, 0.004) for s in (42, 43)]
    per_seed = {BASELINE: bert512, "topicbert-128": topic128, "bert-128": bert128, "topicbert-256": topic256,
                "bert-256": bert256, "topicbert-128+bf16": topic128_bf16}
    rows = {r["name"]: r for r in summarize_rows(list(per_seed), per_seed, BASELINE)}
    for row in rows.values():
        low, high = row["test_macro_f1_ci"]
        assert 0 <= low < row["test_macro_f1"] < high <= 1
        # one seed: the test documents alone; two: Student's t with one degree of freedom, honestly wider
        assert high - low < 0.04 if row["seeds"] == 1 else high - low > 0.04
        assert row["f1_retained_ci"][0] <= row["f1_retained"] <= row["f1_retained_ci"][1]
    base = rows[BASELINE]
    assert base["f1_retained"] == pytest.approx(1.0) and base["f1_retained_ci"] == pytest.approx([1.0, 1.0])
    assert base["seeds"] == 2 and base["test_macro_f1_std"] > 0
    assert rows["topicbert-128"]["speedup"] == pytest.approx(100 / 40)
    assert rows["topicbert-128"]["against_baseline"]["speedup_range"] == pytest.approx([2.5, 2.5])
    assert rows["topicbert-128"]["f1_retained_ci"][1] < 1.0  # 30% wrong against 10%: beyond the noise
    # paired on common seeds only: TopicBERT-256 ran seed 42 alone
    assert rows["topicbert-256"]["seeds"] == 1 and rows["topicbert-256"]["against_baseline"]["speedup_range"] is None
    same = rows["topicbert-128"]["topic_branch"]
    assert same["against"] == "bert-128" and same["difference"] == 0 and same["within_noise"]
    assert rows["topicbert-256"]["topic_branch"]["difference_ci"][0] > 0
    said = verdicts(list(rows.values()))
    # the same predictions on every document: no size of a detectable difference is claimed (not ±0.0000)
    assert same["smallest_detectable"] is None
    assert "topicbert-128 against bert-128: +0.0000 macro-F1 [+0.0000, +0.0000] (per seed: +0.0000, +0.0000): " \
           "within noise: the difference never varied over 2 seeds and their test documents (the same predictions), " \
           "so they cannot say how large a difference would show; the topic branch is not shown either way." in said
    assert "topicbert-256 against bert-256: " in "\n".join(said)
    assert any(line.startswith("topicbert-256 against bert-256") and line.endswith("the topic branch adds F1 beyond "
                                                                                  "the noise.") for line in said)
    assert any(line.startswith("topicbert-128 against bert-512") and "below it by more than the noise" in line
               for line in said)
    assert "topicbert-128+bf16 against topicbert-128: +0.0000 macro-F1 [+0.0000, +0.0000] (per seed: +0.0000, " \
           "+0.0000): within noise: the difference never varied over 2 seeds and their test documents (the same " \
           "predictions), so they cannot say how large a difference would show; 2.00x its speed, 50.0% less " \
           "energy." in said
    assert rows["topicbert-256"]["ablation"] is None
    table = markdown_table(list(rows.values()))
    assert table.count("\n") == 7 and "| 2.50x (2.50–2.50) |" in table and " ± " in table
    # TopicBERT-256 ran one seed where the others ran two: the reader is told what each figure covers
    report = {"rows": list(rows.values()), "scope": "training", "recipes": {}, "loop_overhead": None}
    assert "Rows ran different numbers of seeds" in report_text(report)
    # estimated energy carries its band, and a saving between rows is read against the time saved (one machine,
    # one meter: the TDP cancels); "estimated" alone names no path of the meter, so no band is claimed for it
    worded = [{**row, "measured": "cpu estimated (cpu_load, 85 W TDP); ram estimated (per-DIMM model)"}
              for row in rows.values()]
    note = report_text({**report, "rows": worded})
    assert "process mode, whose error codecarbon has not characterised" in note and "the TDP cancels" in note
    assert "Energy:" not in report_text(report)
    even = [row for row in rows.values() if row["seeds"] == 2]
    assert "different numbers of seeds" not in report_text({**report, "rows": even})


def test_the_report_says_which_rows_had_not_converged():
    labels = np.arange(40) % 4
    # 10 steps each: best at the last step means validation F1 still rose when training ended
    per_seed = {BASELINE: [measurement(s, labels, labels, 100.0, 0.02, best_step=10) for s in (42, 43)],
                "topicbert-128": [measurement(42, labels, labels, 40.0, 0.01, best_step=10),
                                  measurement(43, labels, labels, 40.0, 0.01, best_step=6)],
                "bert-128": [measurement(42, labels, labels, 30.0, 0.01, best_step=4)],
                "tfidf": [measurement(42, labels, labels, 1.0, 0.0001)]}
    rows = summarize_rows(list(per_seed), per_seed, BASELINE)
    assert [r["still_rising_seeds"] for r in rows] == [2, 1, 0, None]
    assert convergence(rows) == ["Not converged: validation macro-F1 still rose at the last evaluation of "
                                 "bert-512 (2 of 2 seeds), topicbert-128 (1 of 2 seeds); more epochs might raise "
                                 "their F1."]
    assert convergence(rows[2:]) == ["Converged: every row's validation macro-F1 had stopped rising when its "
                                     "training ended."]
    assert convergence(rows[3:]) == []  # TF-IDF has no epochs


def test_time_to_accuracy_seed_by_seed_against_the_baselines_best():
    """BERT-512's best validation F1 is 0.91, so the target is 0.9009: it gets there at 300 s (its own best),
    TopicBERT-128 at 60 s on seed 42 and 100 s on seed 43; BERT-128 never does on seed 43."""
    labels = np.arange(40) % 4
    curves = {BASELINE: {42: [[100, 0.01, 0.80], [200, 0.02, 0.90], [300, 0.03, 0.91]],
                         43: [[100, 0.01, 0.85], [200, 0.02, 0.91], [300, 0.03, 0.90]]},
              "topicbert-128": {42: [[30, 0.002, 0.85], [60, 0.004, 0.905], [90, 0.006, 0.92]],
                                43: [[50, 0.004, 0.89], [100, 0.008, 0.902]]},
              "bert-128": {42: [[20, 0.001, 0.95]], 43: [[20, 0.001, 0.80], [40, 0.002, 0.85]]}}
    per_seed = {name: [dataclasses.replace(measurement(seed, labels, labels, 400.0, 0.04), evaluations=curve,
                                           fixed_seconds=10.0) for seed, curve in by_seed.items()]
                for name, by_seed in curves.items()}
    rows = {r["name"]: r for r in summarize_rows(list(per_seed), per_seed, BASELINE)}
    base, topic, bert128 = rows[BASELINE], rows["topicbert-128"], rows["bert-128"]
    assert base["seconds_to_target"] == pytest.approx(250.0) and base["speedup_to_target"] == pytest.approx(1.0)
    # seed 42: 300 s against 60; seed 43: 200 s (0.91 >= 0.9009) against 100
    assert topic["seconds_to_target"] == pytest.approx(80.0) and topic["kwh_to_target"] == pytest.approx(0.006)
    assert topic["speedup_to_target"] == pytest.approx(250 / 80)
    assert topic["speedup_to_target_range"] == pytest.approx([2.0, 5.0])
    assert topic["energy_saved_to_target"] == pytest.approx(1 - 0.006 / 0.025)
    assert bert128["seconds_to_target"] is None and bert128["target_reached_seeds"] == 1
    assert topic["fixed_seconds"] == 10.0
    text = "\n".join(report_text({"rows": list(rows.values()), "scope": "training", "recipes": {},
                                  "loop_overhead": None, "baseline": BASELINE, "target": 0.99}).splitlines())
    assert "| 80 | 3.12x (2.00–5.00) |" in text and "| not reached |" in text
    assert ("Time to accuracy (to 99% of bert-512's best validation macro-F1, counting everything before that "
            "evaluation, pretraining included; no stopping rule in it): topicbert-128 3.12x (2.00–5.00) sooner, "
            "76.0% less energy to that point; bert-128 did not reach it on 1 of 2 seeds.") in text


def test_flop_count_by_hand():
    # one layer, H=2, I=4, a sequence of 3: per position 2 * (4*2*2 + 2*2*4) + 4*3*2 = 64 + 24 = 88
    assert forward_flops_per_sequence(3, layers=1, hidden=2, intermediate=4) == 3 * 88
    # two such sequences, forward and backward
    assert training_flops([(2, 3)], layers=1, hidden=2, intermediate=4) == 3 * 2 * 3 * 88
    assert mfu(2e12, 2.0, peak=1.0) == pytest.approx(1.0) and mfu(1.0, 1.0, None) is None


@pytest.mark.slow
def test_bench_rows_with_intervals_written_as_they_come(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    plan = BenchPlan(corpus=tiny_config.corpus, variants=["bert-32", "topicbert-32", "topicbert-32-partition",
                                                          "bert-512+nogroup", "tfidf"],
                     epochs=1, seeds=1, limit_train=None, limit_eval=None, hf_trainer=True,
                     base=tiny_config.replace(early_stopping_patience=1))
    updates = []
    report = run_bench(plan, on_update=updates.append)
    rows = {row["name"]: row for row in report["rows"]}
    assert list(rows) == [BASELINE, "bert-32", "topicbert-32", "topicbert-32-partition", "bert-512+nogroup", "tfidf",
                          HF_TRAINER]
    # after every row the report so far: a benchmark cut off keeps what it finished
    assert [len(u["rows"]) for u in updates] == list(range(1, 8)) and all(u["partial"] for u in updates)
    assert not report["partial"] and json.dumps(report["rows"]) == json.dumps(updates[-1]["rows"])
    for row in rows.values():
        assert row["train_seconds"] > 0 and row["inference_docs_per_second"] > 0 and row["kwh"] >= 0
        low, high = row["test_macro_f1_ci"]
        assert low <= row["test_macro_f1"] <= high and row["test_documents"] == rows[BASELINE]["test_documents"]
        assert len(row["f1_retained_ci"]) == 2
    assert rows["topicbert-32"]["topic_branch"]["against"] == "bert-32"
    # partition feeds every chunk: more pieces than truncating at the same length
    assert rows["topicbert-32-partition"]["tokens_processed"] > rows["topicbert-32"]["tokens_processed"]
    assert rows["bert-512+nogroup"]["padded_fraction"] > rows[BASELINE]["padded_fraction"]
    assert rows["tfidf"]["tokens_processed"] == 0 and rows["tfidf"]["train_flops"] is None
    assert rows["tfidf"]["still_rising_seeds"] is None and rows[HF_TRAINER]["still_rising_seeds"] is None
    assert rows["bert-32"]["still_rising_seeds"] == 1  # one epoch: its only evaluation is its best
    assert rows[BASELINE]["train_flops"] > rows["bert-32"]["train_flops"] > 0
    # time to accuracy: every encoder row's validation curve, and its fixed cost (TopicBERT: pretraining in it)
    assert rows[BASELINE]["speedup_to_target"] == pytest.approx(1.0) and rows[BASELINE]["tokens_per_second"] > 0
    assert rows["topicbert-32"]["fixed_seconds"] > 0 and rows["topicbert-32"]["target_reached_seeds"] is not None
    assert rows[HF_TRAINER]["target_reached_seeds"] is None  # the Trainer's curve is its own, not recorded
    assert len(report["measurements"]["bert-32"][0]["evaluations"]) == 1  # one epoch, one validation
    # every measurement kept with its test predictions, so that another seed's run can be merged in later
    assert set(report["measurements"]) == set(rows)
    kept = Measurement.from_record(json.loads(json.dumps(report["measurements"]["tfidf"][0])))
    assert kept.predictions.size == rows["tfidf"]["test_documents"]
    assert kept.test_macro_f1 == rows["tfidf"]["test_macro_f1"]
    save_pareto_png(report["rows"], tmp_path / "bench.png", title="tiny")
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = report_text(report)
    assert "Intervals: 95%, over the" in text and "Scope:" in text and "hf-trainer-512: the Hugging Face" in text
    assert "tfidf: TF-IDF of word 1-2-grams" in text and "loop overhead" in text


class ClockMeter:
    """A meter whose kWh is the clock: the energy of a piece of work is its seconds."""

    def read(self) -> SimpleNamespace:
        now = time.perf_counter()
        return SimpleNamespace(kwh=now, kg_co2e=now, measured="the clock")


def test_the_test_pass_alone_is_metered(tiny_config, tmp_path, monkeypatch):
    """A TopicBERT run's topic files and NPMI come after its test pass: made slow, they stay out of it."""
    write_topics = results._write_topics
    monkeypatch.setattr(results, "_write_topics", lambda *args: (time.sleep(1.5), write_topics(*args))[1])
    watch = Stopwatch(ClockMeter())
    started = time.perf_counter()
    train(tiny_config, tmp_path / "run", [watch])
    seconds, energy = watch.test_pass()
    assert time.perf_counter() - started > 1.5          # the slow part ran
    assert seconds < 1.0 and energy.kwh == pytest.approx(seconds, abs=0.01)


@pytest.mark.slow
def test_gpu_script_on_a_cpu_with_a_tiny_setting(tiny_model_dir, tiny_corpus_csv, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, TOPICBERT_HOME=str(tmp_path / "home"), DEVICE="cpu", MODEL=str(tiny_model_dir),
               REUTERS8=str(tiny_corpus_csv), NEWS20=str(tmp_path / "absent.zip"), OUT=str(out), EPOCHS="1",
               SEEDS="2", SEED="7", VARIANTS="bert-512,tfidf", HF_TRAINER="0", PEAK_TFLOPS="0.01",
               INSTALL="0", PYTHON=sys.executable, BUDGET_SECONDS="400")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_bench.sh")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "bench_gpu_reuters8.json").read_text())
    assert [(r["name"], r["seeds"]) for r in report["rows"]] == [("bert-512", 2), ("tfidf", 2)]
    assert report["epochs"] == 1 and not report["partial"]
    assert [m["seed"] for m in report["measurements"]["bert-512"]] == [7, 8]  # SEED: the first seed
    assert "20news: " in done.stdout and "not found, skipped" in done.stdout
    # with 20 Newsgroups absent, Reuters8 gets the whole budget, not its 40% share
    assert int(re.search(r"reuters8: up to (\d+)s", done.stdout).group(1)) > 0.6 * 400
    assert "reuters8: BERT-512 model FLOPs utilisation" in done.stdout and "FLOPs in" in done.stdout
    assert "| bert-512 |" in (out / "bench_gpu_reuters8.md").read_text()
