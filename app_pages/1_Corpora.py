"""Corpora: upload a file, choose its columns, read the summary, name it and save it; each saved
corpus's disk use, deleting one, and what the Studio keeps on disk."""
from pathlib import Path

import streamlit as st

from topicbert.config import UserError
from topicbert.runs import saved_corpora, storage
from topicbert.runs.saved_corpora import StagedUpload
from topicbert.runs.store import Store
from topicbert.studio import figures, storage_tables
from topicbert.studio.text import escape
from topicbert.studio.upload_preview import PREVIEW_ROWS, UPLOAD_TYPES, keep_upload, preview
from widgets import DISK_COLUMNS, delete_button, page_setup

NO_SPLIT = "(none: draw 80/10/10)"

page_setup("Corpora")


@st.cache_data(ttl=30, show_spinner=False)
def overview(db_path: str) -> dict[str, int]:
    """What TOPICBERT_HOME holds, walked at most every 30 s: it changes slowly."""
    with Store(db_path) as store:
        return storage.storage_overview(store)


@st.cache_data(max_entries=16, show_spinner="Reading the file...")
def stage(path: str, name: str, text_col: str, label_col: str, split_col: str | None,
          stamp: float) -> tuple[StagedUpload | None, str | None]:
    """The upload read by a child process (its documents never enter this one), or the reader's
    message. `stamp` (the file's mtime) keys the cache, so a re-upload is read again."""
    with Store() as store:
        try:
            return saved_corpora.stage_upload(store, Path(path), name, text_col, label_col, split_col), None
        except UserError as error:
            return None, str(error)


st.title("Corpora")

with Store() as store:
    saved_corpora.ensure_builtin_corpus(store)

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

staged = None
if uploaded is not None:
    with Store() as store:
        path = keep_upload(store, uploaded.name, uploaded.getvalue())
    text_col, label_col = "text", "label"
    split_col: str | None = None
    with left:
        first_rows = preview(path)
        if first_rows is not None:
            rows, guess = first_rows.rows, first_rows.guess
            names: list[str] = list(rows.columns)  # a header's names

            def pick(label: str, guessed: str | None, key: str, optional: bool = False) -> str:
                options = ([NO_SPLIT] if optional else []) + names
                index = options.index(guessed) if guessed in options else 0
                return st.selectbox(label, options, index=index, key=key)

            text_col = pick("Text column", guess["text_col"], "corpora_text_col")
            label_col = pick("Label column", guess["label_col"], "corpora_label_col")
            split = pick("Split column (train / validation / test)", guess["split_col"], "corpora_split_col",
                         optional=True)
            split_col = None if split == NO_SPLIT else split
            st.caption("First rows")
            # the text column narrow enough that the label and split columns show beside it
            st.dataframe(rows.head(PREVIEW_ROWS), hide_index=True, column_config={
                name: st.column_config.Column(width="medium" if name == text_col else "small")
                for name in names})
        staged, problem = stage(str(path), uploaded.name, text_col, label_col, split_col, path.stat().st_mtime)
        if problem:
            st.error(escape(problem))  # the reader's own words, naming the file as it was uploaded; nothing saved
        if staged is not None:
            with st.form("corpora_save", border=True):
                name = st.text_input("Name", value=Path(uploaded.name).stem, key="corpora_name", max_chars=120)
                if st.form_submit_button("Save corpus", type="primary"):
                    with Store() as store:
                        try:
                            corpus_id = saved_corpora.register_staged(store, staged, name)
                            st.success(f"Saved as corpus {corpus_id}: pick it on the Train page.")
                        except UserError as error:
                            st.error(escape(error))

with right:
    if staged is not None:
        summary = staged.summary
        if "pieces_error" in summary:
            st.error(escape(summary["pieces_error"]))
        st.subheader("Summary")
        a, b, c, d = st.columns(4)
        a.metric("documents", f"{summary['n_docs']:,}")
        b.metric("classes", len(summary["classes"]))
        c.metric("not UTF-8", summary["encoding_fallbacks"],
                 help="documents that were not UTF-8 and were read as cp1252 or latin-1 (encoding fallbacks)")
        d.metric("empty, dropped", summary["dropped_empty"], help="empty documents, left out of the corpus")
        if summary.get("cut_long"):  # absent from summaries staged before documents were cut
            longest = summary["max_doc_chars"]
            st.info(f"{summary['cut_long']:,} documents longer than {longest:,} characters keep their first "
                    f"{longest:,}: the encoder reads at most a document's first 512 word pieces, and the topic "
                    f"model has words enough in that much.")
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
        sizes = storage.corpus_disk_use(store)
        if saved:
            st.dataframe(storage_tables.corpora_frame(saved, sizes), hide_index=True,
                         column_config={"documents": st.column_config.NumberColumn(format="localized"),
                                        **DISK_COLUMNS})
            st.caption("Disk: the corpus as saved, and its cached word pieces and embeddings.")
        else:
            st.info("No corpus saved yet.")
        # the built-in sample comes back on every start: deleting it would free nothing for long
        deletable = {row["id"]: row["name"] for row in saved if row["name"] != saved_corpora.BUILTIN_NAME}
        if deletable:
            row = st.container(horizontal=True, vertical_alignment="bottom")
            chosen = row.selectbox("Corpus", list(deletable), format_func=deletable.__getitem__,
                                   key="corpora_delete_which")
            what = f"the corpus “{deletable[chosen]}” ({storage.format_bytes(sizes.get(chosen))})"
            delete_button("Delete corpus", chosen, what, lambda: storage.delete_corpus(store, chosen),
                          key="corpora_delete", where=row, forget=overview.clear,
                          help="its saved copy, cached word pieces and embeddings; its finished runs keep their "
                               "results, and a run still queued or running on it must be cancelled")

        st.subheader("Storage")
        freed = None
        if st.button("Free space", key="corpora_gc",
                     help="delete what no run needs: checkpoints of finished runs, files of deleted runs and "
                          "corpora, their cached word pieces and embeddings, and uploads never saved "
                          "(python -m topicbert gc)"):
            freed = storage.format_freed(storage.collect_garbage(store))
            overview.clear()
        st.dataframe(storage_tables.storage_frame(overview(str(store.path))), hide_index=True,
                     column_config=DISK_COLUMNS)
        if freed:
            st.text(freed)
