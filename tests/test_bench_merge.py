"""Bench JSONs of other seeds merged into one report, as if one bench had run every seed."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_bench import measurement, noisy

from topicbert.bench.measurement import Measurement
from topicbert.bench.merge import merge_reports
from topicbert.bench.side_by_side import bench_report
from topicbert.bench.variants import BASELINE
from topicbert.cli import main
from topicbert.config import RunConfig

NAMES = [BASELINE, "topicbert-128", "bert-128"]
WRONG = {BASELINE: 0.10, "topicbert-128": 0.15, "bert-128": 0.25}


def setting(seed: int, corpus: str = "../shared/data/news.zip", **changes) -> dict:
    return {"corpus": corpus, "epochs": 2, "seeds": 1, "limit_train": None, "limit_eval": None,
            "config": RunConfig(corpus=corpus, seed=seed).to_dict(), "machine": "a CPU", **changes}


def measurements(seeds: tuple[int, ...]) -> dict[str, list[Measurement]]:
    labels = {seed: np.random.default_rng(seed).integers(0, 4, 300) for seed in seeds}
    return {name: [measurement(s, labels[s], noisy(labels[s], WRONG[name], s + i), 100.0 - 20 * i, 0.01)
                   for s in seeds] for i, name in enumerate(NAMES)}


def saved(report: dict) -> dict:
    """As a JSON file gives it back."""
    return json.loads(json.dumps(report))


def test_a_measurement_survives_json():
    m = measurements((42,))["topicbert-128"][0]
    back = Measurement.from_record(saved(m.to_record()))
    assert np.array_equal(back.labels, m.labels) and np.array_equal(back.predictions, m.predictions)
    assert back.test_macro_f1 == m.test_macro_f1 and back.seed == 42 and back.best_step is None
    with pytest.raises(ValueError, match="0..65535"):
        Measurement(**{**m.__dict__, "labels": m.labels - 1}).to_record()  # a label of -1


def test_merging_two_seeds_gives_what_one_bench_of_both_gives():
    one = bench_report(setting(42), NAMES, measurements((42,)), None, None, False)
    # the second ran elsewhere: its corpus path differs, its name does not
    other = bench_report(setting(43, corpus="/data/news.zip"), NAMES, measurements((43,)), None, None, False)
    merged = merge_reports([("a.json", saved(one)), ("b.json", saved(other))])
    both = {name: measurements((42,))[name] + measurements((43,))[name] for name in NAMES}
    whole = bench_report(setting(42, seeds=2), NAMES, both, None, None, False)
    assert json.dumps(merged["rows"]) == json.dumps(whole["rows"])
    assert merged["seeds"] == 2 and merged["merged_from"] == ["a.json", "b.json"]
    assert merged["rows"][1]["against_baseline"]["seed_differences"][1] != 0
    assert not merged["partial"]


def test_a_cut_off_bench_is_partial_only_while_a_row_lacks_a_seed():
    seed_42, seed_43 = measurements((42,)), measurements((43,))
    # cut off before its second seed: saved as partial, yet every row has seed 42
    before_43 = bench_report(setting(42), NAMES, seed_42, None, None, True)
    later = saved(bench_report(setting(43), NAMES, seed_43, None, None, False))
    assert not merge_reports([("cut.json", saved(before_43)), ("later.json", later)])["partial"]
    # cut off after two rows: bert-128 has seed 43 alone
    two_rows = bench_report(setting(42), NAMES, {name: seed_42[name] for name in NAMES[:2]}, None, None, True)
    merged = merge_reports([("cut.json", saved(two_rows)), ("later.json", later)])
    assert merged["partial"] and [row["seeds"] for row in merged["rows"]] == [2, 2, 1]


@pytest.mark.parametrize("change, said", [
    ({"epochs": 3}, "b.json: epochs differ from a.json's"),
    ({"machine": "a GPU"}, "machine differ"),
    ({"config": RunConfig(corpus="c", seed=43, max_len=64).to_dict()}, "config's max_len differ"),
    ({"corpus": "../shared/data/other.zip"}, "corpus differ")])
def test_only_one_setting_on_one_machine_merges(change, said):
    one = bench_report(setting(42), NAMES, measurements((42,)), None, None, False)
    other = bench_report(setting(43, **change), NAMES, measurements((43,)), None, None, False)
    with pytest.raises(ValueError, match=said):
        merge_reports([("a.json", saved(one)), ("b.json", saved(other))])


def test_what_cannot_merge_says_why():
    one = saved(bench_report(setting(42), NAMES, measurements((42,)), None, None, False))
    again = saved(bench_report(setting(42), NAMES, measurements((42,)), None, None, False))
    again["measurements"][BASELINE][0]["train_seconds"] += 1  # the same seed, trained a second time
    with pytest.raises(ValueError, match="b.json: bert-512 seed 42 is in an earlier file too, measured apart"):
        merge_reports([("a.json", one), ("b.json", again)])
    old = {key: value for key, value in one.items() if key != "measurements"}
    with pytest.raises(ValueError, match="old.json: written before the bench kept"):
        merge_reports([("old.json", old)])
    with pytest.raises(ValueError, match="x.json: not a bench JSON \\(it has no corpus, epochs"):
        merge_reports([("x.json", {"rows": []})])
    no_baseline = saved(bench_report(setting(42), NAMES[1:], measurements((42,)), None, None, False))
    with pytest.raises(ValueError, match="none of the files has a bert-512 row"):
        merge_reports([("c.json", no_baseline)])


def test_one_file_is_read_again_at_another_target():
    curves = {BASELINE: [(100.0, 0.01, 0.80), (200.0, 0.02, 0.90)], "topicbert-128": [(40.0, 0.004, 0.85),
                                                                                   (80.0, 0.008, 0.89)]}
    runs = measurements((42,))
    for name, curve in curves.items():
        runs[name][0].evaluations = curve
    one = saved(bench_report(setting(42), NAMES[:2], {n: runs[n] for n in NAMES[:2]}, None, None, False))
    assert one["rows"][1]["seconds_to_target"] is None  # 0.89 misses 99% of 0.90
    lower = merge_reports([("one.json", one)], target=0.98)  # 0.882: BERT-512 at 200 s, TopicBERT-128 at 80 s
    assert lower["target"] == 0.98 and lower["rows"][1]["speedup_to_target"] == pytest.approx(200 / 80)
    assert merge_reports([("one.json", one)])["target"] == 0.99


@pytest.mark.parametrize("target", ["1.5", "0", "nan"])
def test_a_target_is_a_share(target, capsys):
    with pytest.raises(SystemExit):
        main(["bench-merge", "one.json", "--target", target])
    assert "not a share above 0 and at most 1" in capsys.readouterr().err


def test_bench_merge_command(tmp_path, capsys):
    files = []
    for seed in (42, 43):
        files.append(tmp_path / f"seed{seed}.json")
        files[-1].write_text(json.dumps(bench_report(setting(seed), NAMES, measurements((seed,)), None, None, False)))
    out = tmp_path / "merged.json"
    assert main(["bench-merge", *map(str, files), "--json", str(out), "--plot", str(tmp_path / "m.png")]) == 0
    printed = capsys.readouterr().out
    assert "| topicbert-128 |" in printed and "(per seed: " in printed
    assert ("over the 300 test documents (bootstrap, 1,000 resamples) and the seeds: Student's t over 2 seeds"
            in printed)
    assert json.loads(out.read_text())["seeds"] == 2 and (tmp_path / "m.png").exists()
    assert main(["bench-merge", str(files[0]), str(tmp_path / "missing.json")]) == 2
    assert "missing.json: not a bench JSON" in capsys.readouterr().err


def test_a_setting_added_since_a_file_was_written_compares_as_its_default():
    one = bench_report(setting(42), NAMES, measurements((42,)), None, None, False)
    older = saved(bench_report(setting(43), NAMES, measurements((43,)), None, None, False))
    del older["config"]["tfidf_fusion"]  # written before the wide path existed
    assert merge_reports([("a.json", saved(one)), ("older.json", older)])["seeds"] == 2


def test_new_rows_finish_an_earlier_table_without_training_bert_512_again(tiny_model_dir, tiny_corpus_csv,
                                                                          tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOPICBERT_HOME", str(tmp_path / "home"))
    common = ["bench", "--corpus", str(tiny_corpus_csv), "--model", str(tiny_model_dir), "--epochs", "1",
              "--device", "cpu"]
    earlier, later = tmp_path / "earlier.json", tmp_path / "later.json"
    assert main([*common, "--variants", "tfidf", "--json", str(earlier)]) == 0
    assert main([*common, "--variants", "bert-32", "--baseline-from", str(earlier), "--json", str(later)]) == 0
    before, after = json.loads(earlier.read_text()), json.loads(later.read_text())
    # the very measurement, not a second training of it: its seconds are equal to the last digit
    assert after["measurements"][BASELINE] == before["measurements"][BASELINE]
    assert [row["name"] for row in after["rows"]] == [BASELINE, "bert-32"]
    assert after["baseline_from"] == str(earlier) and after["loop_overhead"] == before["loop_overhead"]
    # both files merge into one table: the copied BERT-512 counts once
    whole = merge_reports([("earlier.json", before), ("later.json", after)])
    assert [row["name"] for row in whole["rows"]] == [BASELINE, "tfidf", "bert-32"] and whole["seeds"] == 1
    capsys.readouterr()
    assert main([*common, "--epochs", "2", "--variants", "bert-32", "--baseline-from", str(earlier)]) == 2
    assert "--baseline-from: " + str(earlier) + ": epochs differ from this bench's" in capsys.readouterr().err
    assert main([*common, "--seed", "43", "--variants", "bert-32", "--baseline-from", str(earlier)]) == 2
    assert "has no bert-512 row for seed 43" in capsys.readouterr().err
