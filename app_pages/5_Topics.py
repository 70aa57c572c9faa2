"""Topics of a TopicBERT run: the LDAvis map (offline), top words, NPMI coherence and diversity beside
the LDA reference, as the worker stored them when the run ended; each topic's top test documents; which
topics recur in another TopicBERT run on the same corpus."""
from pathlib import Path

import streamlit as st

from topicbert.runs.store import Store
from topicbert.studio import figures, ldavis, run_identity, topic_stability
from topicbert.studio import topics as topic_views
from topicbert.studio.documents import DocumentsLink
from topicbert.studio.run_files import (
    RunPredictions,
    TopicArrays,
    load_predictions,
    load_topic_arrays,
    predictions_mtime,
)
from topicbert.studio.text import escape
from widgets import choose_topicbert_run, page_setup

DOCUMENTS_PAGE = "app_pages/6_Documents.py"

page_setup("Topics")


def stamp(run_dir: str) -> float:
    """Keys the caches: a run trained again writes new files."""
    path = Path(run_dir) / "topics.npz"
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_resource(max_entries=4, show_spinner=False)  # shared, so read only
def topic_arrays(run_dir: str, mtime: float) -> TopicArrays | None:
    return load_topic_arrays(run_dir)


@st.cache_resource(max_entries=4, show_spinner="Loading the test documents...")
def test_results(run_dir: str, mtime: float) -> RunPredictions | None:
    return load_predictions(run_dir)


@st.cache_data(max_entries=4, show_spinner="Laying out the topic map...")
def topic_map(run_dir: str, mtime: float) -> str | None:
    arrays = topic_arrays(run_dir, mtime)
    if arrays is None:
        return None
    return ldavis.ldavis_html(arrays.topic_term, arrays.doc_topic, arrays.doc_lengths, arrays.vocab,
                             arrays.term_frequency)


st.title("Topics")

with Store() as store:
    run = choose_topicbert_run(store, "its topics", key="topics_run")
    run_id = run["id"]
    topics = store.get_topics(run_id)
    npmi = store.get_topic_npmi(run_id)
    summary = topic_views.topic_summary(store, run)
    partners = topic_stability.stability_partners(store, run)

if encoders := run_identity.runs_encoders_sentence([run]):
    st.caption(escape(f"{encoders}."))
html = topic_map(run["run_dir"], stamp(run["run_dir"]))
if html is None:
    st.warning("This run's topic files (topics.npz, vocab.json) are missing from its folder.")
    st.stop()
st.caption("Topics keep the model's order: topic 1 on the map is the model's first topic, as in the table below. "
           "The map is drawn by LDAvis, with its scripts bundled: it needs no internet.")
st.iframe(html, height="content")  # our own page: words sit in its JSON with "<" escaped; it scales to fit

st.subheader("Top words and their coherence")


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# each figure: its label, its attribute of studio.topics.Coherence, and what it measures
QUALITY = [
    ("NPMI, training documents", "npmi",
     "ours: normalised pointwise mutual information of each topic's top 10 words, from their co-occurrence in the "
     "run's training documents (-1 to 1, higher is more coherent), averaged over the topics"),
    ("NPMI, test documents", "npmi_test",
     "ours, held out: the same over the run's test documents, which the topic model never trained on: "
     "coherence that is not the model remembering its own training documents"),
    ("NPMI, 10-word windows", "npmi_window",
     "the literature's: NPMI of each topic's top 10 words over sliding windows of 10 words of the training texts "
     "(their vocabulary words, in order), as gensim's c_npmi computes it: the figure published topic-model "
     "papers report (LDA on 20 Newsgroups: about 0.05)"),
    ("topic diversity", "diversity",
     "share of distinct words among all topics' top words (1: no two topics share a word)"),
]
for column, (label, attribute, meaning) in zip(st.columns(len(QUALITY)), QUALITY, strict=True):
    reference = getattr(summary.reference, attribute) if summary.reference else None
    column.metric(label, number(getattr(summary.run, attribute)),
                  delta=f"LDA reference {number(reference)}" if summary.reference else None, delta_color="off",
                  delta_arrow="off", help=meaning)
st.caption("Beside each figure, scikit-learn's LDA with the same number of topics, fitted on the same training "
           "documents and vocabulary and scored the same way.")
if summary.run.npmi is None:
    st.caption("This run finished before the Studio stored topic coherence: train it again to see NPMI here.")
elif summary.reference is None:
    st.caption("The LDA reference for this run's corpus could not be made (see the run's log).")
elif summary.run.npmi_window is None or summary.reference.npmi_window is None:
    st.caption("This run or its LDA reference was scored before the Studio computed NPMI on test documents and "
               "over 10-word windows: train it again to see them.")
st.dataframe(topic_views.topics_table(topics, npmi, topic_views.window_npmi_per_topic(run)), hide_index=True,
             column_config={topic_views.NPMI_COLUMN: st.column_config.NumberColumn(format="%.3f"),
                            topic_views.WINDOW_COLUMN: st.column_config.NumberColumn(format="%.3f")})

labels = topic_views.topic_labels(topics)
st.subheader("Top documents")
results = test_results(run["run_dir"], predictions_mtime(run["run_dir"]))
if results is None or results.topic_mixtures is None:
    st.info("This run's test results (test_predictions.npz with topic mixtures, and its test texts) are missing.")
else:
    topic = st.selectbox("Topic", range(len(labels)), format_func=labels.__getitem__, key="topics_topic")
    top = topic_views.top_documents(results, topic)
    picked = st.dataframe(top, hide_index=True, on_select="rerun", selection_mode="single-row", key="topics_top_docs",
                          column_config={"share": st.column_config.NumberColumn(format="%.3f"),
                                         "doc": st.column_config.NumberColumn(width="small")},
                          column_order=[*top.columns.drop("text"), "text"])
    st.caption("The test documents with the highest share of this topic in their mixture. Click a row to open the "
               "document on the Documents page.")
    if st.button("Open every test document whose dominant topic this is", key="topics_open_topic",
                 icon=":material/description:"):
        st.switch_page(DOCUMENTS_PAGE, query_params=DocumentsLink(run_id, topic=topic + 1).query_params())
    if picked.selection.rows:
        doc = int(top.iloc[picked.selection.rows[0]]["doc"])
        st.switch_page(DOCUMENTS_PAGE, query_params=DocumentsLink(run_id, doc=doc).query_params())

st.subheader("Topic stability")
if not partners:
    st.info("No other finished TopicBERT run on this corpus: train one with another seed or setting to see "
            "which of these topics recur.")
else:
    others = {other["id"]: other for other in partners}
    other_id = st.selectbox("Match with", list(others), format_func=lambda i: run_identity.run_label(others[i]),
                            key="topics_partner")
    this, that = run_identity.run_label(run), run_identity.run_label(others[other_id])
    ours = topic_arrays(run["run_dir"], stamp(run["run_dir"]))
    theirs = topic_arrays(others[other_id]["run_dir"], stamp(others[other_id]["run_dir"]))
    if theirs is None:
        st.warning("That run's topic files are missing from its folder.")
    elif ours is None:
        st.warning("This run's topic files are missing from its folder.")
    else:
        with Store() as store:
            their_labels = topic_views.topic_labels(store.get_topics(other_id))
        matches = topic_stability.match_topics(ours, theirs, labels, their_labels)
        apart = topic_stability.unmatched_similarity(ours, theirs)
        st.plotly_chart(figures.visualize_topic_matching(matches, this, that, apart), key="topics_matching")
        st.dataframe(matches, hide_index=True,
                     column_config={"similarity": st.column_config.NumberColumn(format="%.3f")})
        st.caption(escape(
            f"Each topic of {this} matched one to one to a topic of {that} (Hungarian matching on the cosine "
            "similarity of their word distributions; 1: the same distribution, 0: no word in common). A pair not "
            "far above the dotted line, the pairs the matching left apart, is no more alike than two unrelated "
            "topics of these runs: that topic does not recur. The two "
            f"vocabularies share {topic_stability.vocabulary_overlap(ours, theirs):.0%} of their words; a word "
            "one lacks weighs 0 there."))
