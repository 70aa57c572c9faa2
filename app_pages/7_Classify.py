"""Classify: a finished run's model on a pasted text: its label, each class's probability, its topic mixture, and
what the run's BERT-512 baseline says of the same text; or on an uploaded file, queued as a prediction job whose
CSV downloads when it is done."""
from pathlib import Path

import streamlit as st

from topicbert.config import UserError
from topicbert.runs import services
from topicbert.runs.store import Store
from topicbert.studio import classify, figures, predict_job
from topicbert.studio.text import escape
from widgets import page_setup

page_setup("Classify")
TEXT_SHOWN = 2000  # characters of the pasted text shown back
REFRESH_SECONDS = 3


# one model a run, loaded once and shared by every session: the first text waits for the load, later ones do not
@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def model(run_id: int) -> classify.Classifier:
    with Store() as store:
        return classify.load_classifier(run_id, store=store)


st.title("Classify")
with Store() as store:
    labels, default = classify.classify_choices(store)
    if default is None:
        st.info("No finished run yet: once one ends, its model classifies your texts here.")
        st.stop()
    run_id = st.selectbox("Run", list(labels), index=list(labels).index(default), format_func=labels.__getitem__,
                          key="classify_run")
    baseline_id = classify.baseline_of(store, run_id)



@st.fragment(run_every=REFRESH_SECONDS)
def file_jobs(run_id: int) -> None:
    """This run's newest prediction jobs, each CSV a download once its job is done."""
    with Store() as store:
        jobs = predict_job.run_jobs(store, run_id)
    for job in jobs:
        name = job["options"].get("name") or Path(job["corpus"]).name
        row = st.container(horizontal=True)
        row.markdown(f"Job {job['id']}: {escape(name)}, {job['status']}, {predict_job.job_progress(job)}")
        out = predict_job.finished_output(job)
        if out is not None:
            row.download_button("Download CSV", out.read_bytes(), file_name=f"{Path(name).stem}-predictions.csv",
                                mime="text/csv", key=f"classify_download_{job['id']}")
        elif job["status"] in ("failed", "interrupted", "cancelled"):
            row.caption("see the Runs page, where it can be resumed")


def classify_file(run_id: int) -> None:
    """A file is too long to wait for here: it becomes a prediction job in the queue, as a run is."""
    with st.expander("Classify a file (in the background)"):
        upload = st.file_uploader("CSV, TSV or JSONL, one document a row", type=["csv", "tsv", "txt", "jsonl"],
                                  key="classify_file")
        left, right = st.columns(2)
        text_col = left.text_input("Text column", value="text", key="classify_text_col")
        id_col = right.text_input("Id column (optional: else the row number)", value="", key="classify_id_col")
        if st.button("Queue it", key="classify_queue", disabled=upload is None,
                     help="one output row per input row: id, label, its probability, every class's probability"):
            assert upload is not None
            with Store() as store:
                try:
                    job_id = predict_job.queue_upload(store, run_id, upload.name, upload.getvalue(),
                                                      text_col.strip() or "text", id_col.strip() or None)
                    services.ensure_worker(store)
                    st.success(f"Queued as prediction job {job_id}: its CSV downloads here when it is done; the Runs "
                               "page shows its progress and energy.")
                except UserError as error:
                    st.error(escape(error))
        file_jobs(run_id)


classify_file(run_id)
text = st.text_area("Text", height=200, key="classify_text", placeholder="Paste a document here")
if not text.strip():
    st.caption("Paste a text to see its label, each class's probability and, for TopicBERT, its topics.")
    st.stop()

try:
    classifier = model(run_id)
    verdict = classify.classify_text(classifier, text)
    baseline = classify.classify_text(model(baseline_id), text) if baseline_id is not None else None
except UserError as error:
    st.error(escape(error))
    st.stop()

with st.expander(f"The text ({len(text):,} characters)"):
    st.markdown(escape(text[:TEXT_SHOWN]) + (" ..." if len(text) > TEXT_SHOWN else ""))
    st.caption(f"{escape(classifier.config.name)} reads what it read in training: the text's first word pieces "
               "(up to its length), and for TopicBERT every word's count.")
name = labels[run_id]
said = f"**{escape(name)}**: {escape(verdict.label)} ({verdict.probability:.1%})"
probabilities = {name: verdict.probabilities}
if baseline is not None and baseline_id is not None:
    said += f"; its baseline **{escape(labels[baseline_id])}**: {escape(baseline.label)} ({baseline.probability:.1%})"
    probabilities[labels[baseline_id]] = baseline.probabilities
st.markdown(said)
if baseline is None:
    st.caption("No finished BERT-512 baseline was queued with this run.")
left, right = st.columns(2)
left.plotly_chart(figures.visualize_class_probabilities(
    probabilities, verdict.classes, baseline=labels[baseline_id] if baseline_id is not None else None),
    key="classify_probabilities")
if verdict.topic_mixture is not None and verdict.topic_labels is not None:
    right.plotly_chart(figures.visualize_topic_mixture(verdict.topic_mixture, verdict.topic_labels),
                       key="classify_mixture")
