"""Train: choose a corpus, an encoder and a preset, see what it will cost, and queue it."""
from typing import TYPE_CHECKING

import streamlit as st

from topicbert.config import MODES, TOPIC_MODELS, ConfigError, RunConfig, UserError
from topicbert.runs import saved_corpora, services
from topicbert.runs.store import Store, hostname
from topicbert.studio import launch
from topicbert.studio.text import escape
from widgets import page_setup

if TYPE_CHECKING:  # transformers is loaded with the first tokenizer, not with the page
    from transformers import PreTrainedTokenizerBase

ENCODERS = ("default (all-MiniLM-L6-v2, installed)", "a Hugging Face id (in the local cache)", "a local folder")
DEFAULTS = RunConfig(corpus="")

page_setup("Train")


@st.cache_resource(max_entries=2, show_spinner="Loading the tokenizer...")
def tokenizer(model: str) -> "PreTrainedTokenizerBase":
    return launch.encoder_tokenizer(model)


@st.cache_resource(max_entries=2, show_spinner="Counting the corpus's word pieces...")
def corpus_pieces(key: tuple, _config: RunConfig) -> launch.CorpusPieces:
    # keyed by the corpus, its columns, seed and encoder alone (`_config` is not hashed): changing
    # another setting never reads the corpus again
    return launch.corpus_pieces(_config, tokenizer(_config.model))


def train_lengths(config: RunConfig) -> list[int]:
    return launch.train_piece_lengths(corpus_pieces(launch.corpus_key(config), config), config)


@st.cache_data(max_entries=1, show_spinner=False)
def grid_intensity() -> tuple[float, str]:
    return launch.grid_intensity()


st.title("Train")

with Store() as store:
    saved_corpora.ensure_builtin_corpus(store)
    listed = {row["id"]: row for row in store.list_corpora() if row["path"]}
if not listed:
    st.info("No corpus yet: add one on the Corpora page.")
    st.stop()

with st.form("train_form"):
    st.subheader("What to train")
    corpus_id = st.selectbox("Corpus", list(listed), index=len(listed) - 1, key="train_corpus",
                             format_func=lambda i: f"{listed[i]['name']} ({listed[i]['n_docs']:,} documents)")
    left, right = st.columns(2)
    encoder_kind = left.selectbox("Encoder", ENCODERS, key="train_encoder_kind")
    encoder_name = right.text_input("Hugging Face id or local folder", key="train_encoder_name",
                                    placeholder="e.g. bert-base-uncased or /models/my-bert",
                                    help="for the two other encoder choices; the default encoder needs none")
    a, b = st.columns(2)
    preset = a.selectbox("Model and length", list(launch.PRESETS),
                         index=list(launch.PRESETS).index(launch.RECOMMENDED_PRESET), key="train_preset",
                         help="BERT-x and TopicBERT-x: the encoder sees at most x word pieces; "
                              + " ".join(f"{name}: {note}" for name, note in launch.PRESET_NOTES.items()))
    mode = b.selectbox("Mode", MODES, key="train_mode",
                       help="truncate: the first x pieces; partition: the document cut into x-piece chunks "
                            "(up to 512 pieces), predictions averaged per document")
    topic_model = st.selectbox("Topic model (TopicBERT only)", TOPIC_MODELS,
                               index=TOPIC_MODELS.index(DEFAULTS.topic_model), key="train_topic_model",
                               format_func=launch.TOPIC_MODEL_NAMES.__getitem__,
                               help="ProdLDA gives topics a person can read; CombinedTM is ProdLDA that also reads "
                                    "each document's embedding from the encoder; NVDM is the paper's model. "
                                    "BENCHMARKS.md compares their coherence and F1")
    st.subheader("Settings")
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 100, DEFAULTS.epochs, key="train_epochs")
    batch_size = c2.number_input("Batch size", 1, 512, DEFAULTS.batch_size, key="train_batch_size")
    n_topics = c3.number_input("Topics", 2, 1000, DEFAULTS.n_topics, key="train_topics",
                               placeholder="from the corpus",
                               help="empty: chosen from the number of training documents (shown below the buttons)")
    alpha = c4.number_input("Alpha", 0.01, 1.0, DEFAULTS.alpha, 0.05, key="train_alpha",
                            help="the weight of classification in the loss; the topic model's is 1 - alpha")
    c5, c6, c7, c8 = st.columns(4)
    lr = c5.number_input("Learning rate (encoder)", 1e-7, 1e-2, DEFAULTS.lr, format="%.1e", step=1e-5, key="train_lr")
    nproc = c6.number_input("Processes (torchrun)", 1, 64, DEFAULTS.nproc, key="train_nproc")
    limit_train = c7.number_input("Training documents (0: all)", 0, 10_000_000, 0, key="train_limit_train")
    limit_eval = c8.number_input("Evaluation documents (0: all)", 0, 10_000_000, 0, key="train_limit_eval",
                                 help="validation and test documents, each (a stratified subset; 0: all of them)")
    p1, p2 = st.columns([3, 1])
    pair = p1.checkbox("Queue with baselines", value=True, key="train_pair",
                       help="the same documents and settings with BERT at 512 word pieces (the paper's reference) "
                            "and with the TF-IDF reference (a linear model that trains in seconds)")
    seeds = p2.number_input("Seeds", 1, 10, 1, key="train_seeds",
                            help="queue the run (and its baselines) with this many seeds: seeds can move F1 as much "
                                 "as the test documents do, or more, and Compare's verdicts over several seeds cover "
                                 "both")
    e, q = st.columns([1, 5])
    e.form_submit_button("Estimate cost")  # submits the settings: the projection below follows them
    queue_clicked = q.form_submit_button("Queue", type="primary")

try:
    configs = launch.configs_to_queue(
        listed[corpus_id], preset, pair, model=launch.encoder_setting(encoder_kind == ENCODERS[0], encoder_name),
        mode=mode, topic_model=topic_model, epochs=int(epochs), batch_size=int(batch_size),
        n_topics=int(n_topics) if n_topics is not None else None, alpha=float(alpha),
        lr=float(lr), nproc=int(nproc), limit_train=int(limit_train), limit_eval=int(limit_eval))
except ConfigError as error:
    st.error(escape(error))
    st.stop()

queued_message = st.empty()  # under the buttons, where the eye is, not below the projection
if preset in launch.PRESET_NOTES:
    st.markdown(f"**{escape(preset)}:** " + escape(launch.PRESET_NOTES[preset]))
try:
    lengths = [train_lengths(c) for c in configs]
    if configs[0].use_topics:
        st.markdown("**Topic model:** " + escape(launch.topic_plan(configs[0], len(lengths[0])).describe()))
    st.subheader("Projected cost")
    with Store() as store:
        history = launch.past_runs(store, hostname())
    estimates = launch.projections(configs, lengths, history, grid_intensity())
except UserError as error:  # an encoder not installed, a corpus that cannot be read
    st.error(escape(error))
    st.stop()
if seeds > 1:
    st.caption(f"These figures are for one seed: {seeds} seeds cost about {seeds} times as much.")
st.dataframe(launch.projection_table(configs, estimates), hide_index=True,
             column_config={"training word pieces": st.column_config.NumberColumn(format="localized"),
                            "g CO2e": st.column_config.NumberColumn(format="%.3f")},
             placeholder="–")  # the TF-IDF reference: nothing to project from word pieces
with st.expander("How these figures are estimated"):
    for queued, estimate in zip(configs, estimates, strict=True):
        st.caption(f"{queued.name}: {estimate.how}")

if queue_clicked:  # after the projection: an encoder or corpus that cannot be read stops it above
    with Store() as store:
        baselines = services.baselines_for(configs[0]) if pair else {}
        ids = services.submit_seeds(store, configs[0], int(seeds), **baselines)
        services.ensure_worker(store)
    names = [f"#{i}" for i in ids]
    queued_message.success("Queued " + " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
                           + (f" ({seeds} seeds)" if seeds > 1 else "") + ": follow them on the Runs page.")
