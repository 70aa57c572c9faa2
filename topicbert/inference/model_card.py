"""A model folder's README.md: a model card in the Hugging Face convention (YAML front matter with the test
metric and the training emissions in `co2_eq_emissions`), then what the model scored, what it cost to train and
costs to use, what it was trained on and where it stops, and what it was compared with.

Plain facts in (CardFacts, gathered from the store by studio/classify.py), text out. The front matter's values
are written as JSON, which YAML reads as they are: no YAML library needed, and a name with a colon or a quote
stays one string.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Comparison:
    """One run the model was compared with on the same test documents."""
    name: str                       # BERT-512, TF-IDF
    run_id: int
    test_macro_f1: float | None
    verdict: str                    # "higher beyond the noise", "within noise", ... ('' when none could be made)


@dataclass(frozen=True)
class CardFacts:
    name: str                                  # TopicBERT-128
    run_id: int
    variant: str                               # bert, topicbert, tfidf
    encoder: str                               # the encoder it fine-tuned ('' for TF-IDF)
    topic_model: str | None                    # TopicBERT: which topic model, with how many topics
    classes: list[str]
    corpus: str                                # the corpus's name
    corpus_limits: str                         # its documents in words: how many trained, tested, the limits
    test_documents: int
    test_macro_f1: float
    test_macro_f1_ci: tuple[float, float]
    train_seconds: float | None
    kwh: float | None
    kg_co2e: float | None
    energy_source: str                         # what was measured or estimated, and its band: the trust badge
    energy_estimated: bool
    location: str                              # where the CO2 was priced (the grid's country or region)
    hardware: str                              # the CPU and GPUs metered
    precision: str                             # bf16 or float32
    infer_seconds_per_1000: float | None       # classifying 1,000 documents: the run's metered test pass
    infer_kwh_per_1000: float | None
    comparisons: list[Comparison] = field(default_factory=list)


def _number(value: float | None, digits: int) -> str:
    return "not recorded" if value is None else f"{value:,.{digits}f}"


def _front_matter(facts: CardFacts, grams: float | None, how: str) -> list[str]:
    """The card's YAML header, as the Hugging Face Hub reads it: the task, the test score and the emissions."""
    low, high = facts.test_macro_f1_ci
    metric = {"type": "f1", "name": "test macro-F1", "value": round(facts.test_macro_f1, 4),
              "args": {"average": "macro", "ci95": [round(low, 4), round(high, 4)],
                       "test_documents": facts.test_documents}}
    front = [
        "---",
        "library_name: topicbert-studio",
        "pipeline_tag: text-classification",
        f"tags: {json.dumps(['text-classification', facts.variant])}",
        f"datasets: {json.dumps([facts.corpus])}",
        "metrics: [\"f1\"]",
        "model-index:",
        f"- name: {json.dumps(facts.name)}",
        "  results:",
        "  - task: {\"type\": \"text-classification\", \"name\": \"Text Classification\"}",
        f"    dataset: {json.dumps({'name': facts.corpus, 'type': facts.corpus, 'split': 'test'})}",
        f"    metrics: [{json.dumps(metric)}]",
    ]
    if grams is not None:
        front += [
            "co2_eq_emissions:",
            f"  emissions: {round(grams, 4)}",
            f"  source: {json.dumps(f'codecarbon, {how}: {facts.energy_source}')}",
            "  training_type: \"fine-tuning\"",
            f"  geographical_location: {json.dumps(facts.location)}",
            f"  hardware_used: {json.dumps(facts.hardware)}",
        ]
    return front + ["---"]


def model_card(facts: CardFacts) -> str:
    """The card's whole text."""
    grams = None if facts.kg_co2e is None else 1000 * facts.kg_co2e
    how = "estimated" if facts.energy_estimated else "measured"
    low, high = facts.test_macro_f1_ci
    body = [
        "",
        f"# {facts.name} on {facts.corpus} (run {facts.run_id})",
        "",
        f"A {facts.name} document classifier trained by TopicBERT Studio"
        + (f", fine-tuning {facts.encoder}" if facts.encoder else "")
        + (f", with the topic model {facts.topic_model}" if facts.topic_model else "") + ".",
        f"Classes ({len(facts.classes)}): {', '.join(facts.classes)}.",
        "",
        "## Scores",
        "",
        f"- Test macro-F1: {facts.test_macro_f1:.4f}, 95% bootstrap interval {low:.4f}–{high:.4f} over "
        f"{facts.test_documents:,} test documents.",
        "",
        "## Cost",
        "",
        f"- Training: {_number(facts.train_seconds, 1)} s, {_number(facts.kwh, 6)} kWh, "
        f"{_number(grams, 3)} g CO2e ({how}: {facts.energy_source}; priced at {facts.location or 'not recorded'}), "
        f"in {facts.precision} on {facts.hardware or 'hardware not recorded'}.",
        f"- Classifying 1,000 documents (the run's metered test pass): {_number(facts.infer_seconds_per_1000, 2)} s, "
        f"{_number(facts.infer_kwh_per_1000, 6)} kWh.",
        "",
        "## Training data and its limits",
        "",
        f"- {facts.corpus}: {facts.corpus_limits}.",
        "- The scores hold for documents like these test documents: another source, period or set of classes "
        "can score lower, and a text of none of these classes still gets one of them.",
        "",
        "## Compared with",
        "",
    ]
    if facts.comparisons:
        for other in facts.comparisons:
            f1 = "no test score" if other.test_macro_f1 is None else f"test macro-F1 {other.test_macro_f1:.4f}"
            verdict = f"; {facts.name} against it: {other.verdict}" if other.verdict else ""
            body.append(f"- {other.name} (run {other.run_id}) on the same test documents, {f1}{verdict}.")
    else:
        body.append("- Nothing: no run was trained beside it on the same test documents.")
    body += [
        "",
        "## Use",
        "",
        "```python",
        "from topicbert import load_classifier",
        "clf = load_classifier(\"THIS_FOLDER\")",
        "clf.predict([\"a document\"]), clf.predict_proba([\"a document\"]), clf.classes_",
        "```",
        "",
        "```bash",
        "python -m topicbert predict THIS_FOLDER --corpus docs.csv --text-col text --out predictions.csv",
        "```",
        "",
    ]
    return "\n".join(_front_matter(facts, grams, how) + body)
