"""Compare: a TopicBERT run against its baseline: F1 curves, CO2, a summary table, F1 against CO2."""
import streamlit as st

from topicbert.runs.store import Store
from topicbert.studio import figures, frames
from topicbert.studio.text import escape
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

st.title("Compare")

with Store() as store:
    done = frames.finished_runs(store)
    if not done:
        st.info("No finished runs yet. Queue a pair on the Train page, or the demo pair on the home page.")
        st.stop()
    labels = {run["id"]: frames.run_label(run) for run in done}
    pair = frames.default_pair(store)
    chosen = st.multiselect("Runs", list(labels), default=list(pair) if pair else [done[0]["id"]],
                            format_func=labels.get, key="compare_runs",
                            help="by default the newest TopicBERT run and its BERT-512 baseline")
    if not chosen:
        st.info("Choose at least one run.")
        st.stop()
    baselines = frames.baseline_choices(store, chosen)
    baseline_id = st.selectbox("Reference for retained F1, speedup and energy saved", baselines or [None],
                               format_func=lambda i: labels[i] if i is not None else "no baseline among the runs",
                               key="compare_baseline")
    f1 = frames.f1_curves(store, chosen)
    co2 = frames.co2_curves(store, chosen)
    summary = frames.summary_frame(store, chosen, baseline_id)
    corpus_id = store.get_run(chosen[0])["corpus_id"]
    front = frames.pareto_frame(store, corpus_id)

left, right = st.columns(2)
left.plotly_chart(figures.visualize_f1_curves(f1, "epoch"), key="compare_f1_epoch")
right.plotly_chart(figures.visualize_f1_curves(f1, "wall_seconds"), key="compare_f1_time")
st.plotly_chart(figures.visualize_co2_curves(co2), key="compare_co2")

st.subheader("Summary")
# every run here is done, and how each was metered is a sentence: both stay in the CSV, out of the table
st.dataframe(summary.drop(columns=["status", "metering"]), hide_index=True, column_config=SUMMARY_COLUMNS,
             placeholder="–")  # no baseline chosen: no ratios
st.caption("Retained F1, speedup and energy saved are against the reference baseline. Energy is measured where "
           "codecarbon read hardware counters (RAPL, NVML) and estimated from its power model elsewhere:")
for run, how in zip(summary["run"], summary["metering"]):
    st.caption(escape(f"{run}: {how or 'no energy reading'}"))
st.download_button("Download the summary (CSV)", summary.to_csv(index=False), file_name="topicbert-compare.csv",
                   mime="text/csv", key="compare_download_summary")

st.subheader("Macro-F1 against cost, every finished run on this corpus")
cost = st.selectbox("Cost", list(COST_COLUMNS), format_func=COST_COLUMNS.get, key="compare_cost")
st.plotly_chart(figures.visualize_pareto(front, cost=cost), key="compare_pareto")
st.caption("Filled markers lie on the Pareto front: no other run has higher test macro-F1 for less.")
st.download_button("Download these runs (CSV)", front.to_csv(index=False), file_name="topicbert-runs.csv",
                   mime="text/csv", key="compare_download_runs")
