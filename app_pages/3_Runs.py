"""Runs: a live table of every run with its disk use; cancel, resume, delete, and each run's error and log; the
prediction jobs, with their progress and energy, cancel and resume."""
from typing import Literal

import streamlit as st

from topicbert.runs import services, storage
from topicbert.runs.processes import log_tail
from topicbert.runs.store import ACTIVE, RESUMABLE, Store
from topicbert.studio import predict_job, run_identity, run_settings, runs_table, units
from topicbert.studio.text import escape
from widgets import RUN_COLUMNS, VALIDATION_NOTE, delete_button, existing_run, page_setup

REFRESH_SECONDS = 3
BADGE_COLORS: dict[str, Literal["green", "blue", "orange"]] = {"measured": "green", "partly measured": "blue",
                                                                "estimated": "orange"}
SIZES_SECONDS = 30  # disk use is walked at most this often: it changes slowly

page_setup("Runs")

st.title("Runs")


@st.cache_data(ttl=SIZES_SECONDS, show_spinner=False)
def run_sizes(db_path: str, run_ids: tuple[int, ...]) -> dict[int, int]:
    """Keyed by the runs listed too: a new run shows its size at once, a growing one within the ttl."""
    with Store(db_path) as store:
        return storage.run_disk_use(store)


@st.fragment(run_every=REFRESH_SECONDS)
def live_table() -> None:
    # only this part reruns every few seconds; a fresh connection each time (threads differ)
    with Store() as store:
        listed = tuple(run["id"] for run in store.run_choices(limit=200))
        frame = runs_table.runs_frame(store, limit=200, disk=run_sizes(str(store.path), listed))
    if frame.empty:
        st.info("No runs yet: queue one on the Train page, or the demo on the home page.")
    else:
        st.dataframe(units.readable(frame), hide_index=True, column_config=RUN_COLUMNS,
                     placeholder="–")  # "–": not measured yet
        st.caption(VALIDATION_NOTE)


@st.fragment(run_every=REFRESH_SECONDS)
def run_detail() -> None:
    with Store() as store:
        choices = store.run_choices(limit=200)  # names and statuses only: no run's JSON decoded here
        if not choices:
            return
        labels = {run["id"]: f"{run_identity.run_label(run)} ({run['status']})" for run in choices}
        run_id = st.selectbox("Run", list(labels), format_func=labels.__getitem__, key="runs_selected")
        run = existing_run(store, run_id)
        buttons = st.container(horizontal=True)  # side by side, not spread over columns
        if buttons.button("Cancel", key="runs_cancel", disabled=run["status"] not in ACTIVE,
                          help="stop a queued or running run; its processes end within seconds"):
            services.cancel_run(store, run_id)
            run = existing_run(store, run_id)
        if buttons.button("Resume", key="runs_resume", disabled=run["status"] not in RESUMABLE,
                          help="queue an interrupted, cancelled or failed run again, from its last checkpoint"):
            services.resume_run(store, run_id)
            run = existing_run(store, run_id)
        active = run["status"] in ACTIVE
        what = f"run {run_identity.run_label(run)} ({storage.format_bytes(storage.path_bytes(run['run_dir']))})"
        delete_button("Delete", run_id, what, lambda: storage.delete_run(store, run_id), key="runs_delete",
                      where=buttons, disabled=active,
                      help="cancel it first" if active else "its files and its rows in the store",
                      forget=run_sizes.clear)
        badge = runs_table.run_badge(store, run)
        settings = run_settings.settings_frame([run], corpus_names(store))
    # where a resume would start: news while a run can still be resumed, not once it is done
    resumable_from = run["checkpoint_step"] if run["status"] != "done" else None
    st.text(f"Status: {run['status']}" + (f", checkpoint at step {resumable_from}" if resumable_from else ""))
    if run["device"]:
        st.text(f"Where: {services.placement_text(run)}")
    st.badge(f"energy {badge.label}", color=BADGE_COLORS.get(badge.label.split(",")[0], "gray"))
    st.caption(escape(badge.reason))
    with st.expander("Settings"):
        st.dataframe(run_settings.as_list(settings), hide_index=True)
    if run["error"]:
        st.subheader("Error")
        st.code(run["error"], language=None, wrap_lines=True)
    with st.expander("Log (last lines)", expanded=run["status"] in ("running", "failed")):
        log = log_tail(run["log_path"])
        st.code(log or "(no log yet)", language=None, wrap_lines=True)


def corpus_names(store: Store) -> dict[str, str]:
    return {row["path"]: row["name"] for row in store.list_corpora() if row["path"]}


def side_by_side() -> None:
    """Runs picked together, with only the settings in which they differ (as MLflow's run comparison shows)."""
    with Store() as store:
        choices = {run["id"]: run_identity.run_label(run) for run in store.run_choices(limit=200)}
        picked = st.multiselect("Runs", list(choices), format_func=choices.__getitem__, key="runs_side_by_side",
                                help="two or more runs: the settings in which they differ")
        if len(picked) < 2:
            st.caption("Pick two or more runs to see the settings in which they differ.")
            return
        differing = run_settings.differences(run_settings.settings_frame(run_identity.existing_runs(store, picked),
                                                                         corpus_names(store)))
    if differing.shape[1] == 1:
        st.info("These runs share every setting listed here (corpus, preset, encoder, epochs, learning rate, batch "
                "size, seed, limits, mode, topic model).")
    else:
        st.dataframe(differing, hide_index=True)


@st.fragment(run_every=REFRESH_SECONDS)
def jobs() -> None:
    """Files classified in the background (the Classify page's uploads, `predict --queue`)."""
    with Store() as store:
        frame = predict_job.jobs_frame(store)
        if frame.empty:
            st.caption("No prediction jobs yet: upload a file on the Classify page to queue one.")
            return
        st.dataframe(frame, hide_index=True, placeholder="–", column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent")})
        statuses = dict(zip(frame["job"], frame["status"], strict=True))
        job_id = st.selectbox("Job", list(statuses), format_func=lambda j: f"job {j} ({statuses[j]})",
                              key="runs_job")
        buttons = st.container(horizontal=True)
        if buttons.button("Cancel job", key="runs_job_cancel", disabled=statuses[job_id] not in ACTIVE,
                          help="stop it; the chunks it finished are kept for a resume"):
            services.cancel_job(store, job_id)
            st.rerun()
        if buttons.button("Resume job", key="runs_job_resume", disabled=statuses[job_id] not in RESUMABLE,
                          help="queue it again: it starts at its first chunk not done"):
            services.resume_job(store, job_id)
            services.ensure_worker(store)
            st.rerun()
        job = store.get_job(job_id)
    if job is not None and job["error"]:
        st.code(job["error"], language=None, wrap_lines=True)


live_table()
st.subheader("One run")
run_detail()
st.subheader("Prediction jobs")
jobs()
st.subheader("Settings side by side")
side_by_side()
