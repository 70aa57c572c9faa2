"""Documents: search the test documents, and see one's text, topic mixture and both models' probabilities."""
import pandas as pd
import streamlit as st

from topicbert.runs.store import Store
from topicbert.studio import documents, figures, frames
from topicbert.studio import topics as topic_views
from topicbert.studio.run_files import RunPredictions, load_predictions, load_texts, predictions_mtime
from topicbert.studio.text import escape
from widgets import choose_topicbert_run, page_setup

page_setup("Documents")


# cache_resource, not cache_data: the same objects on every rerun, never a fresh copy of every text.
# Shared, so read only.
@st.cache_resource(max_entries=4, show_spinner=False)
def test_texts(digest: str) -> list[str] | None:
    """One copy of a set of test documents, whichever runs were tested on them."""
    return load_texts(digest)


@st.cache_resource(max_entries=6, show_spinner="Loading the test documents...")
def predictions(run_dir: str | None, mtime: float) -> RunPredictions | None:
    return load_predictions(run_dir, read_texts=test_texts)


@st.cache_resource(max_entries=6, show_spinner=False)
def table(run_dir: str, mtime: float, baseline_dir: str | None, baseline_mtime: float,
          topic_names: tuple[str, ...]) -> tuple[pd.DataFrame, RunPredictions | None, str]:
    """The documents table, the baseline that may stand beside the run, and a note on it."""
    baseline, note = documents.comparable_baseline(predictions(run_dir, mtime),
                                                   predictions(baseline_dir, baseline_mtime) if baseline_dir else None)
    return documents.documents_frame(predictions(run_dir, mtime), baseline, list(topic_names)), baseline, note


st.title("Documents")

# opened from a link (a topic on Compare, a top document on Topics): that run, and the topic's documents
# or the one document, once per link; the person's own choices after that stay theirs
link = documents.DocumentsLink.from_query(st.query_params.to_dict())
opened = link is not None and st.session_state.get("documents_link") != link
if opened:
    st.session_state["documents_link"] = link
    for key, empty in (("documents_query", ""), ("documents_agreement", documents.ALL), ("documents_true", []),
                       ("documents_predicted", []), ("documents_topic", [])):
        st.session_state[key] = empty

with Store() as store:
    run = choose_topicbert_run(store, "its test documents", key="documents_run",
                               preselect=link.run_id if opened else None)
    run_id = run["id"]
    baseline_run = documents.paired_baseline_run(store, run)
    topic_names = topic_views.topic_labels(store.get_topics(run_id))

results = predictions(run["run_dir"], predictions_mtime(run["run_dir"]))
if results is None:
    st.warning("This run's test results (test_predictions.npz, and its test texts) are missing.")
    st.stop()
baseline_dir = baseline_run["run_dir"] if baseline_run else None
frame, baseline, note = table(run["run_dir"], predictions_mtime(run["run_dir"]),
                              baseline_dir, predictions_mtime(baseline_dir), tuple(topic_names))
if note:
    st.caption(note)

if opened and link.run_id == run_id:
    if link.topic is not None and 0 < link.topic <= len(topic_names):
        if topic_names[link.topic - 1] in set(frame.get("dominant topic", [])):
            st.session_state["documents_topic"] = [topic_names[link.topic - 1]]
        else:
            st.info(escape(f"No test document has topic {topic_names[link.topic - 1]} as its dominant topic."))
    if link.doc is not None and link.doc in frame["doc"].values:
        st.session_state["documents_doc"] = link.doc

st.subheader("Find documents")
a, b = st.columns(2)
query = a.text_input("Search the text", key="documents_query")
agreement = b.selectbox("Which", documents.AGREEMENTS, key="documents_agreement", disabled=baseline is None)
c, d, e = st.columns(3)
true_labels = c.multiselect("True label", results.classes, key="documents_true")
predicted = d.multiselect("Predicted by TopicBERT", results.classes, key="documents_predicted")
topics = e.multiselect("Dominant topic", sorted(set(frame["dominant topic"])) if "dominant topic" in frame else [],
                       key="documents_topic")
shown = documents.filter_documents(frame, query, true_labels, predicted, topics, agreement, texts=results.texts)
st.text(f"{len(shown):,} of {len(frame):,} test documents")
# the short columns first and the text preview last: every column shows, the preview takes what is left
st.dataframe(shown, hide_index=True, height=300, column_order=[*shown.columns.drop("text"), "text"],
             column_config={"doc": st.column_config.NumberColumn(width="small"),
                            "dominant topic": st.column_config.TextColumn(width="medium")})
if shown.empty:
    st.stop()

st.subheader("One document")
doc = st.selectbox("Document", shown["doc"].tolist(), key="documents_doc",
                   format_func=lambda i: f"{i}: {frame.at[i, 'text'][:80]}")
row = frame.loc[doc]
st.text(f"True label: {row['true label']}   TopicBERT: {row['TopicBERT']}"
        + (f"   baseline: {row['baseline']}" if "baseline" in row else ""))
# the text as text: "<script>" in a document shows as those characters (the container's key styles it as prose)
with st.container(key="documents_text"):
    st.code(results.texts[doc], language=None, wrap_lines=True)
left, right = st.columns(2)
mixtures = results.topic_mixtures
if mixtures is not None:
    names = topic_names if len(topic_names) == mixtures.shape[1] else [str(k + 1) for k in range(mixtures.shape[1])]
    left.plotly_chart(figures.visualize_topic_mixture(mixtures[doc], names), key="documents_mixture")
probabilities = {frames.run_label(run): results.probabilities[doc]}
if baseline is not None:
    probabilities[frames.run_label(baseline_run)] = baseline.probabilities[doc]
right.plotly_chart(figures.visualize_class_probabilities(
    probabilities, results.classes, baseline=frames.run_label(baseline_run) if baseline is not None else None),
    key="documents_probabilities")
