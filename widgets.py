"""Streamlit widgets that app.py and several pages show. Not in app_pages/, whose every file is a page,
and not in topicbert/, which never imports streamlit."""
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from topicbert.runs import storage
from topicbert.runs.store import Store
from topicbert.studio import run_identity, storage_tables
from topicbert.studio.text import escape
from topicbert.studio.verdict_card import VerdictCard

STYLE = Path(__file__).parent / "assets" / "style.css"

# how tables show disk use, and the runs table (Home and Runs) its numbers
DISK_COLUMNS = {storage_tables.DISK_COLUMN: st.column_config.NumberColumn(format="%.1f")}
RUN_COLUMNS = {"id": st.column_config.NumberColumn(width=40), "run": st.column_config.TextColumn(width=115),
               "status": st.column_config.TextColumn(width=75), "ETA": st.column_config.TextColumn(width=60),
               "baseline": st.column_config.TextColumn(width=65),
               "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent",
                                                         width=80),
               "val macro-F1": st.column_config.NumberColumn(
                   "validation macro-F1", format="%.4f", width=115,
                   help="validation macro-F1 of the model the run keeps: its best evaluation so far, not its latest. "
                        "Compare's verdicts are on the test documents, which chose nothing: the two may rank models "
                        "differently"),
               # wide enough for "partly measured, shared" and "cuda:1 on gpu-node-2, bf16" (auto widths cut them),
               # narrow enough for a 1,400 px window beside the sidebar
               "energy used": st.column_config.TextColumn(width=80),
               "g CO2e": st.column_config.NumberColumn(format="%.3f", width=60),
               "energy": st.column_config.TextColumn(width=140),
               "device": st.column_config.TextColumn(width=115),
               storage_tables.DISK_COLUMN: st.column_config.NumberColumn(format="%.1f", width=65)}
# under every runs table: why its F1 may not rank the models as Compare does
VALIDATION_NOTE = ("Validation macro-F1 is what each run picked its best epoch by; Compare's verdicts are on the test "
                   "documents, which picked nothing, so the two may rank models differently.")


def page_setup(title: str) -> None:
    """Every page's tab title, icon, width and stylesheet."""
    st.set_page_config(page_title=f"{title} · TopicBERT Studio" if title else "TopicBERT Studio", page_icon="🌱",
                       layout="wide")
    st.html(STYLE)


def show_verdict_card(card: VerdictCard) -> None:
    """The card in a frame of its own (key compare_card, which the browser test finds): its title, then each
    question in bold with its answer. Run names come from users, so every sentence is escaped."""
    with st.container(border=True, key="compare_card"):
        st.markdown(escape(card.title))
        for line in card.lines:
            st.markdown(f"**{escape(line.question)}** {escape(line.answer)}")


def choose_topicbert_run(store: Store, what: str, key: str, preselect: int | None = None) -> dict:
    """A select box of finished TopicBERT runs (`preselect` chosen, if it is one); stops the page with a
    word when there is none."""
    runs = [run for run in run_identity.finished_runs(store) if run["variant"] == "topicbert"]
    if not runs:
        st.info(f"No finished TopicBERT run yet: {what} appear here once it ends.")
        st.stop()
    labels = {run["id"]: run_identity.run_label(run) for run in runs}
    if preselect in labels:
        st.session_state[key] = preselect
    run_id = st.selectbox("TopicBERT run", list(labels), format_func=labels.__getitem__, key=key)
    return existing_run(store, run_id)


def existing_run(store: Store, run_id: int) -> dict:
    """The run's row; stops the page with a word when the run is gone (deleted in another tab since it was
    listed)."""
    run = store.get_run(run_id)
    if run is None:
        st.info(f"Run {run_id} was deleted since this page listed it.")
        st.stop()
    return run


def _confirmed(label: str, target: int, what: str, key: str, where: DeltaGenerator, disabled: bool,
               help: str) -> bool:
    """A button (in the container `where`) that asks once more, below it: True on the click that
    confirms. The question stays only while `target` is the one chosen."""
    asking = f"{key}_asking"
    if where.button(label, key=key, disabled=disabled, help=help):
        st.session_state[asking] = target
    if st.session_state.get(asking) != target:
        return False
    st.warning(escape(f"Delete {what} for good? Its files and its rows in the store go, and cannot come back."))
    answers = st.container(horizontal=True)
    if answers.button("Delete for good", key=f"{key}_yes", type="primary"):
        st.session_state[asking] = None
        return True
    if answers.button("Keep it", key=f"{key}_keep"):
        st.session_state[asking] = None
        st.rerun()
    return False


def delete_button(label: str, target: int, what: str, delete: Callable[[], int], key: str, where: DeltaGenerator,
                  disabled: bool = False, help: str = "", forget: Callable[[], None] = lambda: None) -> None:
    """Delete `target` (`delete()` returns the bytes freed) once the person confirms; a refusal
    (StorageError) shows as an error. After a delete, `forget()` clears what the page cached, and
    the page runs again."""
    if not _confirmed(label, target, what, key, where, disabled, help):
        return
    try:
        freed = delete()
    except storage.StorageError as error:
        st.error(escape(error))
        return
    forget()
    st.toast(f"Deleted {what}: {storage.format_bytes(freed)} freed.")
    st.rerun()
