"""The verdict card's wording on known cases: equal models, a real loss, a slower row and several seeds, each
read from the same summary Compare's tables show."""
from __future__ import annotations

import numpy as np
import pytest
from store_helpers import run_with_curve

from topicbert.config import RunConfig
from topicbert.runs.store import Store
from topicbert.studio import compare_summary
from topicbert.studio.run_files import RunPredictions
from topicbert.studio.units import format_duration, format_energy, format_factor
from topicbert.studio.verdict_card import ACCURATE, CHEAPEST, SAVES, SOONER, USE, verdict_card

BASE = RunConfig(corpus="c", variant="bert", max_len=512)
TARGET = 0.99
DOCUMENTS = 300


def predictions(labels: np.ndarray, wrong: float, rng: np.random.Generator, seed: int = 42) -> RunPredictions:
    """A run's test predictions on DOCUMENTS two-class documents, a share `wrong` of them flipped."""
    predicted = np.where(rng.random(len(labels)) < wrong, 1 - labels, labels)
    return RunPredictions(["a", "b"], [f"seed {seed} doc {i}" for i in range(len(labels))], labels,
                          np.eye(2, dtype=np.float32)[predicted], None)


def scored(pairs: dict[int, RunPredictions]) -> dict:
    from topicbert.studio.uncertainty import run_scores
    return {run_id: run_scores(p) for run_id, p in pairs.items()}


def trio(store: Store, ours_wrong: float, base_wrong: float, seed: int = 42, rng=None, ours_epochs: int = 2,
         same_predictions: bool = False, ours_f1s: list[float] | None = None) -> tuple[dict, list[int]]:
    """BERT-512, TopicBERT-128 (pretrained 30 s) and TF-IDF on one seed's documents, with test predictions."""
    rng = rng or np.random.default_rng(seed)
    config = BASE.replace(seed=seed)
    base = run_with_curve(store, config, [0.80, 0.90], kwh_per_epoch=0.002)
    ours = run_with_curve(store, config.replace(variant="topicbert", max_len=128),
                          ours_f1s or [0.85, 0.90][:ours_epochs] + [0.90] * (ours_epochs - 2), kwh_per_epoch=0.0008,
                          pretrained=30.0, paired=base)
    tfidf = run_with_curve(store, config.replace(variant="tfidf"), [0.88], kwh_per_epoch=0.00001, paired=base)
    labels = rng.integers(0, 2, DOCUMENTS)
    theirs = predictions(labels, base_wrong, rng, seed)
    mine = theirs if same_predictions else predictions(labels, ours_wrong, rng, seed)
    return scored({base: theirs, ours: mine, tfidf: predictions(labels, 0.12, rng, seed)}), [ours, base, tfidf]


def card_of(store: Store, scores: dict, chosen: list[int], reference: int):
    summary = compare_summary.summary_frame(store, chosen, reference, scores, target=TARGET)
    return verdict_card(summary, TARGET), summary.set_index("role")


def answers(card) -> dict[str, str]:
    return {line.question: line.answer for line in card.lines}


def test_equal_models_are_called_as_accurate_with_nothing_to_size(store):
    scores, (ours, base, tfidf) = trio(store, 0.1, 0.1, same_predictions=True)
    card, summary = card_of(store, scores, [ours, base, tfidf], base)
    said = answers(card)
    assert said[ACCURATE].startswith("No difference shown beyond the noise.")
    assert "+0.0000 test macro-F1" in said[ACCURATE] and "never varied" in said[ACCURATE]
    assert card.headline == said[ACCURATE]
    assert list(said) == [ACCURATE, SAVES, SOONER, CHEAPEST, USE]
    assert "on one seed" in card.title and "TopicBERT-128 (#" in card.title


def test_a_real_loss_is_called_lower_with_the_tables_figures(store):
    scores, (ours, base, tfidf) = trio(store, 0.40, 0.05)
    card, summary = card_of(store, scores, [ours, base, tfidf], base)
    said, row = answers(card), summary.loc["topicbert"]
    assert row["against the reference"] == "lower beyond the noise"
    assert said[ACCURATE].startswith("No. ")
    assert "lower beyond the noise of one seed's test documents." in said[ACCURATE]
    # the same figures as the table: the difference, its interval, the reference's F1
    assert f"{row['F1 difference']:+.4f} test macro-F1" in said[ACCURATE]
    assert row["difference 95% interval"] in said[ACCURATE] and row["difference 95% interval"].count(" to ") == 1
    # what it saves: 0.0016 kWh against 0.004 kWh is 60% less, read as the summary reads it
    assert format_energy(row["kWh"]) == "1.60 Wh" and "used 1.60 Wh against 4.00 Wh" in said[SAVES]
    assert f"60% less energy, {row['energy saved, read as']}" in said[SAVES]
    assert row["g CO2e"] == pytest.approx(0.64) and "; 0.640 g CO2e against 1.60 g." in said[SAVES]


def test_a_slower_row_says_slower_and_why_time_to_target_differs(store):
    scores, (ours, base, tfidf) = trio(store, 0.1, 0.1, ours_epochs=4)
    card, summary = card_of(store, scores, [ours, base, tfidf], base)
    said, row = answers(card), summary.loc["topicbert"]
    # 30 s pretraining and four 60 s epochs against two: 270 s against 120 s
    assert row["speedup (x)"] < 1
    assert said[SAVES].startswith(f"It trained slower than BERT-512: {format_duration(270)} against "
                                  f"{format_duration(120)}, {format_factor(270 / 120)} as long")
    # both reach 0.891 (99% of 0.90) at their second evaluation: 150 s against 120 s
    assert said[SOONER].startswith(f"No: TopicBERT-128 first reached 99% of BERT-512's best validation macro-F1 "
                                   f"after {format_duration(150)}, later than BERT-512 "
                                   f"({format_factor(150 / 120)} as long; to the end of training: "
                                   f"{format_factor(270 / 120)} as long)")
    assert "topic-model pretraining (30 s)" in said[SOONER]
    # TF-IDF in the same form: its difference and verdict, then its time and energy
    assert said[CHEAPEST].startswith("TF-IDF (#") and "test macro-F1 against BERT-512's" in said[CHEAPEST]
    assert "faster than BERT-512" in said[CHEAPEST]
    # 0.00001 kWh against 0.004: a factor, not "100% less"
    assert "used 10.0 mWh against 4.00 Wh: 400× less energy" in said[CHEAPEST]


def test_several_seeds_are_spoken_of_together(store):
    rng = np.random.default_rng(3)
    scores, ids = {}, []
    for seed, ours_wrong in zip((42, 43, 44), (0.30, 0.28, 0.32), strict=True):
        more, trio_ids = trio(store, ours_wrong, 0.10, seed=seed, rng=rng)
        scores.update(more)
        ids += trio_ids
    base = ids[1]
    card, summary = card_of(store, scores, ids, base)
    said = answers(card)
    assert "over 3 seeds, each against the reference's run of the same seed" in card.title
    assert card.title.startswith(f"TopicBERT-128 (#{ids[0]}, #{ids[3]}, #{ids[6]}) against BERT-512 (#{ids[1]}, ")
    assert summary.loc["topicbert", "verdict covers"] == "3 seeds and their test documents"
    assert said[ACCURATE].endswith("lower beyond the noise of 3 seeds and their test documents.")


def test_the_card_names_runs_by_the_ids_the_summary_carries_not_by_parsing_its_label(store):
    scores, (ours, base, tfidf) = trio(store, 0.1, 0.1)
    summary = compare_summary.summary_frame(store, [ours, base, tfidf], base, scores, target=TARGET)
    assert summary.set_index("role")["run ids"].to_dict() == {"topicbert": [ours], "baseline": [base],
                                                               "tfidf": [tfidf]}
    title = verdict_card(summary, TARGET).title
    assert title.startswith(f"TopicBERT-128 (#{ours}) against BERT-512 (#{base}), on one seed")
    assert verdict_card(summary.assign(run="a label that names no run"), TARGET).title == title


def test_no_reference_or_nothing_to_set_against_it_is_said_not_guessed(store):
    scores, (ours, base, tfidf) = trio(store, 0.1, 0.1)
    no_reference, _ = card_of(store, scores, [ours, tfidf], None)
    assert no_reference.lines == [] and no_reference.title.startswith("No verdict: choose runs with a BERT baseline")
    alone, _ = card_of(store, scores, [base], base)
    assert alone.lines == [] and "choose a run to set against BERT-512" in alone.title
    assert alone.headline == alone.title


def test_runs_on_other_documents_get_no_verdict(store):
    scores, (ours, base, tfidf) = trio(store, 0.1, 0.1)
    elsewhere = run_with_curve(store, BASE.replace(variant="topicbert", max_len=128, limit_eval=50), [0.9], 0.001,
                               paired=base)
    card, _ = card_of(store, scores, [elsewhere, base], base)
    assert [line.question for line in card.lines] == [ACCURATE, USE]
    assert card.lines[0].answer.startswith("not told: TopicBERT-128 was tested on other documents")



def test_sooner_to_the_target_though_slower_to_the_end(store):
    """At the target after its first epoch (30 s pretraining + 60 s) against the reference's second (120 s), while
    its two epochs and pretraining take 150 s against 120 s."""
    scores, (ours, base, tfidf) = trio(store, 0.1, 0.1, ours_f1s=[0.95, 0.95])
    card, _ = card_of(store, scores, [ours, base, tfidf], base)
    assert answers(card)[SOONER].startswith(
        f"Yes: TopicBERT-128 first reached 99% of BERT-512's best validation macro-F1 after {format_duration(90)}, "
        f"{format_factor(120 / 90)} sooner than BERT-512 (to the end of training: {format_factor(150 / 120)} as long)")


def test_carbon_priced_at_a_co2_only_factor_is_named_co2_not_co2e(store):
    scores, (ours, base, tfidf) = trio(store, 0.40, 0.05)
    summary = compare_summary.summary_frame(store, [ours, base, tfidf], base, scores, target=TARGET)
    said = answers(verdict_card(summary, TARGET, "CO2"))
    assert "; 0.640 g CO2 against 1.60 g." in said[SAVES] and "CO2e" not in said[SAVES] + said[CHEAPEST]
    assert "g CO2e" in answers(verdict_card(summary, TARGET))[SAVES]
