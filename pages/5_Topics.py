"""Topics of a TopicBERT run: the LDAvis map (offline), top words, NPMI coherence and diversity."""
from pathlib import Path

import streamlit as st

from topicbert.data.corpus import CorpusError
from topicbert.runs.store import Store
from topicbert.studio import ldavis, topics as topic_views
from topicbert.studio.run_files import load_topic_arrays
from topicbert.studio.text import escape
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


@st.cache_data(max_entries=4, show_spinner="Scoring topic coherence on the corpus...")
def quality(run: dict, topics: list, mtime: float) -> tuple[list[float], float]:
    return topic_views.run_topic_quality(run, topics)


st.title("Topics")

with Store() as store:
    run = choose_topicbert_run(store, "its topics", key="topics_run")
    run_id = run["id"]
    topics = store.get_topics(run_id)

html = topic_map(run["run_dir"], stamp(run["run_dir"]))
if html is None:
    st.warning("This run's topic files (topics.npz, vocab.json) are missing from its folder.")
    st.stop()
st.caption("Topics keep the model's order: topic 1 on the map is the model's first topic, as in the table below. "
           "The map is drawn by LDAvis, with its scripts bundled: it needs no internet.")
st.iframe(html, height="content")  # our own page: words sit in its JSON with "<" escaped; it scales to fit

st.subheader("Top words")
try:
    coherence, diversity = quality(run, topics, stamp(run["run_dir"]))
except CorpusError as error:
    st.warning("Coherence needs the run's corpus, which cannot be read: " + escape(error))
    coherence, diversity = None, None
if diversity is not None:
    a, b = st.columns(2)
    a.metric("topic diversity", f"{diversity:.3f}", help="share of distinct words among all topics' top words "
                                                         "(1: no two topics share a word)")
    b.metric("mean NPMI", f"{sum(coherence) / len(coherence):.3f}" if coherence else "n/a",
             help="normalised pointwise mutual information of each topic's top words, from their "
                  "co-occurrence in the corpus's documents (-1 to 1, higher is more coherent)")
st.dataframe(topic_views.topics_table(topics, coherence), hide_index=True,
             column_config={"NPMI": st.column_config.NumberColumn(format="%.3f")})
