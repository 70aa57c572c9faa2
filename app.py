"""The app: the sidebar's pages, and Home (what the Studio does, the worker, recent runs, the demo)."""
from pathlib import Path

import streamlit as st

from topicbert.config import UserError
from topicbert.runs import saved_corpora, services
from topicbert.runs.store import Store, hostname
from topicbert.runs.worker import WORKER_MAX_AGE
from topicbert.studio import home, launch, runs_table, units
from topicbert.studio.run_files import predictions_mtime
from topicbert.studio.text import escape
from widgets import RUN_COLUMNS, VALIDATION_NOTE, existing_run, page_setup

ROOT = Path(__file__).parent
REFRESH_SECONDS = 5


@st.fragment(run_every=REFRESH_SECONDS)
def live_status() -> None:
    with Store() as store:
        summary = runs_table.worker_summary(store, WORKER_MAX_AGE)
        recent = runs_table.runs_frame(store, limit=10)
    st.subheader("Worker")
    st.text(summary)
    st.subheader("Recent runs")
    if recent.empty:
        st.info("No runs yet: queue the demo above, or pick your own settings on the Train page.")
    else:
        st.dataframe(units.readable(recent), hide_index=True, column_config=RUN_COLUMNS,
                     placeholder="–")  # "–": not measured yet
        st.caption(VALIDATION_NOTE)


@st.cache_data(max_entries=8, show_spinner="Comparing the latest runs...")
def headline_of(ids: tuple[int, ...], baseline_id: int, mtimes: tuple[float, ...]) -> str:
    """The verdict card's first answer; again only when a run's predictions change (`mtimes`)."""
    with Store() as store:
        return home.comparison_card(store, list(ids), baseline_id).headline


@st.fragment(run_every=REFRESH_SECONDS)
def latest_answer() -> None:
    """Once a TopicBERT run and its baseline finished (the demo's, or any): the answer in a line, and the way to
    Compare, which opens on the same runs."""
    with Store() as store:
        latest = home.latest_comparison(store)
        if latest is None:
            return
        mtimes = tuple(predictions_mtime(existing_run(store, i)["run_dir"]) for i in latest.ids)
    headline = headline_of(tuple(latest.ids), latest.baseline_id, mtimes)
    runs = ", ".join(f"#{i}" for i in latest.ids)
    st.success(escape(f"Runs {runs} have finished. {headline}"), icon=":material/check_circle:")
    st.page_link("app_pages/4_Compare.py", label="The whole answer, with its figures, on Compare",
                 icon=":material/arrow_forward:")


@st.cache_resource(max_entries=2, show_spinner="Counting the demo corpus's word pieces...")
def demo_pieces(corpus_path: str, _corpus: dict) -> launch.CorpusPieces | None:
    """Once per corpus file while the app runs (keyed by its path, `_corpus` not hashed): tokenizing takes seconds."""
    return launch.demo_pieces(_corpus)


@st.cache_data(max_entries=4, show_spinner="Projecting the demo's duration from this machine's past runs...")
def demo_projection(corpus_path: str, finished: int, _corpus: dict) -> tuple[list | None, bool]:
    """Again only when another run finished (`finished`: how many have): their speed is what it rests on."""
    with Store() as store:
        return launch.demo_projection(store, _corpus, hostname(), demo_pieces(corpus_path, _corpus))


@st.fragment(run_every=REFRESH_SECONDS)
def demo_section(demo: dict) -> None:
    """The demo: while its runs wait or train, a button that waits and says why; otherwise one that queues it."""
    with Store() as store:
        state = home.demo_runs(store, demo)
        finished = sum(run["status"] == "done" for run in store.run_choices(limit=100_000))
        st.markdown(escape(launch.demo_description(demo, *demo_projection(demo["path"], finished, demo))))
        running = state is not None and state.running
        if st.button("Run the demo", type="primary", key="home_demo", disabled=running,
                     help=state.waiting_words() if state is not None and running else None):
            config = launch.demo_config(demo)
            st.session_state["home_demo_queued"] = services.submit_run(store, config,
                                                                       **services.baselines_for(config))
            services.ensure_worker(store)
            st.rerun()  # the whole page: "Recent runs" lists the runs just queued
        if state is not None and running:
            st.caption(escape(state.waiting_words()))
    ids = st.session_state.pop("home_demo_queued", None)
    if ids:
        st.success(f"Queued runs #{ids[0]} (TopicBERT), #{ids[1]} (BERT-512) and #{ids[2]} (TF-IDF). "
                   "Follow them on the Runs page; compare them on Compare once they finish.")


def home_page() -> None:
    page_setup("")

    st.title("TopicBERT Studio")
    st.markdown(
        "TopicBERT Studio fine-tunes **TopicBERT** (a BERT encoder that reads only 128 or 256 word pieces, "
        "helped by a neural topic model of the whole document), a **BERT-512** baseline and a **TF-IDF** "
        "reference on your corpus, in the background. It then shows what the cheaper model costs in macro-F1, "
        "with the noise of your test set, and what it saves in training time, energy and CO2.")

    with Store() as store:
        with st.spinner("Adding the built-in BBC News sample to the corpus list..."):
            saved_corpora.ensure_builtin_corpus(store)
        # training never runs in this process: a worker does, and one is started if none answers
        if services.ensure_worker(store):
            st.toast("Started a background worker.")

    # the answer first: once runs finished, it is what a person opens Home for
    latest_answer()
    st.subheader("Demo")
    with Store() as store:
        try:
            demo = saved_corpora.demo_corpus(store)
        except UserError as error:
            demo = None
            st.error(escape(error))
    if demo is None:
        st.info("No corpus in the list yet: add one on the Corpora page.")
    else:
        demo_section(demo)

    live_status()


# the sidebar: "Home" (not the script's file name "app"), then every page in app_pages/, in file order
# (not pages/: Streamlit lists that folder itself, and a page opened by its link then showed Home as "app")
PAGES = sorted((ROOT / "app_pages").glob("[!_]*.py"))
st.navigation([st.Page(home_page, title="Home", default=True),
               *(st.Page(str(page.relative_to(ROOT))) for page in PAGES)]).run()
