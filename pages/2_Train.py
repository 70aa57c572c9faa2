"""Train: choose a corpus, an encoder and a preset, see what it will cost, and queue it."""
from pathlib import Path

import pandas as pd
import streamlit as st

from topicbert import corpora, energy, services, views
from topicbert.config import MODES, ConfigError, RunConfig
from topicbert.corpus import CorpusError
from topicbert.encoders import ModelNotFoundError, load_tokenizer
from topicbert.estimate import Estimate, estimate_run
from topicbert.markdown import escape
from topicbert.store import Store, hostname

ENCODERS = ("default (all-MiniLM-L6-v2, installed)", "a Hugging Face id (in the local cache)", "a local folder")
DEFAULTS = RunConfig(corpus="")

st.set_page_config(page_title="Train · TopicBERT Studio", page_icon="🌱", layout="wide")
st.html(Path(__file__).parents[1] / "assets" / "style.css")


@st.cache_resource(max_entries=2, show_spinner="Loading the tokenizer...")
def tokenizer(model: str):
    return load_tokenizer(model)


@st.cache_data(max_entries=8, show_spinner="Counting the training documents' word pieces...")
def train_lengths(config_json: str) -> list[int]:
    config = RunConfig.from_json(config_json)
    return views.train_piece_lengths(config, tokenizer(config.model))


@st.cache_data(max_entries=1, show_spinner=False)
def grid_intensity() -> tuple[float, str]:
    code, country, grams = energy.carbon_intensity(energy.country_code())
    return grams / 1000, f"codecarbon's figure for {country}; set TOPICBERT_COUNTRY to change it"


def projection(store: Store, config: RunConfig) -> Estimate:
    kg_per_kwh, source = grid_intensity()
    return estimate_run(config, train_lengths(config.to_json()), views.past_runs(store, hostname()),
                        kg_per_kwh, source)


st.title("Train")

with Store() as store:
    corpora.ensure_builtin_corpus(store)
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
    preset = a.selectbox("Model and length", list(views.PRESETS), index=list(views.PRESETS).index("TopicBERT-128"),
                         key="train_preset", help="BERT-x and TopicBERT-x: the encoder sees at most x word pieces")
    mode = b.selectbox("Mode", MODES, key="train_mode",
                       help="truncate: the first x pieces; partition: the document cut into x-piece chunks "
                            "(up to 512 pieces), predictions averaged per document")
    st.subheader("Settings")
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 100, DEFAULTS.epochs, key="train_epochs")
    batch_size = c2.number_input("Batch size", 1, 512, DEFAULTS.batch_size, key="train_batch_size")
    n_topics = c3.number_input("Topics", 2, 1000, DEFAULTS.n_topics, key="train_topics")
    alpha = c4.number_input("Alpha", 0.01, 1.0, DEFAULTS.alpha, 0.05, key="train_alpha",
                            help="the weight of classification in the loss; the topic model's is 1 - alpha")
    c5, c6, c7, c8 = st.columns(4)
    lr = c5.number_input("Learning rate (encoder)", 1e-7, 1e-2, DEFAULTS.lr, format="%.1e", step=1e-5, key="train_lr")
    nproc = c6.number_input("Processes (torchrun)", 1, 64, DEFAULTS.nproc, key="train_nproc")
    limit_train = c7.number_input("Training documents (0: all)", 0, 10_000_000, 0, key="train_limit_train")
    limit_eval = c8.number_input("Evaluation documents (0: all)", 0, 10_000_000, 0, key="train_limit_eval",
                                 help="validation and test documents, each (a stratified subset; 0: all of them)")
    pair = st.checkbox("Queue with BERT-512 baseline", value=True, key="train_pair",
                       help="the same settings with BERT at 512 word pieces: the paper's reference")
    e, q = st.columns([1, 5])
    e.form_submit_button("Estimate cost")  # submits the settings: the projection below follows them
    queue_clicked = q.form_submit_button("Queue", type="primary")

variant, max_len = views.PRESETS[preset]
try:
    if encoder_kind != ENCODERS[0] and not encoder_name.strip():
        raise ConfigError("name the Hugging Face id or the folder of the encoder")
    config = RunConfig(**corpora.run_settings(listed[corpus_id]),
                       model="default" if encoder_kind == ENCODERS[0] else encoder_name.strip(),
                       variant=variant, max_len=max_len, mode=mode, epochs=int(epochs), batch_size=int(batch_size),
                       n_topics=int(n_topics), alpha=float(alpha), lr=float(lr), nproc=int(nproc),
                       limit_train=int(limit_train) or None, limit_eval=int(limit_eval) or None)
    configs = [config] + ([services.baseline_config(config)] if pair else [])
except ConfigError as error:
    st.error(escape(error))
    st.stop()

queued_message = st.empty()  # under the buttons, where the eye is, not below the projection
st.subheader("Projected cost")
try:
    with Store() as store:
        estimates = [projection(store, c) for c in configs]
except (ModelNotFoundError, CorpusError) as error:
    st.error(escape(error))
    st.stop()
table = pd.DataFrame([{"run": c.name, "training word pieces": e.pieces, "time": views.format_duration(e.seconds),
                       "kWh": e.kwh, "g CO2e": 1000 * e.kg_co2e} for c, e in zip(configs, estimates)])
st.dataframe(table, hide_index=True,
             column_config={"training word pieces": st.column_config.NumberColumn(format="localized"),
                            "kWh": st.column_config.NumberColumn(format="%.6f"),
                            "g CO2e": st.column_config.NumberColumn(format="%.3f")})
with st.expander("How these figures are estimated"):
    for c, e in zip(configs, estimates):
        st.caption(f"{c.name}: {e.how}")

if queue_clicked:  # after the projection: an encoder or corpus that cannot be read stops it above
    with Store() as store:
        ids = services.submit_run(store, config, pair_baseline=pair)
        services.ensure_worker(store)
    queued_message.success("Queued " + " and ".join(f"#{i}" for i in ids) + ": follow them on the Runs page.")
