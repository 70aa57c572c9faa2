"""Compare: a TopicBERT run against its baselines: F1 and CO2 curves (priced where each run ran or at one
place), a summary table with intervals, measurement badges and the cost of classifying, when to stop,
where the topic branch helps, and F1 against CO2."""
import time
from types import ModuleType

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from topicbert.runs.store import Store
from topicbert.studio import (
    carbon,
    compare_choices,
    compare_curves,
    compare_summary,
    early_stop,
    figures,
    pareto_points,
    report,
    run_identity,
    run_settings,
    runs_table,
    topic_gains,
    units,
)
from topicbert.studio import topics as topic_views
from topicbert.studio.documents import DocumentsLink
from topicbert.studio.run_files import RunPredictions, load_predictions, no_texts, predictions_mtime
from topicbert.studio.text import escape
from topicbert.studio.trust import ENERGY_READING
from topicbert.studio.uncertainty import OTHER_DOCUMENTS, RunScores, describe_test_set, run_f1_interval, run_scores
from topicbert.studio.verdict_card import verdict_card
from widgets import existing_run, page_setup, show_verdict_card

COST_COLUMNS = ["kg_co2e", "kwh"]  # the Pareto plot's costs
SUMMARY_COLUMNS = {
    "run": st.column_config.TextColumn(width=170),
    "verdict covers": st.column_config.TextColumn(width=220),
    "against the reference": st.column_config.TextColumn(width=160, help="the verdict on the test macro-F1 "
                                                         "difference: higher or lower beyond the noise, or within it"),
    "F1 difference": st.column_config.NumberColumn(format="%+.4f", width=90,
                                                   help="test macro-F1 minus the reference's, seed by seed"),
    "difference 95% interval": st.column_config.TextColumn(width=150),
    "seeds": st.column_config.NumberColumn(width=55, help="runs that differ only by seed, taken together"),
    "test macro-F1": st.column_config.NumberColumn(format="%.4f", width=95),
    "F1 retained (%)": st.column_config.NumberColumn(format="%.1f", width=100),
    "energy": st.column_config.TextColumn(width=135, help="measured or estimated (each run's badge is below)"),
    "train time": st.column_config.TextColumn(width=95, help="mean over the row's seeds"),
    "speedup (x)": st.column_config.NumberColumn(format="%.2f", width=85, help="to the end of training"),
    "time to target": st.column_config.TextColumn(
        width=150, help="until validation macro-F1 first reached the target share of the reference's best (time to "
             "accuracy, as MLPerf Training measures it), everything the user waits for up to that evaluation counted"),
    "speedup to target (x)": st.column_config.NumberColumn(
        format="%.2f", width=85, help="the reference's time to the target over this row's"),
    "energy used": st.column_config.TextColumn(width=95, help="mean over the row's seeds"),
    "g CO2e": st.column_config.NumberColumn(format="%.3f", width=70),
    "energy saved (%)": st.column_config.NumberColumn(format="%.1f", width=85),
    "energy saved, read as": st.column_config.TextColumn(
        width=200, help="measured, or, where either run's energy is codecarbon's estimate, whether the saving lies "
             "beyond the error of the two estimates' ratio (the expander below says how it is bounded)"),
    "detectable (±)": st.column_config.NumberColumn(
        format="%.4f", help="the macro-F1 difference these seeds and test documents show beyond the noise 4 times in "
                            "5: a smaller true difference is likely to read as within noise; empty where the two "
                            "made the same prediction on every test document (no size can be given)"),
    "g CO2e/kWh": st.column_config.NumberColumn(
        format="%.0f", help="the carbon intensity the kWh are priced at: where the run ran, or the place chosen above "
                            "(the CSV names it)"),
    "time per 1k docs": st.column_config.TextColumn(
        help="the time to classify 1,000 documents with the finished model (its test pass)"),
    "energy per 1k docs": st.column_config.TextColumn(
        help="the energy to classify 1,000 documents with the finished model (its test pass)"),
}
# figures priced at a factor that counts CO2 alone are named g CO2 (studio/carbon.py), in the same formats
SUMMARY_COLUMNS |= {"g CO2": SUMMARY_COLUMNS["g CO2e"], "g CO2/kWh": SUMMARY_COLUMNS["g CO2e/kWh"]}
# the summary in tables narrow enough for a 1,400 px window beside the sidebar: the verdict, the scores, time,
# energy, and the cost of use
SUMMARY_TABLES = (["run", "against the reference", "F1 difference", "difference 95% interval", "detectable (±)",
                   "verdict covers"],
                  ["run", "seeds", "test macro-F1", "95% interval", "F1 retained (%)", "retained 95% interval"],
                  ["run", "train time (s)", "speedup (x)", "time to target", "speedup to target (x)"],
                  ["run", "energy", "kWh", "energy saved (%)", "energy saved, read as", "g CO2e"],
                  compare_summary.USE_COLUMNS)
ACCURACY_FORMAT = st.column_config.NumberColumn(format="%.3f", width=80)
# the per-topic table within 1,400 px with three models' accuracy beside the verdict
GAIN_WIDTHS = {"label": st.column_config.TextColumn(width=150), "documents": st.column_config.NumberColumn(width=75),
               "against the reference": st.column_config.TextColumn(width=200),
               "only it right": st.column_config.NumberColumn(width=70),
               "only the reference right": st.column_config.NumberColumn(width=90)}
GRIDS = carbon.price_grids()
WHERE_RUN = None  # the pricing choice: each run at its own country's intensity, as metered

# the energy's caveat, said once here and once in the report
COST_NOTE = ("Retained F1, speedup and energy saved are against the reference baseline. Training time and energy stop "
             "when the best model is chosen; classifying 1,000 documents is the finished model's test pass, metered "
             "apart by the worker. CO2 is priced at the carbon intensity chosen above, or where each run ran. Energy "
             "is measured where codecarbon read hardware counters (RAPL, NVML) and estimated from its power model "
             "elsewhere; each run's badge says why:")

page_setup("Compare")
shown_figures: list = []  # every chart on the page, in order: the report draws them again


def chart(where: DeltaGenerator | ModuleType, figure: go.Figure, key: str) -> None:
    """`figure` in `where`: a column, or `st` for the page's full width."""
    where.plotly_chart(figure, key=key)
    shown_figures.append(figure)


@st.cache_data(max_entries=64, show_spinner="Loading test predictions...")
def predictions(run_dir: str | None, mtime: float) -> RunPredictions | None:
    return load_predictions(run_dir, read_texts=no_texts)  # labels and predictions: the texts are not shown


def predictions_of(runs: list[dict]) -> dict[int, RunPredictions | None]:
    """Each run's test predictions, read again only when its file changes."""
    return {run["id"]: predictions(run["run_dir"], predictions_mtime(run["run_dir"])) for run in runs}


@st.cache_data(max_entries=10_000, show_spinner="Bootstrapping test macro-F1...")
def f1_interval(run_dir: str | None, mtime: float) -> tuple[float, float] | None:
    # a pair of floats a run: the Pareto plot of hundreds of runs keeps all of them, not their predictions
    return run_f1_interval(load_predictions(run_dir, read_texts=no_texts))


def f1_intervals_of(runs: list[dict]) -> dict[int, tuple[float, float] | None]:
    """Each run's 95% interval of test macro-F1, bootstrapped again only when its predictions change."""
    return {run["id"]: f1_interval(run["run_dir"], predictions_mtime(run["run_dir"])) for run in runs}


@st.cache_data(max_entries=1_000, show_spinner="Bootstrapping test macro-F1...")
def scores(run_dir: str | None, mtime: float) -> RunScores | None:
    # a run's F1 on each of the bootstrap's resamples: what the summary's intervals over seeds are made of
    return run_scores(load_predictions(run_dir, read_texts=no_texts))


def scores_of(runs: list[dict]) -> dict[int, RunScores | None]:
    return {run["id"]: scores(run["run_dir"], predictions_mtime(run["run_dir"])) for run in runs}


@st.cache_data(max_entries=16, show_spinner="Scoring each topic's documents...")
def gains_of(topic_run: int, reference: int | None, runs: tuple[tuple[int, str | None, float], ...],
             names: tuple[tuple[int, str], ...], topic_labels: tuple[str, ...]) -> tuple[pd.DataFrame | None, str]:
    # again only when a run's predictions change
    loaded = {run_id: predictions(run_dir, mtime) for run_id, run_dir, mtime in runs}
    return topic_gains.gains_against(topic_run, reference, loaded, dict(names), topic_labels)


st.title("Compare")
card_slot = st.container()  # filled once the summary is known: the answer comes before the controls behind it

with Store() as store:
    done = run_identity.finished_runs(store)
    if not done:
        st.info("No finished runs yet. Queue a run with its baselines on the Train page, or the demo on the home page.")
        st.stop()
    labels = {run["id"]: run_identity.run_label(run) for run in done}
    group = compare_choices.default_runs(store)
    chosen = st.multiselect("Runs", list(labels), default=group or [done[0]["id"]],
                            format_func=labels.__getitem__, key="compare_runs",
                            help="by default the newest TopicBERT run with its BERT-512 baseline and TF-IDF reference")
    if not chosen:
        st.info("Choose at least one run.")
        st.stop()
    left, middle, right = st.columns([4, 2, 4])
    baselines = compare_choices.baseline_choices(store, chosen)
    reference_choices: list[int | None] = [*baselines] or [None]
    baseline_id = left.selectbox("Reference for retained F1, speedup and energy saved", reference_choices,
                                 format_func=lambda i: labels[i] if i is not None else "no baseline among the runs",
                                 key="compare_baseline")
    grid_key = right.selectbox(
        "Price CO2 at", [WHERE_RUN, *GRIDS], key="compare_grid",
        format_func=lambda k: "where each run ran (as metered)" if k is WHERE_RUN else GRIDS[k].label,
        help="every run's stored kWh priced at one place's carbon intensity (codecarbon's own table), so runs "
             "made in different places compare fairly; the curves, tables and CSV files follow")
    grid = GRIDS[grid_key] if grid_key is not WHERE_RUN else None
    target = middle.number_input(
        "Target (% of the reference's best validation F1)", 50.0, 100.0, 100 * compare_summary.DEFAULT_TARGET,
        0.5, key="compare_target", help="time to accuracy: how long each run took to first reach this share of the "
                                   "reference's best validation macro-F1 on the same seed") / 100
    f1 = compare_curves.f1_curves(store, chosen)
    co2 = compare_curves.co2_curves(store, chosen, grid)
    pretrained = compare_curves.pretraining_ends(store, chosen, grid)
    reused_topic_models = compare_curves.topic_model_reuse(store, chosen)
    replay = early_stop.replay_frame(store, chosen, grid)
    runs = {run["id"]: run for run in done if run["id"] in chosen}
    loaded = predictions_of(list(runs.values()))
    reference_runs = [run for run in done if baseline_id is not None and run["id"] == baseline_id]
    summary = compare_summary.summary_frame(store, chosen, baseline_id,
                                            scores_of(list(runs.values()) + reference_runs), grid, target)
    test_sets = pareto_points.test_sets(store)
    corpus_names = {row["path"]: row["name"] for row in store.list_corpora() if row["path"]}
    reference = existing_run(store, baseline_id if baseline_id is not None else chosen[0])
    reference_set = run_identity.test_set_of(reference)
    reference_seeds = compare_choices.seeds_beside(store, chosen, reference)
    badges = {run_identity.run_label(run): runs_table.run_badge(store, run) for run in runs.values()}
    topic_names = {i: topic_views.topic_labels(store.get_topics(i)) for i, run in runs.items()
                   if run_identity.role_of(run) == run_identity.TOPICBERT_ROLE}

card = verdict_card(summary, target, carbon.gas(grid))
with card_slot:
    show_verdict_card(card)

left, right = st.columns(2)
chart(left, figures.visualize_f1_curves(f1, "epoch"), "compare_f1_epoch")
chart(right, figures.visualize_f1_curves(f1, "wall_seconds", pretrained), "compare_f1_time")
chart(st, figures.visualize_co2_curves(co2, pretrained, carbon.gas(grid)), "compare_co2")
if not pretrained.empty:
    st.caption("Dotted lines and triangles: where each TopicBERT run's topic-model pretraining ended, the fixed "
               "cost it pays before its first step.")
for sentence in reused_topic_models:
    st.caption(escape(sentence))

st.subheader("Summary")
# what each run scored, then what it cost; every run here is done, and the badge's reason is a sentence: both stay
# in the CSV, out of the tables
shown = carbon.shown(units.readable(summary), grid)
for columns in SUMMARY_TABLES:
    st.dataframe(shown[carbon.shown_columns(units.readable_columns(columns), grid)], hide_index=True,
                 column_config=SUMMARY_COLUMNS, placeholder="–")  # no baseline chosen: no ratios
others = summary.loc[summary["against the reference"] == OTHER_DOCUMENTS, "run"].tolist()
if others:
    st.warning(escape(f"{', '.join(others)}: tested on other documents than the reference, so no ratio or "
                      "interval against it is given."))
with st.expander("How to read these figures: seeds, intervals, time and energy"):
    st.caption("Runs that differ only by seed share a row (queue several seeds at once on the Train page): its "
               "test macro-F1 is their mean, and its 95% interval covers the seeds and their test documents "
               "(Student's t over the seeds, the documents' shared variance added: few seeds give wide intervals, "
               "honestly). A row of one run covers its test documents alone and says nothing of another seed. F1 "
               "retained and the "
               "verdict pair each seed with the reference's on the same documents; a difference the interval does not "
               "show either way is within noise, with the smallest difference that could have shown. Runs are compared "
               "only when they were tested on the same documents (same corpus, seed and limits): "
               + escape(f"the reference's are {describe_test_set(reference_set, corpus_names, reference_seeds)}."))
    caveats = [COST_NOTE, *(f"{run}: {badge.label}. {badge.reason}" for run, badge in badges.items()), ENERGY_READING]
    for caveat in caveats:
        st.caption(escape(caveat))
st.download_button("Download the summary (CSV)", carbon.shown(summary, grid).to_csv(index=False),
                   file_name="topicbert-compare.csv", mime="text/csv", key="compare_download_summary")

st.subheader("When to stop")
if replay.empty:
    st.info("None of these runs has an evaluation recorded.")
else:
    chart(st, figures.visualize_early_stop(replay, carbon.gas(grid)), "compare_early_stop")
    for line in early_stop.replays(replay, carbon.gas(grid)):
        st.markdown(escape(line.sentence))
    st.caption("Replayed from each run's stored curves: validation macro-F1 and the CO2 and time spent up to each "
               "evaluation. The knee is where the curve bends (Kneedle): past it, F1 rises more slowly for the "
               "CO2 spent; a curve with no clear bend has its best evaluation as its knee. Each run keeps its best "
               "evaluation's model, so the knee is set against that one, not the last evaluation. Validation F1 "
               "carries no interval here (the validation predictions are not kept): a point or two between epochs "
               "may be noise.")

st.subheader("Where the topic branch helps")
gains = None
if not topic_names:
    st.info("Choose a finished TopicBERT run to see, topic by topic, where it gains or loses against the reference.")
else:
    topic_run = st.selectbox("TopicBERT run", list(topic_names), format_func=labels.__getitem__,
                             key="compare_topic_run")
    gains, note = gains_of(topic_run, baseline_id,
                           tuple((i, run["run_dir"], predictions_mtime(run["run_dir"])) for i, run in runs.items()),
                           tuple((i, labels[i]) for i in runs), tuple(topic_names[topic_run]))
    if gains is None:
        st.info(escape(note))
    else:
        st.plotly_chart(figures.visualize_topic_gains(gains, labels[topic_run], labels[baseline_id]),
                        key="compare_topic_gains")
        picked = st.dataframe(gains, hide_index=True, on_select="rerun", selection_mode="single-row",
                              key="compare_topic_rows", column_order=topic_gains.verdict_first(gains),
                              column_config={**dict.fromkeys(gains.select_dtypes("float").columns, ACCURACY_FORMAT),
                                             **GAIN_WIDTHS,
                                             "adjusted p": st.column_config.NumberColumn(format="%.3g", width=75)})
        st.caption(topic_gains.verdict_rule(gains))  # the Studio's own words: no user text in them
        if picked.selection.rows:
            topic = int(gains.iloc[picked.selection.rows[0]]["topic"])
            st.switch_page("app_pages/6_Documents.py",
                           query_params=DocumentsLink(topic_run, topic=topic).query_params())

st.subheader("Macro-F1 against cost, every finished run on one test set")
a, b = st.columns([3, 1])
keys = list(test_sets)
test_set = a.selectbox("Test documents", keys, index=keys.index(reference_set) if reference_set in keys else 0,
                       format_func=lambda k: f"{describe_test_set(k, corpus_names)} ({test_sets[k]} runs)",
                       key="compare_test_set", help="runs tested on other documents cannot share one plot")
cost = b.selectbox("Cost", COST_COLUMNS, format_func=lambda c: "kWh" if c == "kwh" else carbon.grams(grid),
                   key="compare_cost")
with Store() as store:
    in_set = [run for run in run_identity.finished_runs(store) if run_identity.test_set_of(run) == test_set]
    front = pareto_points.pareto_frame(store, test_set, f1_intervals_of(in_set), grid)
chart(st, figures.visualize_pareto(front, cost=cost, gas=carbon.gas(grid)), "compare_pareto")
left_out = sum(test_sets.values()) - test_sets.get(test_set, 0)
st.caption("Filled markers lie on the Pareto front: no other run has higher test macro-F1 for less. Bars are each "
           "run's 95% interval on its own; whether two runs differ beyond the noise is the paired test in the summary."
           + (f" {left_out} finished run(s) tested on other documents are left out; choose their test set above."
              if left_out else ""))
st.download_button("Download these runs (CSV)", carbon.shown(front, grid).to_csv(index=False),
                   file_name="topicbert-runs.csv", mime="text/csv", key="compare_download_runs")

settings = run_settings.settings_frame(list(runs.values()), corpus_names)


def report_html() -> str:
    """Made on the click, not on every run of the page: plotly's JavaScript alone is megabytes."""
    tables = [column for columns in SUMMARY_TABLES for column in units.readable_columns(columns)]
    return report.compare_report(card, shown_figures, shown[carbon.shown_columns(list(dict.fromkeys(tables)), grid)],
                                 gains, settings, caveats, time.strftime("Made on %Y-%m-%d at %H:%M"))


# under the card, where the answer is: what a person attaches to a review or a pull request
card_slot.download_button("Download report (HTML)", report_html, file_name="topicbert-report.html",
                          mime="text/html", key="compare_download_report",
                          help="one file, opened offline: the card, these curves (interactive), the summary, the "
                               "per-topic view, the runs' settings and the energy's caveats")
