"""Topics of a TopicBERT run: the LDAvis map (offline), top words, NPMI coherence and diversity."""
from pathlib import Path

import streamlit as st

from pages._shared import choose_topicbert_run
from topicbert import explore, plots
from topicbert.config import RunConfig
from topicbert.corpus import CorpusError, load_corpus
from topicbert.markdown import escape
from topicbert.run_files import load_topic_arrays
from topicbert.store import Store

st.set_page_config(page_title="Topics · TopicBERT Studio", page_icon="🌱", layout="wide")
st.html(Path(__file__).parents[1] / "assets" / "style.css")


def stamp(run_dir: str) -> float:
    """Keys the caches: a run trained again writes new files."""
    path = Path(run_dir) / "topics.npz"
    return path.stat().st_mtime if path.exists() else 0.0


@st.cache_data(max_entries=4, show_spinner="Laying out the topic map...")
def topic_map(run_dir: str, mtime: float) -> str | None:
    arrays = load_topic_arrays(run_dir)
    if arrays is None:
        return None
    return plots.ldavis_html(arrays.topic_term, arrays.doc_topic, arrays.doc_lengths, arrays.vocab,
                             arrays.term_frequency)


@st.cache_data(max_entries=4, show_spinner="Scoring topic coherence on the corpus...")
def quality(run_dir: str, config_json: str, topics: list, mtime: float) -> tuple[list[float], float]:
    config = RunConfig.from_json(config_json)
    corpus = load_corpus(config.corpus, config.text_col, config.label_col, config.split_col, seed=config.seed)
    return explore.topic_quality(topics, load_topic_arrays(run_dir).vocab, corpus.texts)


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
    coherence, diversity = quality(run["run_dir"], RunConfig.from_dict(run["config"]).to_json(),
                                   [[(w, float(x)) for w, x in words] for words in topics], stamp(run["run_dir"]))
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
st.dataframe(explore.topics_table(topics, coherence), hide_index=True,
             column_config={"NPMI": st.column_config.NumberColumn(format="%.3f")})
