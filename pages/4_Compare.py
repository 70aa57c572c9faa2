"""Compare: a TopicBERT run against its baselines: F1 curves, CO2, a summary table with intervals, F1 against CO2."""
import streamlit as st

from topicbert.runs.store import Store
from topicbert.studio import figures, frames
from topicbert.studio.run_files import RunPredictions, load_predictions, no_texts, predictions_mtime
from topicbert.studio.text import escape
from topicbert.studio.uncertainty import OTHER_DOCUMENTS, describe_test_set, run_f1_interval
from widgets import page_setup

COST_COLUMNS = {"kg_co2e": "g CO2e", "kwh": "kWh"}
SUMMARY_COLUMNS = {
    "test macro-F1": st.column_config.NumberColumn(format="%.4f"),
    "F1 retained (%)": st.column_config.NumberColumn(format="%.1f"),
    "train time (s)": st.column_config.NumberColumn(format="%.0f"),
    "speedup (x)": st.column_config.NumberColumn(format="%.2f"),
    "kWh": st.column_config.NumberColumn(format="%.6f"),
    "g CO2e": st.column_config.NumberColumn(format="%.3f"),
    "energy saved (%)": st.column_config.NumberColumn(format="%.1f"),
}

page_setup("Compare")


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


st.title("Compare")

with Store() as store:
    done = frames.finished_runs(store)
    if not done:
        st.info("No finished runs yet. Queue a run with its baselines on the Train page, or the demo on the home page.")
        st.stop()
    labels = {run["id"]: frames.run_label(run) for run in done}
    group = frames.default_runs(store)
    chosen = st.multiselect("Runs", list(labels), default=group or [done[0]["id"]],
                            format_func=labels.get, key="compare_runs",
                            help="by default the newest TopicBERT run with its BERT-512 baseline and TF-IDF reference")
    if not chosen:
        st.info("Choose at least one run.")
        st.stop()
    baselines = frames.baseline_choices(store, chosen)
    baseline_id = st.selectbox("Reference for retained F1, speedup and energy saved", baselines or [None],
                               format_func=lambda i: labels[i] if i is not None else "no baseline among the runs",
                               key="compare_baseline")
    f1 = frames.f1_curves(store, chosen)
    co2 = frames.co2_curves(store, chosen)
    loaded = predictions_of([run for run in done if run["id"] in chosen])
    summary = frames.summary_frame(store, chosen, baseline_id, loaded)
    test_sets = frames.test_sets(store)
    corpus_names = {row["path"]: row["name"] for row in store.list_corpora() if row["path"]}
    reference = store.get_run(baseline_id if baseline_id is not None else chosen[0])
    reference_set = frames.test_set_of(reference)

left, right = st.columns(2)
left.plotly_chart(figures.visualize_f1_curves(f1, "epoch"), key="compare_f1_epoch")
right.plotly_chart(figures.visualize_f1_curves(f1, "wall_seconds"), key="compare_f1_time")
st.plotly_chart(figures.visualize_co2_curves(co2), key="compare_co2")

st.subheader("Summary")
# every run here is done, and how each was metered is a sentence: both stay in the CSV, out of the table
st.dataframe(summary.drop(columns=["status", "metering"]), hide_index=True, column_config=SUMMARY_COLUMNS,
             placeholder="–")  # no baseline chosen: no ratios
st.caption("Test macro-F1 comes with a 95% bootstrap interval over the run's test documents; F1 retained with a "
           "paired one (both runs scored on the same resampled documents). A difference whose interval holds 0 "
           "is within noise. Runs are compared only when they were tested on the same documents (same corpus, "
           "seed and limits): "
           + escape(f"the reference's are {describe_test_set(reference_set, corpus_names)}."))
others = summary.loc[summary["against the reference"] == OTHER_DOCUMENTS, "run"].tolist()
if others:
    st.warning(escape(f"{', '.join(others)}: tested on other documents than the reference, so no ratio or "
                      "interval against it is given."))
st.caption("Retained F1, speedup and energy saved are against the reference baseline. Energy is measured where "
           "codecarbon read hardware counters (RAPL, NVML) and estimated from its power model elsewhere:")
for run, how in zip(summary["run"], summary["metering"]):
    st.caption(escape(f"{run}: {how or 'no energy reading'}"))
st.download_button("Download the summary (CSV)", summary.to_csv(index=False), file_name="topicbert-compare.csv",
                   mime="text/csv", key="compare_download_summary")

st.subheader("Macro-F1 against cost, every finished run on one test set")
a, b = st.columns([3, 1])
keys = list(test_sets)
test_set = a.selectbox("Test documents", keys, index=keys.index(reference_set) if reference_set in keys else 0,
                       format_func=lambda k: f"{describe_test_set(k, corpus_names)} ({test_sets[k]} runs)",
                       key="compare_test_set", help="runs tested on other documents cannot share one plot")
cost = b.selectbox("Cost", list(COST_COLUMNS), format_func=COST_COLUMNS.get, key="compare_cost")
with Store() as store:
    in_set = [run for run in frames.finished_runs(store) if frames.test_set_of(run) == test_set]
    front = frames.pareto_frame(store, test_set, f1_intervals_of(in_set))
st.plotly_chart(figures.visualize_pareto(front, cost=cost), key="compare_pareto")
left_out = sum(test_sets.values()) - test_sets.get(test_set, 0)
st.caption("Filled markers lie on the Pareto front: no other run has higher test macro-F1 for less. Bars are each "
           "run's 95% interval on its own; whether two runs differ beyond the noise is the paired test in the summary."
           + (f" {left_out} finished run(s) tested on other documents are left out; choose their test set above."
              if left_out else ""))
st.download_button("Download these runs (CSV)", front.to_csv(index=False), file_name="topicbert-runs.csv",
                   mime="text/csv", key="compare_download_runs")
