"""Where the topic branch helps: for each topic of a TopicBERT run, the test documents whose dominant topic
it is, each model's accuracy on them, and the run's difference with its reference on them, with a verdict
corrected for the number of topics (stats/many_verdicts.py), sorted from the largest gain to the largest loss.

The score is accuracy, the same number for every model on the same documents: macro-F1 on a topic's few
documents would average each model over the classes it happened to predict there, so the gain would say
where a model's errors land rather than how many it makes. Only runs tested on the same documents stand
beside each other (documents.same_documents).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..stats.many_verdicts import FAMILY_LEVEL, fewest_documents, holm, sign_test
from ..stats.noise import WITHIN_NOISE
from .documents import same_documents
from .run_files import RunPredictions

GAIN_COLUMNS = ["topic", "label", "documents", "difference", "only it right", "only the reference right",
                "adjusted p", "against the reference"]
HIGHER, LOWER = "higher beyond the noise", "lower beyond the noise"
NO_DOCUMENT = "no test document"


def too_few(needed: int) -> str:
    return f"too few documents for a verdict (under {needed})"


def topic_gains(run: RunPredictions, reference: RunPredictions, labels: Sequence[str],
                names: tuple[str, str], others: Mapping[str, RunPredictions] | None = None) -> pd.DataFrame:
    """One row per topic: its number (from 1) and label, how many test documents have it as their dominant
    topic, each model's accuracy on them (a column named after each: `names` gives the run's and the
    reference's; `others` more models on the same documents), the run's difference with the reference, on how
    many documents only one of them is right, the Holm-adjusted p of the exact sign test, and the verdict.
    A topic needs fewest_documents(topics with documents) documents for a verdict. Topics with a verdict
    first, largest gain first; then the others, most documents first."""
    if run.topic_mixtures is None:
        raise ValueError("the run has no topic mixtures: only a TopicBERT run has topics")
    if not same_documents(run, reference):
        raise ValueError("the reference was tested on other documents")
    models = {names[0]: run, names[1]: reference,
              **{name: other for name, other in (others or {}).items() if same_documents(run, other)}}
    right = {name: model.predictions == run.labels for name, model in models.items()}
    dominant = run.topic_mixtures.argmax(axis=1)
    counts = np.bincount(dominant, minlength=len(labels))
    needed = fewest_documents(int((counts > 0).sum()))
    rows = []
    for topic, n in enumerate(counts):
        docs = dominant == topic
        ours, theirs = right[names[0]][docs], right[names[1]][docs]
        rows.append({"topic": topic + 1, "label": labels[topic], "documents": int(n),
                     **{name: float(hits[docs].mean()) if n else np.nan for name, hits in right.items()},
                     "difference": float(ours.mean() - theirs.mean()) if n else np.nan,
                     "only it right": int((ours & ~theirs).sum()),
                     "only the reference right": int((theirs & ~ours).sum())})
    frame = pd.DataFrame(rows, columns=GAIN_COLUMNS[:3] + list(models) + GAIN_COLUMNS[3:])
    tested = frame["documents"] >= needed
    p = [sign_test(wins, losses) for wins, losses in
         zip(frame.loc[tested, "only it right"], frame.loc[tested, "only the reference right"], strict=True)]
    frame.loc[tested, "adjusted p"] = holm(p) if p else []
    frame["against the reference"] = [_verdict(n, difference, adjusted, needed) for n, difference, adjusted in
                                      zip(frame["documents"], frame["difference"], frame["adjusted p"], strict=True)]
    frame["has verdict"] = tested
    frame = frame.sort_values(["has verdict", "difference", "documents"], ascending=[False, False, False],
                              ignore_index=True, na_position="last")
    return frame.drop(columns="has verdict")


def _verdict(documents: int, difference: float, adjusted_p: float, needed: int) -> str:
    if documents == 0:
        return NO_DOCUMENT
    if documents < needed:
        return too_few(needed)
    if adjusted_p < FAMILY_LEVEL:
        return HIGHER if difference > 0 else LOWER
    return WITHIN_NOISE


def verdict_first(gains: pd.DataFrame) -> list[str]:
    """The table's columns as a person reads them: the topic, its size, the difference and its verdict, then the
    counts behind it and each model's accuracy."""
    first = ["label", "documents", "difference", "against the reference", "adjusted p", "only it right",
             "only the reference right"]
    return first + [column for column in gains.columns if column not in first and column != "topic"]


def verdict_rule(gains: pd.DataFrame) -> str:
    """How a table of topic_gains was judged, for the page: the score, who gets a verdict, the correction."""
    topics = int((gains["documents"] > 0).sum())
    tested = f"{topics} topic{'s' if topics != 1 else ''}"
    return (f"Each topic's score is accuracy on its test documents (the share each model classifies right), the "
            f"same kind of number for every model. A topic gets a verdict only with at least "
            f"{fewest_documents(topics)} documents: with {tested} tested at once, fewer could not be called even if "
            f"every one went one way. A verdict is the exact sign test on the documents only one of the two models "
            f"gets right, corrected for the number of topics (Holm's method): when the models are equally good, the "
            f"chance that any topic in the table is called beyond the noise is at most {FAMILY_LEVEL:.0%}. Click a "
            f"row to open its documents on the Documents page.")


def gains_against(topic_run: int, reference: int | None, predictions: Mapping[int, RunPredictions | None],
                  names: Mapping[int, str], labels: Sequence[str]) -> tuple[pd.DataFrame | None, str]:
    """Compare's view: topic_gains of run `topic_run` against run `reference`, with every other run of
    `predictions` tested on the same documents beside them; (None, why) where it cannot be drawn."""
    ours, theirs = predictions.get(topic_run), predictions.get(reference) if reference is not None else None
    if ours is None or ours.topic_mixtures is None:
        return None, f"{names[topic_run]} has no test predictions with topic mixtures."
    if reference is None or theirs is None:
        return None, "Choose a reference baseline with its test predictions."
    if not same_documents(ours, theirs):
        return None, f"{names[topic_run]} was tested on other documents than the reference."
    others = {names[i]: p for i, p in predictions.items() if i not in (topic_run, reference) and p is not None}
    return topic_gains(ours, theirs, labels, (names[topic_run], names[reference]), others), ""
