"""The answer on one screen: a few plain sentences on top of Compare (and in the report) saying whether the
cheaper model is as accurate, what it saves, whether it reaches the target sooner, how the TF-IDF reference
compares and what using each model costs.

Every figure and verdict is read from Compare's summary (compare_summary.summary_frame): the card is those tables in
words, so the two cannot disagree. It speaks of the first row that is neither the reference nor TF-IDF (by
default the newest TopicBERT run, every seed of it) against the reference row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..energy.grid import CO2E
from ..stats.noise import HIGHER, LOWER, not_shown_words
from .figures import TFIDF_ROLE
from .run_identity import encoders_sentence
from .uncertainty import OTHER_DOCUMENTS
from .units import format_duration, format_energy, format_factor, significant

ACCURATE, SAVES, SOONER, CHEAPEST, USE = ("As accurate?", "What does it save?", "Sooner to the target?",
                                          "Against the cheapest reference?", "What does using it cost?")


@dataclass(frozen=True)
class Line:
    question: str
    answer: str


@dataclass(frozen=True)
class VerdictCard:
    title: str          # which rows it speaks of, and on how many seeds
    lines: list[Line]   # empty when there is nothing to compare, and `title` says why

    @property
    def headline(self) -> str:
        """The first answer: whether the cheaper model is as accurate (what Home shows)."""
        return self.lines[0].answer if self.lines else self.title

    def sentences(self) -> list[str]:
        return [self.title] + [f"{line.question} {line.answer}" for line in self.lines]


def _known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _name(row: pd.Series) -> str:
    """The row's runs by their name and ids ('TopicBERT-128 (#1)', 'TopicBERT-128 (#1, #4, #7)')."""
    return f"{row['name']} ({', '.join(f'#{run_id}' for run_id in row['run ids'])})"


def _accuracy(row: pd.Series, reference: pd.Series) -> str:
    """The test macro-F1 difference with its interval, and its verdict, in one sentence."""
    verdict, covers = row["against the reference"], row["verdict covers"]
    if verdict == OTHER_DOCUMENTS or not verdict:
        return (f"not told: {row['name']} was {OTHER_DOCUMENTS} than {reference['name']}, so no difference is "
                "taken." if verdict == OTHER_DOCUMENTS else
                f"not told: the test predictions needed to compare {row['name']} with {reference['name']} are "
                "missing.")
    figures = (f"{row['name']} scores {row['F1 difference']:+.4f} test macro-F1 against {reference['name']}'s "
               f"{reference['test macro-F1']:.4f} (95% interval {row['difference 95% interval']})")
    if verdict.startswith(LOWER):
        return f"No. {figures}: lower beyond the noise of {covers.removesuffix(' only')}."
    if verdict.startswith(HIGHER):
        return f"Yes, and more. {figures}: higher beyond the noise of {covers.removesuffix(' only')}."
    detectable = row["detectable (±)"]
    return (f"No difference shown beyond the noise. {figures}; "
            f"{not_shown_words(detectable if _known(detectable) else None, int(row['seeds']))}.")


def _time_and_energy(row: pd.Series, reference: pd.Series, gas: str) -> str:
    """Training time as a factor, energy in Wh with whether the saving stands, CO2 in grams (`gas`: CO2e, or CO2
    where the summary was priced at a factor that counts CO2 alone)."""
    speedup, seconds, theirs = row["speedup (x)"], row["train time (s)"], reference["train time (s)"]
    if not _known(speedup):
        time = f"its training time cannot be set against {reference['name']}'s"
    elif speedup >= 1:
        time = (f"it trained {format_factor(speedup)} faster than {reference['name']} ({format_duration(seconds)} "
                f"against {format_duration(theirs)})")
    else:
        time = (f"it trained slower than {reference['name']}: {format_duration(seconds)} against "
                f"{format_duration(theirs)}, {format_factor(1 / speedup)} as long")
    if not _known(row["kWh"]) or not _known(row["energy saved (%)"]):
        return f"{time[0].upper()}{time[1:]}; its energy cannot be set against {reference['name']}'s."
    saved = row["energy saved (%)"]
    # past 90% a factor says more than a percentage that rounds to 100
    less = (f"{format_factor(reference['kWh'] / row['kWh'])} less energy" if saved > 90 and row["kWh"] > 0
            else f"{abs(saved):.0f}% {'less' if saved >= 0 else 'more'} energy")
    co2 = (f"; {significant(row['g CO2e'])} g {gas} against {significant(reference['g CO2e'])} g"
           if _known(row["g CO2e"]) and _known(reference["g CO2e"]) else "")
    return (f"{time[0].upper()}{time[1:]}, and used {format_energy(row['kWh'])} against "
            f"{format_energy(reference['kWh'])}: {less}, {row['energy saved, read as']}{co2}.")


def _sooner(row: pd.Series, reference: pd.Series, target: float) -> str:
    """Time to accuracy, and why its factor can differ from the one to the end of training."""
    reached, goal = row["time to target"], f"{target:.0%} of {reference['name']}'s best validation macro-F1"
    if not reached:
        return f"not known: no validation evaluation of {row['name']} or {reference['name']} to time it by."
    if reached.startswith("not reached"):
        seeds = reached.removeprefix("not reached").strip(" ()")
        return f"No: {row['name']} never reached {goal}" + (f" ({seeds})." if seeds else ".")
    factor, to_end = row["speedup to target (x)"], row["speedup (x)"]
    pace = (f"{format_factor(factor)} sooner than {reference['name']}" if factor >= 1
            else f"later than {reference['name']} ({format_factor(1 / factor)} as long")
    end = (f"{format_factor(to_end)} faster" if to_end >= 1 else f"{format_factor(1 / to_end)} as long") \
        if _known(to_end) else "not known"
    pace += f"; to the end of training: {end})" if factor < 1 else f" (to the end of training: {end})"
    why = ("Time to the target stops at that evaluation, whenever training stopped after it, so it can differ "
           "from time to the end")
    pretraining = row["pretraining (s)"]
    if _known(pretraining):
        why += (f"; both count {row['name']}'s topic-model pretraining ({format_duration(pretraining)}), a fixed "
                "cost paid before its first step that weighs more the sooner the target is reached")
    return f"{'Yes' if factor >= 1 else 'No'}: {row['name']} first reached {goal} after {reached}, {pace}. {why}."


def _cheapest(tfidf: pd.Series, reference: pd.Series, gas: str) -> str:
    """TF-IDF's figures in the same form as the cheaper model's."""
    accuracy = _accuracy(tfidf, reference)
    return f"{_name(tfidf)}: {accuracy[0].lower()}{accuracy[1:]} {_time_and_energy(tfidf, reference, gas)}"


def _use(rows: list[pd.Series]) -> str:
    """What classifying 1,000 documents costs with each model (its test pass)."""
    parts = [format_duration(row["s per 1k docs"])
             + (f" and {format_energy(row['kWh per 1k docs'])}" if _known(row["kWh per 1k docs"]) else "")
             + f" with {row['name']}" for row in rows if _known(row["s per 1k docs"])]
    return "classifying 1,000 documents takes " + "; ".join(parts) + "." if parts else \
        "not metered: no model's test pass was timed."


def verdict_card(summary: pd.DataFrame, target: float, gas: str = CO2E) -> VerdictCard:
    """The card for Compare's summary (compare_summary.summary_frame, its time to accuracy at `target`; its carbon
    figures priced at a factor that counts `gas`: studio/carbon.py)."""
    rows = [row for _, row in summary.iterrows()]
    reference = next((row for row in rows if row["reference"]), None)
    ours = next((row for row in rows if not row["reference"] and row["role"] != TFIDF_ROLE), None)
    tfidf = next((row for row in rows if not row["reference"] and row["role"] == TFIDF_ROLE), None)
    if reference is None:
        return VerdictCard("No verdict: choose runs with a BERT baseline among them, the reference the card "
                           "sets the cheaper model against.", [])
    if ours is None:
        return VerdictCard(f"No verdict: choose a run to set against {_name(reference)}, such as a TopicBERT run "
                           "queued with it.", [])
    seeds = int(ours["seeds"])
    over = (f"over {seeds} seeds, each against the reference's run of the same seed" if seeds > 1
            else "on one seed (another seed may score otherwise)")
    encoders = encoders_sentence((str(row["name"]), str(row["encoder"] or "")) for row in (ours, reference))
    title = f"{_name(ours)} against {_name(reference)}, {over}." + (f" ({encoders}.)" if encoders else "")
    lines = [Line(ACCURATE, _accuracy(ours, reference))]
    if ours["against the reference"] not in ("", OTHER_DOCUMENTS):
        lines += [Line(SAVES, _time_and_energy(ours, reference, gas)), Line(SOONER, _sooner(ours, reference, target))]
    if tfidf is not None:
        lines.append(Line(CHEAPEST, _cheapest(tfidf, reference, gas)))
    lines.append(Line(USE, _use([row for row in (ours, reference, tfidf) if row is not None])))
    return VerdictCard(title, lines)

