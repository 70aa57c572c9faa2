"""A prediction over a file as a job in the queue (`predict ... --queue`, the Classify page's upload): queued in the
store, run by the worker in a process group of its own (`python -m topicbert predict-job JOB_ID`), metered by
codecarbon, cancelled and resumed as a run is.

The job's chunking lives here alone (`job_chunks`): each chunk's rows are written whole to a file of their own
(beside its name, then renamed) and only then counted done in the store, the count and the job's energy in one
step; a resumed job starts at the first chunk not counted. OUT is put together from the chunk files once every
chunk is done and renamed into place whole, so a cancelled, failed or killed job leaves no half-written OUT.
A Ray Data path would map the same chunks and write the same chunk files.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..config import UserError
from ..energy.meter import EnergyMeter
from ..inference.classifier import Classifier
from ..inference.model_folder import exported_model_parts
from ..inference.predict_file import (
    CHUNK_DOCUMENTS,
    InputChunk,
    OutputColumns,
    OutputFile,
    check_paths,
    output_rows,
    predict_chunks,
    read_chunks,
)
from ..paths import home
from ..runs.periodic import Periodic
from ..runs.store import ACTIVE, Store
from .classify import load_classifier, run_id_of, run_parts
from .run_identity import run_label
from .trust import measurement_badge
from .units import format_energy

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl")  # what predict reads
JOB_COLUMNS = ["job", "status", "model", "file", "documents", "progress", "energy used", "g CO2e", "energy"]


def submit_job(store: Store, model: str | int, corpus: Path, out: Path, text_col: str = "text",
               id_col: str | None = None, every_probability: bool = False, mixture: bool = False,
               chunk_size: int = CHUNK_DOCUMENTS, device: str = "auto", name: str | None = None) -> int:
    """Queue the prediction of `corpus` into `out` (.csv or .jsonl) by a finished run (its id) or a model folder;
    its id. What can be refused now is refused before anything is queued, in one line: an unknown or unfinished
    run, a folder missing a file, a corpus without the text column, an output in a folder that does not exist.
    `name`: the file's name as pages show it (default: the corpus's)."""
    if chunk_size < 1:
        raise UserError(f"--chunk-size must be at least 1, not {chunk_size}")
    corpus, out = Path(corpus).resolve(), Path(out).resolve()  # the job's process works in its own folder
    check_paths(corpus, out)
    run_id = run_id_of(model)
    if run_id is not None:
        run_parts(store, run_id)
    else:
        exported_model_parts(Path(str(model)))
    next(read_chunks(corpus, text_col, id_col, None, chunk_size=chunk_size), None)  # the columns, checked
    options = {"text_col": text_col, "id_col": id_col, "every_probability": every_probability, "mixture": mixture,
               "chunk_size": chunk_size, "device": device, "name": name or corpus.name}
    return store.create_job(str(model), str(corpus), str(out), options)


def job_chunks(job: dict, start_chunk: int = 0) -> Iterator[InputChunk]:
    """The job's input in its chunks, from chunk `start_chunk`: the one place the job is cut."""
    options = job["options"]
    return read_chunks(Path(job["corpus"]), options["text_col"], options["id_col"], None,
                       chunk_size=options["chunk_size"], start_chunk=start_chunk)


def chunk_path(job: dict, index: int) -> Path:
    return Path(job["job_dir"]) / "chunks" / f"{index:06d}{Path(job['out']).suffix.lower()}"


def assemble(job: dict, chunks: int) -> None:
    """OUT from the chunk files, in order (a CSV's header once), written beside it and renamed into place whole;
    the chunk files are removed after."""
    out = Path(job["out"])
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    csv_header = out.suffix.lower() == ".csv"
    try:
        with tmp.open("wb") as target:
            for index in range(chunks):
                with chunk_path(job, index).open("rb") as part:
                    if csv_header and index:
                        part.readline()  # each chunk file has the header: OUT keeps the first's
                    shutil.copyfileobj(part, target)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    shutil.rmtree(Path(job["job_dir"]) / "chunks", ignore_errors=True)


def _meter(metered: bool) -> tuple[EnergyMeter | None, dict]:
    if not metered:
        return None, {"measured": "not metered: metering off"}
    meter = EnergyMeter()
    return (meter if meter.start() else None), meter.info()


def execute_job(store: Store, job_id: int, classifier: Classifier | None = None, metered: bool = True) -> int:
    """Classify a claimed (running) job's chunks not yet done, then put OUT together and record the job done.
    0 done or stopped (cancelled meanwhile: it stops after the chunk in hand, which is kept), 1 failed."""
    job = store.get_job(job_id)
    assert job is not None and job["status"] == "running", f"job {job_id} is not claimed"
    meter = None
    try:
        options = job["options"]
        classifier = classifier or load_classifier(job["model"], options["device"], store)
        columns = OutputColumns(list(classifier.classes_), options["every_probability"],
                                classifier.topic_words() if classifier.has_topics else None, options["mixture"])
        total = job["documents_total"]
        if total is None:
            total = sum(len(chunk) for chunk in job_chunks(job))
        meter, energy_info = _meter(metered)
        store.set_job_total(job_id, total, energy_info)
        # energy continues from what earlier attempts of the job recorded
        base_kwh, base_co2e = job["kwh"] or 0.0, job["kg_co2e"] or 0.0
        chunks = job["chunks_done"]
        chunk_path(job, 0).parent.mkdir(parents=True, exist_ok=True)
        for chunk, predictions in predict_chunks(classifier, job_chunks(job, chunks)):
            output = OutputFile(chunk_path(job, chunk.index))
            try:
                output.write(output_rows(chunk, predictions, columns))
                output.commit()
            except BaseException:
                output.abort()
                raise
            reading = meter.read() if meter is not None else None
            recorded = store.record_job_chunk(job_id, chunk.index, len(chunk),
                                              base_kwh + reading.kwh if reading else None,
                                              base_co2e + reading.kg_co2e if reading else None)
            now = store.get_job(job_id)
            if not recorded or now is None or now["status"] != "running":
                log.info("job %s stopped after chunk %s: it is %s", job_id, chunk.index,
                         now["status"] if now else "deleted")
                return 0
            chunks = chunk.index + 1
        assemble(job, chunks)
    except Exception:
        log.exception("job %s failed", job_id)
        store.set_status(job_id, "failed", traceback.format_exc(), only_from=("running",), table="jobs")
        return 1
    finally:
        if meter is not None:
            meter.stop()
    store.set_status(job_id, "done", only_from=("running",), table="jobs")
    return 0


def run_job(job_id: int) -> int:
    """`python -m topicbert predict-job JOB_ID`, as the worker starts it: 0 done or stopped, 1 failed, 2 refused."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(levelname)s %(message)s")
    with Store() as store:
        job = store.get_job(job_id)
        if job is None:
            print(f"error: no prediction job {job_id} in {store.path}", file=sys.stderr)
            return 2
        if job["status"] == "queued" and store.claim_job(job_id, None, pid=os.getpid()) is None:
            print(f"error: job {job_id} was just claimed by another process", file=sys.stderr)
            return 2
        if job["status"] not in ("queued", "running"):
            print(f"error: job {job_id} is {job['status']}; resume it to run it again", file=sys.stderr)
            return 2
        with Periodic(store.another_connection, HEARTBEAT_SECONDS, lambda own: own.heartbeat_job(job_id)):
            return execute_job(store, job_id)


def job_line(job: dict) -> str:
    """One line: id, status, documents done of the total, energy, the file and the output."""
    progress = job_progress(job)
    energy = f"{job['kwh']:.6f} kWh" if job["kwh"] is not None else "- kWh"
    return f"job {job['id']:>4}  {job['status']:<11}  {progress:<22}  {energy}  {job['corpus']} -> {job['out']}"


# ---------------------------------------------------------------- what the pages show of jobs

def queue_upload(store: Store, run_id: int, name: str, data: bytes, text_col: str = "text",
                 id_col: str | None = None) -> int:
    """A file uploaded on the Classify page, kept in a folder of its own under TOPICBERT_HOME and queued for the
    run's model, its predictions a CSV beside it; a file predict cannot read is refused before it is kept."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UserError(f"{name}: predict reads CSV, TSV (.csv, .tsv, .txt) or JSONL (.jsonl) files, "
                        f"not {suffix or 'a file without a suffix'}")
    # not under uploads/, whose leftovers gc removes: a queued job's file and its predictions stay
    folder = home() / "jobs" / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    corpus = folder / f"input{suffix}"  # the user's file name is shown, never used as a path
    corpus.write_bytes(data)
    try:
        return submit_job(store, run_id, corpus, folder / "predictions.csv", text_col=text_col, id_col=id_col,
                          every_probability=True, name=name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def run_jobs(store: Store, run_id: int, limit: int = 5) -> list[dict]:
    """The newest prediction jobs of a run's model."""
    return [job for job in store.list_jobs(limit=200) if job["model"] == str(run_id)][:limit]


def job_progress(job: dict) -> str:
    """'120 / 1,000 documents', or what it says before the job counted its file."""
    total = job["documents_total"]
    return f"{job['documents_done']:,} / {total:,} documents" if total is not None else "documents not counted yet"


def finished_output(job: dict) -> Path | None:
    """A done job's predictions, while the file is there."""
    out = Path(job["out"])
    return out if job["status"] == "done" and out.is_file() else None


def jobs_frame(store: Store, limit: int = 50) -> pd.DataFrame:
    """One row per prediction job, newest first: status, model (its run's name, or its folder), documents done of
    the total and as a share, energy so far (cumulative over its attempts) with the badge runs get."""
    model_labels = {str(run["id"]): run_label(run) for run in store.run_choices(limit=1000)}
    rows = []
    for job in store.list_jobs(limit=limit):
        total, done = job["documents_total"], job["documents_done"]
        rows.append({
            "job": job["id"], "status": job["status"], "model": model_labels.get(job["model"], job["model"]),
            "file": job["options"].get("name") or Path(job["corpus"]).name,
            "documents": job_progress(job),
            "progress": 1.0 if job["status"] == "done" else (done / total if total else 0.0),
            "energy used": format_energy(job["kwh"]),
            "g CO2e": 1000 * job["kg_co2e"] if job["kg_co2e"] is not None else None,
            "energy": measurement_badge(job["energy_info"], None, active=job["status"] in ACTIVE).label})
    return pd.DataFrame(rows, columns=JOB_COLUMNS)
