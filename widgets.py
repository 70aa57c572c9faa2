"""Streamlit widgets that app.py and several pages show. Not in pages/, where Streamlit looks for
pages, and not in topicbert/, which never imports streamlit."""
from pathlib import Path

import streamlit as st

from topicbert.runs.store import Store
from topicbert.studio import frames

STYLE = Path(__file__).parent / "assets" / "style.css"

# how the runs table (Home and Runs) shows its numbers
RUN_COLUMNS = {"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
               "val macro-F1": st.column_config.NumberColumn(format="%.4f"),
               "kWh": st.column_config.NumberColumn(format="%.6f"),
               "g CO2e": st.column_config.NumberColumn(format="%.3f")}


def page_setup(title: str) -> None:
    """Every page's tab title, icon, width and stylesheet."""
    st.set_page_config(page_title=f"{title} · TopicBERT Studio" if title else "TopicBERT Studio", page_icon="🌱",
                       layout="wide")
    st.html(STYLE)


def choose_topicbert_run(store: Store, what: str, key: str) -> dict:
    """A select box of finished TopicBERT runs; stops the page with a word when there is none."""
    runs = [run for run in frames.finished_runs(store) if run["variant"] == "topicbert"]
    if not runs:
        st.info(f"No finished TopicBERT run yet: {what} appear here once it ends.")
        st.stop()
    labels = {run["id"]: frames.run_label(run) for run in runs}
    run_id = st.selectbox("TopicBERT run", list(labels), format_func=labels.get, key=key)
    return store.get_run(run_id)
