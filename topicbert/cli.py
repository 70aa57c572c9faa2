"""The command line: python -m topicbert {corpus check, train, submit, worker, status, cancel, resume,
export, gc, predict, export-model, bench, bench-merge, topics-bench}.

Every subcommand is defined here; each handler parses nothing itself and calls the library.
A person's mistake (a bad corpus, setting or encoder) prints one line and exits with 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .bench.variants import DEFAULT_CORPUS, DEFAULT_VARIANTS, RECOMMENDED_NAME, variant_name, variant_names
from .config import MODES, RECOMMENDED, VARIANTS, ConfigError, RunConfig, UserError
from .stats.time_to_accuracy import DEFAULT_TARGET

RUN_DEFAULTS = RunConfig(corpus="")


# ---------------------------------------------------------------- shared options

def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-col", default="text", help="column holding the document text")
    parser.add_argument("--label-col", default="label", help="column holding the class label")
    parser.add_argument("--split-col", default=None, help="column holding train/validation/test")


def add_patience_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patience", type=int, default=None,
                        help="stop after this many evaluations without a better validation macro-F1 "
                             "(default: off; --epochs is then the most it trains)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The settings of one run, shared by `train` and `submit`."""
    defaults = RUN_DEFAULTS
    parser.add_argument("--corpus", required=True, help="CSV, TSV, JSONL, ZIP or folder")
    add_corpus_options(parser)
    parser.add_argument("--variant", choices=VARIANTS, default=defaults.variant)
    parser.add_argument("--max-len", type=int, default=defaults.max_len, help="word pieces the encoder sees (32-512)")
    parser.add_argument("--mode", choices=MODES, default=defaults.mode)
    parser.add_argument("--tfidf-fusion", action="store_true",
                        help="the wide path: fuse the TF-IDF reference's class scores into the encoder's "
                             "predictions, weighted on validation (with --variant bert: BERT-128+TF-IDF)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="encoder learning rate")
    parser.add_argument("--n-topics", type=int, default=defaults.n_topics,
                        help="topics (default: chosen from the number of training documents)")
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--limit-train", type=int, default=None, help="stratified subset of training documents")
    parser.add_argument("--limit-eval", type=int, default=None, help="stratified subset of validation and of test")
    parser.add_argument("--eval-every", type=int, default=None, help="also evaluate every N steps")
    add_patience_option(parser)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--model", default="default", help="'default', a Hugging Face id in the cache, or a folder")
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, cuda or mps")
    parser.add_argument("--nproc", type=int, default=defaults.nproc, help="processes (torchrun) for one run")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        corpus=args.corpus, text_col=args.text_col, label_col=args.label_col, split_col=args.split_col,
        variant=args.variant, max_len=args.max_len, mode=args.mode, tfidf_fusion=args.tfidf_fusion,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, n_topics=args.n_topics, alpha=args.alpha,
        limit_train=args.limit_train, limit_eval=args.limit_eval, eval_every_steps=args.eval_every,
        early_stopping_patience=args.patience, seed=args.seed, model=args.model, device=args.device, nproc=args.nproc)


# ---------------------------------------------------------------- corpus, train

def cmd_corpus_check(args: argparse.Namespace) -> int:
    from .data.corpus import format_summary, load_corpus, summarize

    corpus = load_corpus(args.path, args.text_col, args.label_col, args.split_col)
    # imported once the corpus is read: a file the reader refuses costs neither torch's time nor its memory
    from .data.batching import tokenize
    from .model.encoders import load_tokenizer

    tokenizer = load_tokenizer(args.model)
    summary = summarize(corpus, lambda texts: [len(ids) for ids in tokenize(tokenizer, texts)])
    print(format_summary(summary))
    return 0


def cmd_corpus_stage(args: argparse.Namespace) -> int:
    from .runs.saved_corpora import stage_here

    stage_here(Path(args.path), args.name, args.text_col, args.label_col, args.split_col, Path(args.out),
               args.max_memory)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .training.callbacks import ProgressBar
    from .training.loop import train

    config = config_from_args(args)
    run_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"{config.name}-"))
    result = train(config, run_dir, callbacks=[] if args.json else [ProgressBar()])
    if result is None:  # a torchrun rank other than 0
        return 0
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>18}: {value}")
    return 0


# ---------------------------------------------------------------- the queue

def cmd_submit(args: argparse.Namespace) -> int:
    from .runs.services import ensure_worker, submit_seeds
    from .runs.store import Store
    from .runs.worker import WORKER_MAX_AGE

    # the runner works in the run's own folder: a path relative to here would not be found from there
    config = config_from_args(args).replace(corpus=os.path.abspath(args.corpus))
    with Store() as store:
        ids = submit_seeds(store, config, args.seeds, args.pair_baseline, args.tfidf_reference)
        for run_id in ids:
            run = store.get_run(run_id)
            assert run is not None  # queued just now: only an ended run can be deleted
            print(f"{run_id}\tqueued\t{run['name']}")
        if args.start_worker:
            ensure_worker(store)
        elif not store.alive_workers(WORKER_MAX_AGE):
            print("no worker is running: start one with `python -m topicbert worker`", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .runs.worker import serve

    return serve(exit_when_idle=args.exit_when_idle, max_parallel=args.max_parallel, poll_seconds=args.poll,
                 worker_id=args.worker_id, device=args.device, gpus=args.gpus, runs_per_gpu=args.runs_per_gpu,
                 ray_address=args.ray, cpus_per_run=args.cpus_per_run, insecure=args.insecure)


def cmd_runner(args: argparse.Namespace) -> int:
    from .runs.runner import run_one

    return run_one(args.run_id, args.resume)


def cmd_predict_job(args: argparse.Namespace) -> int:
    from .studio.predict_job import run_job

    return run_job(args.job_id)


def cmd_jobs(args: argparse.Namespace) -> int:
    from .runs.store import Store
    from .studio.predict_job import job_line

    with Store() as store:
        jobs = store.list_jobs(limit=args.limit)
        if not jobs:
            print(f"No prediction jobs yet in {store.path}: queue one with `python -m topicbert predict RUN "
                  "--corpus FILE --out OUT --queue`.")
        for job in jobs:
            print(job_line(job))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .runs.services import format_status
    from .runs.store import Store

    with Store() as store:
        rows = store.run_overview(args.run_id, limit=args.limit)
        if args.run_id is not None and not rows:
            print(f"error: no run {args.run_id}", file=sys.stderr)
            return 2
        if not rows:
            print(f"No runs yet in {store.path}. Queue one with\n"
                  "  python -m topicbert submit --corpus PATH --variant topicbert --max-len 128 --pair-baseline\n"
                  "and start a worker with `python -m topicbert worker` (or open the app).")
        for row in rows:
            print(format_status(row))
    return 0


def _act_on_run(run_id: int, act: Callable, done: Callable[[dict], str], refusal: str, job: bool = False) -> int:
    """Run `act(store, run_id)`; print `done(run)`, or why the run (with `job`, the prediction job) refused."""
    from .runs.store import Store

    with Store() as store:
        get = store.get_job if job else store.get_run
        if act(store, run_id):
            run = get(run_id)
            assert run is not None  # cancelled or queued again just now: not deleted
            print(done(run))
            return 0
        run = get(run_id)
        print(f"error: {'prediction job' if job else 'run'} {run_id} "
              + (f"is {run['status']}: {refusal}" if run else "does not exist"), file=sys.stderr)
        return 2


def cmd_cancel(args: argparse.Namespace) -> int:
    from .runs.services import cancel_run

    return _act_on_run(args.run_id, cancel_run, lambda run: f"{run['id']}\tcancelled", "nothing to cancel")


def cmd_cancel_job(args: argparse.Namespace) -> int:
    from .runs.services import cancel_job

    return _act_on_run(args.job_id, cancel_job, lambda job: f"{job['id']}\tcancelled", "nothing to cancel", job=True)


def cmd_resume_job(args: argparse.Namespace) -> int:
    from .runs.services import resume_job

    return _act_on_run(args.job_id, resume_job,
                       lambda job: f"{job['id']}\tqueued (resumes at document {job['documents_done'] + 1})",
                       "only an interrupted, cancelled or failed job can be resumed", job=True)


def cmd_resume(args: argparse.Namespace) -> int:
    from .runs.services import resume_run

    return _act_on_run(args.run_id, resume_run,
                       lambda run: f"{run['id']}\tqueued (resumes from step {run['checkpoint_step'] or 0})",
                       "only an interrupted, cancelled or failed run can be resumed")


def cmd_export(args: argparse.Namespace) -> int:
    from .runs.services import export_run
    from .runs.store import Store

    with Store() as store:
        if store.get_run(args.run_id) is None:
            print(f"error: no run {args.run_id}", file=sys.stderr)
            return 2
        for path in export_run(store, args.run_id, Path(args.out)):
            print(path)
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from .runs.storage import collect_garbage, format_freed
    from .runs.store import Store

    with Store() as store:
        print(format_freed(collect_garbage(store)))
    return 0


# ---------------------------------------------------------------- a finished model put to use

def cmd_export_model(args: argparse.Namespace) -> int:
    from .runs.store import Store
    from .studio.classify import export_run

    with Store() as store:
        print(export_run(store, args.run_id, Path(args.out)))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .inference.predict_file import check_paths, predict_file, report_path
    from .studio.classify import load_classifier

    if args.queue:
        return _queue_prediction(args)

    check_paths(Path(args.corpus), Path(args.out))  # before the model's seconds of loading
    classifier = load_classifier(args.run, device=args.device)
    report = predict_file(classifier, Path(args.corpus), Path(args.out), text_col=args.text_col, id_col=args.id_col,
                          label_col=args.label_col, require_label=args.label_col != "label",
                          every_probability=args.probabilities, mixture=args.mixture, chunk_size=args.chunk_size,
                          progress=not args.no_progress)
    for line in report.lines():
        print(line)
    print(f"wrote {args.out} and {report_path(Path(args.out))}")
    return 0


def _queue_prediction(args: argparse.Namespace) -> int:
    from .runs.store import Store
    from .studio.predict_job import submit_job

    if args.label_col != "label":  # asked for by name: the user expects an F1 the job will not give
        raise UserError(f"--label-col {args.label_col}: a queued job prints no F1; run predict without --queue "
                        "for it")
    with Store() as store:
        job_id = submit_job(store, args.run, Path(args.corpus), Path(args.out), text_col=args.text_col,
                            id_col=args.id_col, every_probability=args.probabilities, mixture=args.mixture,
                            chunk_size=args.chunk_size, device=args.device)
    print(f"{job_id}\tqueued: prediction job {job_id} writes {Path(args.out).resolve()} once every chunk is done; "
          "a worker runs it (`python -m topicbert worker`, or the app starts one)")
    return 0


def _add_model_commands(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser("predict", help="classify a file's texts with a finished run's model")
    predict.add_argument("run", help="a run id of the store, or a model folder (export-model)")
    predict.add_argument("--corpus", required=True, help="CSV, TSV or JSONL with a text column")
    predict.add_argument("--out", required=True, help="the predictions, .csv or .jsonl: one row per input row")
    predict.add_argument("--text-col", default="text", help="column holding the text")
    predict.add_argument("--id-col", default=None, help="column holding each row's id (default: its row number)")
    predict.add_argument("--label-col", default="label",
                         help="column holding the true label: where the file has it, macro-F1 is printed")
    predict.add_argument("--probabilities", action="store_true", help="also write every class's probability")
    predict.add_argument("--mixture", action="store_true", help="TopicBERT: also write every topic's share")
    predict.add_argument("--chunk-size", type=int, default=256, help="documents read, classified and written at once")
    predict.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or mps")
    predict.add_argument("--no-progress", action="store_true", help="no progress bar")
    predict.add_argument("--queue", action="store_true",
                         help="queue it as a job for the background worker instead (no F1 printed): `jobs` shows its "
                              "progress and energy, `cancel-job` and `resume-job` act on it")
    predict.set_defaults(handler=cmd_predict)

    export = commands.add_parser("export-model", help="write a run's model as a folder that loads without the store")
    export.add_argument("run_id", type=int)
    export.add_argument("--out", required=True, help="the new folder (it must not exist; its parent must)")
    export.set_defaults(handler=cmd_export_model)


# ---------------------------------------------------------------- the benchmark

def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.flops import peak_tflops
    from .bench.merge import baseline_from
    from .bench.plot import save_pareto_png
    from .bench.side_by_side import BenchPlan, bench_setting, run_bench
    from .bench.summary import report_text
    from .data.corpus import source_name
    from .training.device import choose_device

    base = RunConfig(corpus=args.corpus, text_col=args.text_col, label_col=args.label_col,
                     split_col=args.split_col, lr=args.lr, batch_size=args.batch_size, model=args.model,
                     device=args.device, seed=args.seed, cpu_bf16=not args.fp32, early_stopping_patience=args.patience)
    try:  # every name checked before anything trains
        variants = variant_names(args.variants, base)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    plan = BenchPlan(corpus=args.corpus, variants=variants, epochs=args.epochs, seeds=args.seeds,
                     limit_train=args.limit_train, limit_eval=args.limit_eval, hf_trainer=args.hf_trainer,
                     base=base, time_budget=args.time_budget, target=args.target,
                     peak_tflops=args.peak_tflops or peak_tflops(choose_device(args.device)))
    if args.baseline_from:
        seeds = range(args.seed, args.seed + args.seeds)
        try:
            earlier = json.loads(Path(args.baseline_from).read_text(encoding="utf-8"))
            baseline, overhead = baseline_from(args.baseline_from, earlier, bench_setting(plan), seeds)
        except (OSError, ValueError) as error:  # missing, not JSON, another setting, a seed it lacks
            raise ConfigError(f"--baseline-from: {error}") from None
        plan = dataclasses.replace(plan, baseline=baseline, baseline_overhead=overhead,
                                   baseline_source=args.baseline_from)
    # the JSON is rewritten after every row: a benchmark cut off keeps the rows it finished
    write = (lambda report: write_json(Path(args.json_file), report)) if args.json_file else None
    report = run_bench(plan, on_update=write)
    if write:
        write(report)
    print(report_text(report))
    if args.plot:
        save_pareto_png(report["rows"], Path(args.plot), title=source_name(args.corpus))
    return 0


def cmd_bench_merge(args: argparse.Namespace) -> int:
    from .bench.merge import merge_reports
    from .bench.plot import save_pareto_png
    from .bench.summary import report_text
    from .data.corpus import source_name

    reports = []
    for name in args.files:
        try:
            reports.append((name, json.loads(Path(name).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:  # a missing file, or not JSON
            raise ConfigError(f"{name}: not a bench JSON ({error})") from None
    try:
        report = merge_reports(reports, args.target)
    except ValueError as error:  # what differs or is missing, file by file
        raise ConfigError(f"cannot merge: {error}") from None
    if args.json_file:
        write_json(Path(args.json_file), report)
    print(report_text(report))
    if args.plot:
        save_pareto_png(report["rows"], Path(args.plot), title=source_name(report["corpus"]))
    return 0


def cmd_topics_bench(args: argparse.Namespace) -> int:
    from .bench import topics as topics_bench

    base = RunConfig(corpus=args.corpus, text_col=args.text_col, label_col=args.label_col, split_col=args.split_col,
                     n_topics=args.n_topics, limit_train=args.limit_train, limit_eval=args.limit_eval,
                     seed=args.seed, device=args.device, model=args.model, bow_min_df=args.bow_min_df,
                     bow_max_df=args.bow_max_df, bow_max_size=args.bow_max_size)
    listed = args.topic_models or ",".join(topics_bench.DEFAULT_MODELS)
    names = [name.strip() for name in listed.split(",") if name.strip()]
    try:
        report = topics_bench.run_topics_bench(base, names, args.seeds)
    except ValueError as error:  # a topic model's name
        raise ConfigError(str(error)) from None
    print(topics_bench.markdown_table(report))
    if args.json_file:
        write_json(Path(args.json_file), report)
    return 0


def write_json(path: Path, data: dict) -> None:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


# ---------------------------------------------------------------- the parser

def _add_queue_commands(commands: argparse._SubParsersAction) -> None:
    submit = commands.add_parser("submit", help="queue a run for the background worker")
    add_run_options(submit)
    submit.add_argument("--pair-baseline", action="store_true", help="also queue the matching BERT-512 baseline")
    submit.add_argument("--tfidf-reference", action="store_true",
                        help="also queue the TF-IDF reference on the same documents")
    submit.add_argument("--seeds", type=int, default=1,
                        help="queue this many seeds from --seed on, each with its baselines (Compare takes runs that "
                             "differ only by seed together, its verdicts over the seeds)")
    submit.add_argument("--start-worker", action="store_true", help="start a background worker if none is alive")
    submit.set_defaults(handler=cmd_submit)

    worker = commands.add_parser("worker", help="run queued runs, one process group each (or on a Ray cluster)")
    worker.add_argument("--exit-when-idle", action="store_true", help="stop once the queue is empty")
    worker.add_argument("--max-parallel", type=int, default=None,
                        help="runs at once (default: one per GPU, or 1 without GPUs; with --ray: as many as the "
                             "cluster has GPUs, Ray placing them)")
    worker.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the queue")
    worker.add_argument("--device", default=None, help="device kind served (default: detected)")
    worker.add_argument("--gpus", default=None,
                        help="GPUs to hand out, as nvidia-smi numbers them, like 0,1,3 (default: every GPU it sees); "
                             "each run gets its own")
    worker.add_argument("--runs-per-gpu", type=int, default=1,
                        help="runs that may share one GPU (default 1: never two runs on a GPU)")
    worker.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                        help="serve the queue on a Ray cluster: 'auto' (the cluster `ray start` made on this "
                             "machine) or its address, like 10.0.0.1:6379; this machine must be one of its nodes")
    worker.add_argument("--cpus-per-run", type=int, default=1,
                        help="with --ray: the CPUs each run's process asks Ray for")
    worker.add_argument("--insecure", action="store_true",
                        help="with --ray: join a cluster that asks for no token (anyone who reaches its ports can "
                             "run code on it and read the store); refused without this")
    worker.add_argument("--worker-id", type=int, default=None, help=argparse.SUPPRESS)
    worker.set_defaults(handler=cmd_worker)

    # what the worker starts for each run (through torchrun when a run asks for several processes)
    runner = commands.add_parser("runner")
    runner.add_argument("run_id", type=int)
    runner.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    runner.set_defaults(handler=cmd_runner)
    predict_job = commands.add_parser("predict-job")  # the worker starts it
    predict_job.add_argument("job_id", type=int)
    predict_job.set_defaults(handler=cmd_predict_job)

    status = commands.add_parser("status", help="one line per run: status, progress, F1, energy")
    status.add_argument("run_id", type=int, nargs="?", default=None)
    status.add_argument("--limit", type=int, default=50, help="newest runs shown")
    status.set_defaults(handler=cmd_status)

    jobs = commands.add_parser("jobs", help="one line per prediction job: status, documents done, energy")
    jobs.add_argument("--limit", type=int, default=50, help="newest jobs shown")
    jobs.set_defaults(handler=cmd_jobs)

    for name, handler, text in (("cancel", cmd_cancel, "stop a queued or running run"),
                                ("resume", cmd_resume, "queue an interrupted or cancelled run again")):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("run_id", type=int)
        parser.set_defaults(handler=handler)
    for name, handler, text in (("cancel-job", cmd_cancel_job, "stop a queued or running prediction job"),
                                ("resume-job", cmd_resume_job, "queue an interrupted or cancelled prediction job "
                                                               "again, from its first chunk not done")):
        parser = commands.add_parser(name, help=text)
        parser.add_argument("job_id", type=int, help="its id, as `jobs` lists it")
        parser.set_defaults(handler=handler)

    export = commands.add_parser("export", help="write a run's metrics and emissions as CSV")
    export.add_argument("run_id", type=int)
    export.add_argument("--out", required=True, help="folder for the CSV files")
    export.set_defaults(handler=cmd_export)

    gc = commands.add_parser("gc", help="delete what no run needs any more, and say what it freed")
    gc.set_defaults(handler=cmd_gc)


def _add_bench_command(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="every variant side by side, with energy and speedups")
    bench.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="default: ../shared/data/20news-bydate.zip")
    add_corpus_options(bench)
    bench.add_argument("--variants", default=DEFAULT_VARIANTS,
                       help="comma-separated, like bert-512,bert-128,topicbert-128-partition,tfidf; "
                            f"{RECOMMENDED_NAME}: the preset the Studio recommends ({variant_name(RECOMMENDED)}); "
                            "a suffix +tfidf adds the wide path (the TF-IDF reference fused into the encoder's "
                            "predictions, weighted on validation: bert-128+tfidf); +nogroup (random instead of "
                            "length-grouped batches), +compile (torch.compile), +unfused (Adam's step per tensor, "
                            "not fused) or +fp32 (float32 instead of bf16 autocast on CPU) adds an ablation row")
    bench.add_argument("--epochs", type=int, default=1, help="epochs (the most, with --patience)")
    add_patience_option(bench)
    bench.add_argument("--seeds", type=int, default=1, help="seeds per row: mean, spread and intervals over them")
    bench.add_argument("--seed", type=int, default=RUN_DEFAULTS.seed, help="the first seed")
    bench.add_argument("--limit-train", type=int, default=None)
    bench.add_argument("--limit-eval", type=int, default=None)
    bench.add_argument("--lr", type=float, default=RUN_DEFAULTS.lr)
    bench.add_argument("--batch-size", type=int, default=RUN_DEFAULTS.batch_size)
    bench.add_argument("--model", default="default")
    bench.add_argument("--device", default="auto")
    bench.add_argument("--fp32", action="store_true",
                       help="float32 for every row on CPU (the default: bf16 autocast where the CPU has bf16 in "
                            "hardware; CUDA: always bf16)")
    bench.add_argument("--hf-trainer", action="store_true", help="add the Hugging Face Trainer row")
    bench.add_argument("--time-budget", type=float, default=None,
                       help="seconds for the whole benchmark: a later seed of a row starts only if it fits")
    bench.add_argument("--target", type=_share, default=DEFAULT_TARGET,
                       help="time to accuracy: until a row's validation macro-F1 first reaches this share of "
                            "BERT-512's best (default 0.99, as MLPerf Training measures it)")
    bench.add_argument("--peak-tflops", type=float, default=None,
                       help="the device's peak TFLOP/s for model FLOPs utilisation (known GPUs: found by name)")
    bench.add_argument("--json", dest="json_file", default=None,
                       help="write everything to this file (rewritten after every row)")
    bench.add_argument("--plot", default=None, help="PNG of F1 against kWh with the Pareto front")
    bench.add_argument("--baseline-from", default=None, metavar="JSON",
                       help="finish an earlier bench's table: read BERT-512's seeds from its JSON (the same setting "
                            "on the same machine) instead of training it again")
    bench.set_defaults(handler=cmd_bench)


def _add_bench_merge_command(commands: argparse._SubParsersAction) -> None:
    merge = commands.add_parser("bench-merge", help="bench JSONs of one setting, run apart (other seeds), as one")
    merge.add_argument("files", nargs="+", help="bench --json files: the same corpus, epochs, limits, settings "
                                                "and machine, other seeds")
    merge.add_argument("--json", dest="json_file", default=None, help="write the merged report here")
    merge.add_argument("--plot", default=None, help="PNG of F1 against kWh with the Pareto front")
    merge.add_argument("--target", type=_share, default=None,
                       help="read the recorded validation curves at this share of BERT-512's best instead of the "
                            "first file's (one file alone: its time to accuracy at another target)")
    merge.set_defaults(handler=cmd_bench_merge)


def _share(text: str) -> float:
    """A share above 0 and at most 1, for argparse."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share above 0 and at most 1")
    return value


def _add_topics_bench_command(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("topics-bench", help="every topic model alone, against scikit-learn's LDA")
    bench.add_argument("--corpus", required=True, help="CSV, TSV, JSONL, ZIP or folder")
    add_corpus_options(bench)
    bench.add_argument("--topic-models", default=None,
                       help="comma-separated (default: every topic model and lda); a suffix +counts or +frequency "
                            "changes what the encoder reads (default log1p); lda is the reference")
    bench.add_argument("--n-topics", type=int, default=RUN_DEFAULTS.n_topics,
                       help="topics (default: chosen from the number of training documents, as a run does)")
    bench.add_argument("--bow-min-df", type=int, default=RUN_DEFAULTS.bow_min_df,
                       help="vocabulary: words in fewer training documents go")
    bench.add_argument("--bow-max-df", type=float, default=RUN_DEFAULTS.bow_max_df,
                       help="vocabulary: words in more than this share of the training documents go")
    bench.add_argument("--bow-max-size", type=int, default=RUN_DEFAULTS.bow_max_size,
                       help="vocabulary: at most this many words, the most frequent")
    bench.add_argument("--model", default="default",
                       help="the encoder whose embeddings CombinedTM reads: 'default', a cached Hugging Face id "
                            "or a folder")
    bench.add_argument("--seeds", type=int, default=1)
    bench.add_argument("--seed", type=int, default=RUN_DEFAULTS.seed, help="the first seed")
    bench.add_argument("--limit-train", type=int, default=None)
    bench.add_argument("--limit-eval", type=int, default=None)
    bench.add_argument("--device", default="auto")
    bench.add_argument("--json", dest="json_file", default=None, help="write {\"rows\": [...]} and more to this file")
    bench.set_defaults(handler=cmd_topics_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m topicbert", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    corpus = commands.add_parser("corpus", help="inspect a corpus")
    corpus_commands = corpus.add_subparsers(dest="corpus_command", required=True)
    check = corpus_commands.add_parser("check", help="read a corpus and print its summary")
    check.add_argument("path")
    add_corpus_options(check)
    check.add_argument("--model", default="default", help="tokenizer used to count word pieces")
    check.set_defaults(handler=cmd_corpus_check)
    # what the Corpora page runs in a child process for each upload
    stage = corpus_commands.add_parser("stage", help="read an upload for the Corpora page, in a process of its own")
    stage.add_argument("path")
    add_corpus_options(stage)
    stage.add_argument("--name", required=True, help="the file name its person chose")
    stage.add_argument("--out", required=True, help="where the parsed documents go (JSONL)")
    stage.add_argument("--max-memory", type=int, default=None, help="the most bytes of memory (address space) "
                       "reading may add beyond Python and its libraries; past it, a one-line error")
    stage.set_defaults(handler=cmd_corpus_stage)

    train = commands.add_parser("train", help="train and evaluate one model in this process")
    add_run_options(train)
    train.add_argument("--out", default=None, help="run folder (default: a new temporary folder)")
    train.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    train.set_defaults(handler=cmd_train)

    _add_queue_commands(commands)
    _add_model_commands(commands)
    _add_bench_command(commands)
    _add_bench_merge_command(commands)
    _add_topics_bench_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
