"""A prediction over a file as a job in the queue: the same bytes as `predict` in this process; cancelled midway
and resumed, every chunk classified once and the output the same; a job whose process is killed left interrupted
and resumable, then finished by the worker in a process of its own, metered; bad input refused before anything is
queued. A finished TF-IDF run is the model: each job costs a fraction of a second of classifying."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import synthetic_documents
from streamlit.testing.v1 import AppTest
from test_app_pages import ROOT, finish

from topicbert.cli import main
from topicbert.config import RunConfig, UserError
from topicbert.data.corpus import CorpusError, load_corpus
from topicbert.inference.model_folder import ModelFolderError
from topicbert.inference.predict_file import predict_file
from topicbert.runs import saved_corpora, services, storage
from topicbert.runs.store import Store
from topicbert.runs.worker import Worker
from topicbert.studio.classify import load_classifier
from topicbert.studio.predict_job import chunk_path, execute_job, submit_job
from topicbert.studio.text import escape

CHUNK = 8  # 42 rows: five chunks of 8 and one of 2


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A store with a finished TF-IDF run and a run still queued, and a file of 42 rows to classify."""
    folder = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("TOPICBERT_HOME", str(folder))
    patch.setenv("TOPICBERT_DEVICE", "cpu")
    corpus = folder / "tiny.csv"
    corpus.write_text("text,label\n" + "".join(f'"{text}",{label}\n' for text, label in synthetic_documents(30)))
    to_classify = folder / "new.csv"
    rows = synthetic_documents(14, seed=9)
    to_classify.write_text("doc,body\n" + "".join(f'd{i},"{text}"\n' for i, (text, _) in enumerate(rows)))
    with Store() as store:
        corpus_id = saved_corpora.register_corpus(store, load_corpus(corpus), "tiny")
        config = RunConfig(**saved_corpora.run_settings(store.get_corpus(corpus_id)), variant="tfidf")
        run_id = services.submit_run(store, config)[0]
        finish(store, run_id, config, watts=20.0)
        queued = store.create_run(config.replace(seed=5, device="cuda"))  # the CPU workers here leave it queued
    yield folder, run_id, queued, to_classify
    patch.undo()


@pytest.fixture
def store(home, monkeypatch):
    monkeypatch.setenv("TOPICBERT_HOME", str(home[0]))
    monkeypatch.setenv("TOPICBERT_DEVICE", "cpu")
    with Store() as opened:
        yield opened


def in_process(store: Store, run_id: int, corpus: Path, out: Path) -> bytes:
    """What `predict` writes for the same file, in this process."""
    predict_file(load_classifier(run_id, "cpu", store), corpus, out, text_col="body", id_col="doc",
                 every_probability=True, chunk_size=CHUNK, progress=False, meter=False)
    return out.read_bytes()


def queue(store: Store, run_id: int, corpus: Path, out: Path) -> int:
    return submit_job(store, run_id, corpus, out, text_col="body", id_col="doc", every_probability=True,
                      chunk_size=CHUNK, device="cpu")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_job_writes_byte_for_byte_what_predict_writes(home, store, tmp_path, suffix):
    _, run_id, _, corpus = home
    expected = in_process(store, run_id, corpus, tmp_path / f"direct{suffix}")
    job_id = queue(store, run_id, corpus, tmp_path / f"job{suffix}")
    assert store.claim_job(job_id, None) is not None
    assert execute_job(store, job_id, metered=False) == 0
    job = store.get_job(job_id)
    assert job["status"] == "done", job["error"]
    assert (tmp_path / f"job{suffix}").read_bytes() == expected
    assert (job["documents_done"], job["documents_total"], job["chunks_done"]) == (42, 42, 6)
    assert not chunk_path(job, 0).parent.exists()  # the chunk files went once OUT was whole


def test_cancelled_midway_and_resumed_each_chunk_is_classified_once(home, store, tmp_path, monkeypatch):
    _, run_id, _, corpus = home
    expected = in_process(store, run_id, corpus, tmp_path / "direct.csv")
    out = tmp_path / "job.csv"
    job_id = queue(store, run_id, corpus, out)
    classifier = load_classifier(run_id, "cpu", store)
    classify, seen = classifier.classify, []

    def counted(texts: list[str]):
        seen.append(texts[0])
        if len(seen) == 2:  # cancelled while its second chunk is classified: that chunk is finished and kept
            assert services.cancel_job(store, job_id)
        return classify(texts)
    monkeypatch.setattr(classifier, "classify", counted)
    store.claim_job(job_id, None)
    assert execute_job(store, job_id, classifier, metered=False) == 0
    job = store.get_job(job_id)
    assert (job["status"], job["chunks_done"], job["documents_done"]) == ("cancelled", 2, 2 * CHUNK)
    assert not out.exists()  # no half-written OUT
    assert chunk_path(job, 1).is_file() and not chunk_path(job, 2).exists()

    assert services.resume_job(store, job_id)
    store.claim_job(job_id, None)
    assert execute_job(store, job_id, classifier, metered=False) == 0
    assert store.get_job(job_id)["status"] == "done"
    assert len(seen) == 6 and len(set(seen)) == 6  # six chunks, each classified once
    assert out.read_bytes() == expected


def test_a_killed_job_is_interrupted_and_the_worker_finishes_it_once_resumed(home, store, tmp_path, capsys):
    _, run_id, _, corpus = home
    expected = in_process(store, run_id, corpus, tmp_path / "direct.csv")
    out = tmp_path / "job.csv"
    assert main(["predict", str(run_id), "--corpus", str(corpus), "--out", str(out), "--text-col", "body",
                 "--id-col", "doc", "--probabilities", "--chunk-size", str(CHUNK), "--device", "cpu",
                 "--queue"]) == 0
    job_id = int(capsys.readouterr().out.split("\t")[0])
    worker = Worker(store, device="cpu", poll_seconds=0.1)
    assert worker.claim()
    child = worker.jobs[job_id]
    os.killpg(child.popen.pid, signal.SIGKILL)  # long before it loaded the model and classified anything
    child.popen.wait()
    worker.reap()
    job = store.get_job(job_id)
    assert job["status"] == "interrupted" and "killed by signal 9" in job["error"]
    assert not out.exists()

    assert main(["resume-job", str(job_id)]) == 0
    assert worker.run(exit_when_idle=True) == 0  # the job's own process, metered, to the end
    job = store.get_job(job_id)
    assert job["status"] == "done", job["error"]
    assert out.read_bytes() == expected
    assert job["documents_done"] == 42 and job["energy_info"]["measured"]
    assert main(["jobs"]) == 0
    assert f"job {job_id:>4}  done" in capsys.readouterr().out


def test_a_job_whose_process_is_gone_is_interrupted_by_recovery(home, store, tmp_path):
    _, run_id, _, corpus = home
    job_id = queue(store, run_id, corpus, tmp_path / "job.csv")
    store.claim_job(job_id, None)
    store.set_job_process(job_id, 2**22 + 7, 2**22 + 7)  # no such process
    Worker(store, device="cpu").recover()
    job = store.get_job(job_id)
    assert job["status"] == "interrupted" and "is gone" in job["error"]
    assert services.resume_job(store, job_id) and store.get_job(job_id)["status"] == "queued"
    services.cancel_job(store, job_id)  # the worker of the next test leaves it be


def test_bad_input_is_refused_in_one_line_before_anything_is_queued(home, store, tmp_path, capsys):
    _, run_id, queued, corpus = home
    before = len(store.list_jobs())
    cases = [
        (ModelFolderError, lambda: queue(store, 9999, corpus, tmp_path / "a.csv"), "no run 9999"),
        (ModelFolderError, lambda: queue(store, queued, corpus, tmp_path / "a.csv"), "is queued"),
        (ModelFolderError, lambda: queue(store, str(tmp_path / "nowhere"), corpus, tmp_path / "a.csv"), "nowhere"),
        (CorpusError, lambda: submit_job(store, run_id, corpus, tmp_path / "a.csv", text_col="text"), "body"),
        (UserError, lambda: queue(store, run_id, corpus, tmp_path / "no" / "a.csv"), "does not exist"),
    ]
    for error, act, named in cases:
        with pytest.raises(error) as raised:
            act()
        assert named in str(raised.value) and "\n" not in str(raised.value)
    assert main(["predict", str(run_id), "--corpus", str(corpus), "--out", str(tmp_path / "a.csv"), "--text-col",
                 "body", "--label-col", "topic", "--queue"]) == 2
    assert "a queued job prints no F1" in capsys.readouterr().err
    assert len(store.list_jobs()) == before


def test_the_classify_page_queues_an_uploaded_file_and_offers_its_csv_when_done(home, store, monkeypatch):
    _, run_id, _, corpus = home
    started: list[int] = []
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: started.append(1) or True)
    at = AppTest.from_file(str(ROOT / "app_pages" / "7_Classify.py"), default_timeout=120)
    at.run()
    at.selectbox(key="classify_run").set_value(run_id).run()
    at.file_uploader(key="classify_file").upload("my <b>file</b>.csv", corpus.read_bytes()).run()
    at.text_input(key="classify_text_col").input("body").run()
    at.button(key="classify_queue").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = store.list_jobs(limit=1)[0]
    assert job["model"] == str(run_id) and job["status"] == "queued" and started == [1]
    assert f"prediction job {job['id']}" in at.success[0].value
    shown = f"Job {job['id']}: {escape('my <b>file</b>.csv')}, queued, documents not counted yet"  # as text
    assert shown in [m.value for m in at.markdown]
    download = f"classify_download_{job['id']}"
    assert download not in [button.key for button in at.get("download_button")]  # not before it is done

    store.claim_job(job["id"], None)
    assert execute_job(store, job["id"], metered=False) == 0
    at.run()
    assert [button.proto.label for button in at.get("download_button") if button.key == download] == ["Download CSV"]
    rows = Path(store.get_job(job["id"])["out"]).read_text().splitlines()
    assert len(rows) == 43 and rows[0].startswith("id,label,probability,flags,p_")
    storage.collect_garbage(store, now=time.time() + 30 * 86400)  # a month on: gc leaves a job's file and CSV
    out, upload = Path(store.get_job(job["id"])["out"]), Path(store.get_job(job["id"])["corpus"])
    assert out.is_file() and upload.is_file()
    assert storage.storage_overview(store)["prediction jobs"] >= out.stat().st_size + upload.stat().st_size

    at.text_input(key="classify_text_col").input("nope").run()
    at.button(key="classify_queue").click().run()
    assert "nope" in at.error[0].value and len(store.list_jobs()) == len(set(j["id"] for j in store.list_jobs()))


def test_the_runs_page_lists_a_job_with_its_progress_and_energy_and_cancels_and_resumes_it(home, store, tmp_path,
                                                                                            monkeypatch):
    _, run_id, _, corpus = home
    monkeypatch.setattr(services, "ensure_worker", lambda store, *a, **k: False)
    job_id = queue(store, run_id, corpus, tmp_path / "job.csv")
    store.claim_job(job_id, None)
    store.set_job_total(job_id, 42, {"measured": "cpu estimated (cpu_load, 85 W TDP)", "cpu_measured": False})
    assert store.record_job_chunk(job_id, 0, 8, 2e-6, 8e-7)
    assert not store.record_job_chunk(job_id, 0, 8, 2e-6, 8e-7)  # a chunk is counted once
    at = AppTest.from_file(str(ROOT / "app_pages" / "3_Runs.py"), default_timeout=120).run()
    assert not at.exception
    jobs = at.dataframe[-1].value
    row = jobs[jobs["job"] == job_id].iloc[0]
    assert (row["status"], row["documents"], row["energy used"]) == ("running", "8 / 42 documents", "2.00 mWh")
    assert row["progress"] == pytest.approx(8 / 42) and row["g CO2e"] == pytest.approx(8e-4)
    at.selectbox(key="runs_job").set_value(job_id).run()
    at.button(key="runs_job_cancel").click().run()
    assert store.get_job(job_id)["status"] == "cancelled"
    at.button(key="runs_job_resume").click().run()
    job = store.get_job(job_id)
    assert (job["status"], job["chunks_done"]) == ("queued", 1)  # it starts at its second chunk
    services.cancel_job(store, job_id)


def test_a_job_cancelled_elsewhere_is_killed_by_its_worker_and_stays_cancelled(home, store, tmp_path):
    _, run_id, _, corpus = home
    job_id = queue(store, run_id, corpus, tmp_path / "job.csv")
    worker = Worker(store, device="cpu", poll_seconds=0.1)
    assert worker.claim()
    child = worker.jobs[job_id]
    assert store.cancel_job(job_id) is not None  # as another host's page would: the row alone
    worker.enforce_cancels()
    assert child.popen.poll() is not None  # its process group is gone
    worker.reap()
    job = store.get_job(job_id)
    assert job["status"] == "cancelled" and not job["error"] and not (tmp_path / "job.csv").exists()
