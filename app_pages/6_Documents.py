"""Documents: search the test documents (opening where TopicBERT and its baseline disagree), and see one's text
(where the word pieces the short model read end marked), topic mixture and the models' predictions."""
from collections.abc import Callable

import pandas as pd
import streamlit as st

from topicbert.config import RunConfig, UserError
from topicbert.runs.store import Store
from topicbert.studio import documents, figures, launch, run_identity
from topicbert.studio import topics as topic_views
from topicbert.studio.run_files import RunPredictions, load_predictions, load_texts, predictions_mtime
from topicbert.studio.text import escape
from widgets import choose_topicbert_run, page_setup

# widths that fit a 1,400 px window beside the sidebar, every model's prediction shown; the preview gets the rest
DOCUMENT_COLUMNS = {"doc": st.column_config.NumberColumn(width=50),
                    "true label": st.column_config.TextColumn(width=90),
                    "TopicBERT": st.column_config.TextColumn(width=90),
                    "TopicBERT right": st.column_config.CheckboxColumn(width=70),
                    "baseline right": st.column_config.CheckboxColumn(width=70),
                    "dominant topic": st.column_config.TextColumn(width=170),
                    "text": st.column_config.TextColumn(width=240)}

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
def table(run_dir: str, mtime: float, _results: RunPredictions, baseline_dir: str | None, baseline_mtime: float,
          topic_names: tuple[str, ...], tfidf_dir: str | None = None,
          tfidf_mtime: float = 0.0) -> tuple[pd.DataFrame, RunPredictions | None, str]:
    """The documents table, the baseline that may stand beside the run, and a note on it. `_results` (the run's
    predictions, not hashed) are those `run_dir` and `mtime` key."""
    baseline, note = documents.comparable_baseline(_results,
                                                   predictions(baseline_dir, baseline_mtime) if baseline_dir else None)
    tfidf = predictions(tfidf_dir, tfidf_mtime) if tfidf_dir else None
    return documents.documents_frame(_results, baseline, list(topic_names), tfidf), baseline, note


@st.cache_resource(max_entries=2, show_spinner="Loading the encoder's tokenizer...")
def piece_counter(model: str) -> Callable[[str], int] | None:
    """How many word pieces the run's encoder cuts a word into; None when its tokenizer is not on this machine."""
    try:
        tokenizer = launch.encoder_tokenizer(model)
    except UserError:
        return None
    return lambda word: len(tokenizer.tokenize(word))


st.title("Documents")

# opened from a link (a topic on Compare, a top document on Topics): that run, and the topic's documents
# or the one document, once per link; the person's own choices after that stay theirs
link = documents.DocumentsLink.from_query(st.query_params.to_dict())
opened = link if link is not None and st.session_state.get("documents_link") != link else None
if opened is not None:
    st.session_state["documents_link"] = opened
    for key, empty in (("documents_query", ""), ("documents_agreement", documents.ALL), ("documents_true", []),
                       ("documents_predicted", []), ("documents_topic", [])):
        st.session_state[key] = empty

with Store() as store:
    run = choose_topicbert_run(store, "its test documents", key="documents_run",
                               preselect=opened.run_id if opened is not None else None)
    run_id = run["id"]
    baseline_run = documents.paired_baseline_run(store, run)
    tfidf_run = documents.reference_run(store, baseline_run)
    topic_names = topic_views.topic_labels(store.get_topics(run_id))

results = predictions(run["run_dir"], predictions_mtime(run["run_dir"]))
if results is None:
    st.warning("This run's test results (test_predictions.npz, and its test texts) are missing.")
    st.stop()
baseline_dir = baseline_run["run_dir"] if baseline_run else None
tfidf_dir = tfidf_run["run_dir"] if tfidf_run else None
frame, baseline, note = table(run["run_dir"], predictions_mtime(run["run_dir"]), results,
                              baseline_dir, predictions_mtime(baseline_dir), tuple(topic_names),
                              tfidf_dir, predictions_mtime(tfidf_dir))
# the baseline and the reference by name, once: "BERT-512" runs whatever encoder its run named
names = {"baseline": f"{run_identity.run_label(baseline_run)} (baseline)" if baseline_run else "baseline",
         documents.TFIDF: run_identity.run_label(tfidf_run) if tfidf_run else documents.TFIDF}
if encoders := run_identity.runs_encoders_sentence([run, baseline_run, tfidf_run]):
    st.caption(escape(f"{encoders}."))
if note:
    st.caption(note)

if opened is not None and opened.run_id == run_id:
    if opened.topic is not None and 0 < opened.topic <= len(topic_names):
        if topic_names[opened.topic - 1] in set(frame.get("dominant topic", [])):
            st.session_state["documents_topic"] = [topic_names[opened.topic - 1]]
        else:
            st.info(escape(f"No test document has topic {topic_names[opened.topic - 1]} as its dominant topic."))
    if opened.doc is not None and opened.doc in frame["doc"].values:
        st.session_state["documents_doc"] = opened.doc

st.subheader("Find documents")
disagreeing = documents.filter_documents(frame, agreement=documents.DISAGREE)
if "documents_agreement" not in st.session_state:  # where the two models part, if they ever do
    st.session_state["documents_agreement"] = documents.DISAGREE if len(disagreeing) else documents.ALL
a, b = st.columns(2)
query = a.text_input("Search the text", key="documents_query")
# the baseline named in the label, not in each option: options that change with the run would not stay chosen
against = run_identity.run_label(baseline_run) if baseline_run else "no baseline"
agreement = b.selectbox(f"Which (the baseline: {against})", documents.AGREEMENTS, key="documents_agreement",
                        disabled=baseline is None, help="opens where TopicBERT and its baseline predict differently")
agreement = agreement if baseline is not None else documents.ALL  # no baseline: nothing to disagree with
if agreement == documents.DISAGREE and disagreeing.empty:
    st.info(escape(f"TopicBERT and {names['baseline']} predict the same class for every test document."))
c, d, e = st.columns(3)
true_labels = c.multiselect("True label", results.classes, key="documents_true")
predicted = d.multiselect("Predicted by TopicBERT", results.classes, key="documents_predicted")
topics = e.multiselect("Dominant topic", sorted(set(frame["dominant topic"])) if "dominant topic" in frame else [],
                       key="documents_topic")
shown = documents.filter_documents(frame, query, true_labels, predicted, topics, agreement, texts=results.texts)
st.text(f"{len(shown):,} of {len(frame):,} test documents")
# the short columns first and the text preview last: every column shows, the preview takes what is left
st.dataframe(shown, hide_index=True, height=300, column_order=[*shown.columns.drop("text"), "text"],
             column_config={**DOCUMENT_COLUMNS,
                            **{column: st.column_config.TextColumn(label, width=130 if column == "baseline" else 90)
                               for column, label in names.items()}})
if shown.empty:
    st.stop()

st.subheader("One document")
doc = st.selectbox("Document", shown["doc"].tolist(), key="documents_doc",
                   format_func=lambda i: f"{i}: {frame.at[i, 'text'][:80]}")
row = frame.loc[doc]
st.text(f"True label: {row['true label']}   TopicBERT: {row['TopicBERT']}"
        + "".join(f"   {names[column]}: {row[column]}" for column in names if column in row))
# the text as text: "<script>" in a document shows as those characters (the container's key styles it as prose),
# cut where the word pieces the run's encoder read end
config = RunConfig.from_dict(run["config"])
text = results.texts[doc]
counter = piece_counter(config.model) if config.mode == "truncate" else None
cut = documents.read_cut(text, counter, config.max_len - 2) if counter else None  # [CLS] and [SEP] take two
with st.container(key="documents_text"):
    if cut is None:
        st.caption(escape(f"The whole text: {run['name']} read it all" if counter else
                          f"The whole text ({run['name']}'s word pieces could not be counted here)"))
        st.code(text, language=None, wrap_lines=True)
    else:
        st.caption(escape(f"The first {config.max_len} word pieces: what {run['name']}'s encoder read"))
        st.code(text[:cut], language=None, wrap_lines=True)
        st.caption(escape(f"The rest: only {run['name']}'s topic model saw it (as a bag of words)"
                          + (f"; {names['baseline']} reads up to "
                             f"{RunConfig.from_dict(baseline_run['config']).max_len} word pieces" if baseline_run
                             else "")))
        st.code(text[cut:], language=None, wrap_lines=True)
left, right = st.columns(2)
mixtures = results.topic_mixtures
if mixtures is not None:
    mixture_names = (topic_names if len(topic_names) == mixtures.shape[1]
                     else [str(k + 1) for k in range(mixtures.shape[1])])
    left.plotly_chart(figures.visualize_topic_mixture(mixtures[doc], mixture_names), key="documents_mixture")
probabilities = {run_identity.run_label(run): results.probabilities[doc]}
baseline_label = None
if baseline is not None and baseline_run is not None:  # a baseline beside the run comes from its baseline run
    baseline_label = run_identity.run_label(baseline_run)
    probabilities[baseline_label] = baseline.probabilities[doc]
right.plotly_chart(figures.visualize_class_probabilities(probabilities, results.classes, baseline=baseline_label),
                   key="documents_probabilities")
