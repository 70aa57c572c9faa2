"""Topics of a TopicBERT run: the LDAvis map (offline), top words, NPMI coherence and diversity beside
the LDA reference, as the worker stored them when the run ended."""
from pathlib import Path

import streamlit as st

from topicbert.runs.store import Store
from topicbert.studio import ldavis
from topicbert.studio import topics as topic_views
from topicbert.studio.run_files import load_topic_arrays
from widgets import choose_topicbert_run, page_setup

page_setup("Topics")


def stamp(run_dir: str) -> float:
    """Keys the caches: a run trained again writes new files."""
    path = Path(run_dir) / "topics.npz"
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_data(max_entries=4, show_spinner="Laying out the topic map...")
def topic_map(run_dir: str, mtime: float) -> str | None:
    arrays = load_topic_arrays(run_dir)
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

html = topic_map(run["run_dir"], stamp(run["run_dir"]))
if html is None:
    st.warning("This run's topic files (topics.npz, vocab.json) are missing from its folder.")
    st.stop()
st.caption("Topics keep the model's order: topic 1 on the map is the model's first topic, as in the table below. "
           "The map is drawn by LDAvis, with its scripts bundled: it needs no internet.")
st.iframe(html, height="content")  # our own page: words sit in its JSON with "<" escaped; it scales to fit

st.subheader("Top words")


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


a, b, c, d = st.columns(4)
a.metric("mean NPMI", number(summary.npmi),
         help="normalised pointwise mutual information of each topic's top 10 words, from their co-occurrence "
              "in the run's training documents (-1 to 1, higher is more coherent); never its test documents")
b.metric("LDA reference NPMI", number(summary.reference_npmi),
         help="scikit-learn's LDA with the same number of topics, fitted on the same training documents and "
              "vocabulary, scored the same way")
c.metric("topic diversity", number(summary.diversity),
         help="share of distinct words among all topics' top words (1: no two topics share a word)")
d.metric("LDA reference diversity", number(summary.reference_diversity))
if summary.npmi is None:
    st.caption("This run finished before the Studio stored topic coherence: train it again to see NPMI here.")
elif summary.reference_npmi is None:
    st.caption("The LDA reference for this run's corpus could not be made (see the run's log).")
st.dataframe(topic_views.topics_table(topics, npmi), hide_index=True,
             column_config={"NPMI": st.column_config.NumberColumn(format="%.3f")})
