"""Corpora: upload a file, choose its columns, read the summary, name it and save it."""
from pathlib import Path

import pandas as pd
import streamlit as st

from topicbert.data.batching import tokenize
from topicbert.data.corpus import Corpus, CorpusError, load_corpus, summarize
from topicbert.data.upload import JSONL_TYPES, TABLE_TYPES, UPLOAD_TYPES, kind, preview_rows, stash_upload
from topicbert.model.encoders import ModelNotFoundError, load_tokenizer
from topicbert.runs import saved_corpora
from topicbert.runs.store import Store
from topicbert.studio import figures, frames
from topicbert.studio.text import escape
from widgets import page_setup

NO_SPLIT = "(none: draw 80/10/10)"

page_setup("Corpora")


@st.cache_resource(max_entries=2, show_spinner=False)
def tokenizer(model: str):
    return load_tokenizer(model)


@st.cache_data(max_entries=4, show_spinner="Reading the corpus...")
def read(path: str, text_col: str, label_col: str, split_col: str | None, stamp: float) -> Corpus:
    # `stamp` (the file's mtime) keys the cache, so a re-upload is read again
    return load_corpus(path, text_col, label_col, split_col)


@st.cache_data(max_entries=4, show_spinner="Counting word pieces...")
def summary_of(path: str, text_col: str, label_col: str, split_col: str | None, stamp: float) -> dict:
    pieces = tokenizer("default")
    return summarize(read(path, text_col, label_col, split_col, stamp),
                     lambda texts: [len(ids) for ids in tokenize(pieces, texts)])


st.title("Corpora")

with Store() as store:
    saved_corpora.ensure_builtin_corpus(store)
    upload_dir = store.path.parent / "uploads"

left, right = st.columns([2, 3], gap="large")
with left:
    st.subheader("Add a corpus")
    uploaded = st.file_uploader(
        "Drop a file here", type=list(UPLOAD_TYPES), key="corpora_upload",
        help="CSV or TSV with a header line, JSONL (one object per line), or a ZIP with one folder per class. "
             "The largest upload is server.maxUploadSize in .streamlit/config.toml (in MB).")
    st.caption(f"Up to {st.get_option('server.maxUploadSize')} MB a file (server.maxUploadSize in "
               ".streamlit/config.toml). A ZIP holds one folder per class, one document per file, optionally "
               "inside train/ and test/ folders.")

corpus = None
if uploaded is not None:
    path = stash_upload(uploaded.name, uploaded.getvalue(), upload_dir)
    columns = dict(text_col="text", label_col="label", split_col=None)
    with left:
        preview = preview_rows(path) if kind(path) in TABLE_TYPES + JSONL_TYPES else None
        if preview is not None and len(preview.columns):
            names = list(preview.columns)

            def pick(label: str, wanted: str, key: str, optional: bool = False) -> str | None:
                options = ([NO_SPLIT] if optional else []) + names
                index = options.index(wanted) if wanted in options else 0
                choice = st.selectbox(label, options, index=index, key=key)
                return None if choice == NO_SPLIT else choice

            columns = dict(text_col=pick("Text column", "text", "corpora_text_col"),
                           label_col=pick("Label column", "label", "corpora_label_col"),
                           split_col=pick("Split column (train / validation / test)", "split", "corpora_split_col",
                                          optional=True))
            st.caption("First rows")
            # the text column narrow enough that the label and split columns show beside it
            st.dataframe(preview, hide_index=True, column_config={
                name: st.column_config.Column(width="medium" if name == columns["text_col"] else "small")
                for name in names})
        try:
            corpus = read(str(path), **columns, stamp=path.stat().st_mtime)
        except CorpusError as error:
            st.error(escape(error))  # the reader's own words; nothing is saved
        if corpus is not None:
            with st.form("corpora_save", border=True):
                name = st.text_input("Name", value=Path(uploaded.name).stem, key="corpora_name", max_chars=120)
                if st.form_submit_button("Save corpus", type="primary"):
                    with Store() as store:
                        try:
                            corpus_id = saved_corpora.register_corpus(store, corpus, name)
                            st.success(f"Saved as corpus {corpus_id}: pick it on the Train page.")
                        except CorpusError as error:
                            st.error(escape(error))

with right:
    if corpus is not None:
        try:
            summary = summary_of(str(path), **columns, stamp=path.stat().st_mtime)
        except ModelNotFoundError as error:
            st.error(escape(error))
            summary = summarize(corpus)
        st.subheader("Summary")
        a, b, c, d = st.columns(4)
        a.metric("documents", f"{summary['n_docs']:,}")
        b.metric("classes", len(summary["classes"]))
        c.metric("not UTF-8", summary["encoding_fallbacks"],
                 help="documents that were not UTF-8 and were read as cp1252 or latin-1 (encoding fallbacks)")
        d.metric("empty, dropped", summary["dropped_empty"], help="empty documents, left out of the corpus")
        splits = {split: sum(per_class.values()) for split, per_class in summary["counts"].items()}
        st.text("Documents per split: " + ", ".join(f"{split} {n:,}" for split, n in splits.items()))
        per_class = {label: sum(summary["counts"][split][label] for split in summary["counts"])
                     for label in summary["classes"]}
        st.plotly_chart(figures.visualize_class_counts(per_class), key="corpora_classes")
        if "pieces" in summary:
            st.plotly_chart(figures.visualize_length_histogram(summary["pieces"]["lengths"]), key="corpora_lengths")
            st.caption("Lengths in word pieces of the default encoder's tokenizer. The lines mark the encoder "
                       "lengths TopicBERT and BERT are trained at: what lies right of a line is cut.")
    st.subheader("Saved corpora")
    with Store() as store:
        saved = store.list_corpora()  # read last, so a corpus saved just now is listed
    if saved:
        st.dataframe(pd.DataFrame([{"id": row["id"], "name": row["name"], "documents": row["n_docs"],
                                    "classes": row["n_classes"], "source": frames.source_name(row["source"])}
                                   for row in saved]),
                     hide_index=True, column_config={"documents": st.column_config.NumberColumn(format="localized")})
    else:
        st.info("No corpus saved yet.")
