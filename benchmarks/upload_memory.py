"""Peak memory of reading an upload against its size, and issue 33's ZIP bomb (BENCHMARKS.md, "Uploads:
memory against size").

    python -m benchmarks.upload_memory --sizes 10,100,1000 --stage-up-to 100
    python -m benchmarks.upload_memory --sizes 10,100 --tree /path/to/an/older/checkout   # the same, before

Honest text (words drawn from a Zipf vocabulary of 20,000, documents of about 2,000 characters in 20
classes) is written as a CSV and as a ZIP of class folders, each holding --sizes megabytes of text. Each
is then read in a process of its own, whose peak resident memory (RSS, from wait4) is the figure:
- read: load_corpus and save_corpus, what reading keeps and writes;
- stage: `python -m topicbert corpus stage`, what the Corpora page runs: reading, counting every
  document's word pieces with the default tokenizer, saving (up to --stage-up-to megabytes: the word
  pieces of 1 GB take long on 2 cores).
With --one-row MB, a CSV and a JSONL file whose one row holds that many megabytes of text are read too: the
reader reads the line in pieces and keeps the document's first 2**20 characters as it reads.
Last, issue 33's ZIP bomb (10 documents of 95 MB in class folders, about 3 MB on disk) goes to
`corpus check` and `corpus stage`: its peak memory, the seconds to refusal and its message.
Seconds are wall time on whatever else the machine runs; memory is the child's own.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmarks import script_parser

ROOT = Path(__file__).resolve().parents[1]
DOC_CHARS = 2000
N_CLASSES = 20
VOCABULARY = 20_000


def honest_documents(n_bytes: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    """(text, label) of about DOC_CHARS characters each until n_bytes of text: words of 3-10 letters drawn
    with Zipf frequencies, each class preferring its own share of the vocabulary."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
    words = np.array(["".join(rng.choice(letters, size=rng.integers(3, 11))) for _ in range(VOCABULARY)])
    weights = 1.0 / np.arange(1, VOCABULARY + 1)
    weights /= weights.sum()
    written, i = 0, 0
    while written < n_bytes:
        label = i % N_CLASSES
        picks = rng.choice(VOCABULARY, size=DOC_CHARS // 7, p=weights)
        text = " ".join(words[(picks + label * 997) % VOCABULARY])
        written += len(text)
        i += 1
        yield text, f"class{label:02d}"


def write_csv(path: Path, n_bytes: int) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for text, label in honest_documents(n_bytes):
            writer.writerow([text, label])
            n += 1
    return n


def write_zip(path: Path, n_bytes: int) -> int:
    n = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for text, label in honest_documents(n_bytes):
            archive.writestr(f"{label}/{n:07d}.txt", text)
            n += 1
    return n


def write_bomb(path: Path) -> None:
    """Issue 33's ZIP bomb at `path`: class folders holding 10 documents of 95 MB each (950 MB of text in about
    3 MB on disk). tests/test_upload_limits.py uploads it too."""
    block = (b"the quick brown fox jumps over the lazy dog " * 24_000)[:1 << 20]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(10):
            with archive.open(f"{'ab'[i % 2]}/{i}.txt", "w", force_zip64=True) as member:
                for _ in range(95):
                    member.write(block)


# Started from a small process of its own: Linux keeps the high-water mark of the memory a child had before
# exec, and a child forked from this process (its generator and ZIP index) would start at this one's size.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""
# What the read rows measure, in the child: the reader and the saved copy (the tree's topicbert, from PYTHONPATH)
READ = ("import sys; from topicbert.data.corpus import load_corpus, save_corpus; "
        "save_corpus(load_corpus(sys.argv[1]), sys.argv[2])")


def measure(command: list[str], tree: Path, home: Path) -> tuple[int, float, float, str]:
    """Exit status, peak RSS in MiB and seconds of one child, and the last line it wrote to stderr."""
    env = {**os.environ, "PYTHONPATH": str(tree), "TOPICBERT_HOME": str(home)}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", LAUNCHER, *command], cwd=tree, env=env, capture_output=True,
                         text=True, errors="replace")
    seconds = time.perf_counter() - start
    code, peak_kib = map(int, run.stdout.split())
    lines = run.stderr.strip().splitlines()
    return code, peak_kib / 1024, seconds, lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--sizes", default="10,100,1000", help="megabytes of text, comma-separated")
    parser.add_argument("--stage-up-to", type=float, default=100,
                        help="run `corpus stage` on corpora up to this many megabytes")
    parser.add_argument("--formats", default="csv,zip")
    parser.add_argument("--tree", default=str(ROOT), help="the source tree whose reader is measured")
    parser.add_argument("--work", default=None, help="folder for the generated files (default: a temporary one)")
    parser.add_argument("--one-row", type=float, default=None, help="also read a CSV whose one row holds this "
                        "many megabytes of text")
    parser.add_argument("--no-bomb", action="store_true")
    args = parser.parse_args(argv)
    tree = Path(args.tree).resolve()
    work = Path(args.work or tempfile.mkdtemp(prefix="upload_memory-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    print(f"tree {tree}, files in {work}")
    print("| format | MB of text | documents | on disk (MB) | what | peak RSS (MiB) | RSS per byte of text | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in [float(s) for s in args.sizes.split(",")]:
        for form in args.formats.split(","):
            path = work / f"honest_{size:g}MB.{form}"
            count = path.with_name(path.name + ".docs")
            if not count.exists():  # the files stay between runs in --work: writing 1 GB takes minutes
                count.write_text(str((write_csv if form == "csv" else write_zip)(path, int(size * 1e6))))
            n_docs = int(count.read_text())
            disk = path.stat().st_size / 1e6
            rows = [("read", [sys.executable, "-c", READ, str(path), str(work / "out.jsonl")])]
            if size <= args.stage_up_to:
                rows.append(("stage", [sys.executable, "-m", "topicbert", "corpus", "stage", str(path), "--name",
                                       path.name, "--out", str(work / "staged.jsonl")]))
            for what, command in rows:
                code, peak, seconds, last = measure(command, tree, home)
                if code != 0:
                    print(f"| {form} | {size:g} | {n_docs:,} | {disk:,.0f} | {what} | failed ({code}): {last} | | |")
                    continue
                print(f"| {form} | {size:g} | {n_docs:,} | {disk:,.0f} | {what} | {peak:,.0f} | "
                      f"{peak * 2**20 / (size * 1e6):.2f} | {seconds:,.0f} |", flush=True)
            if not args.work:
                path.unlink()
                count.unlink()
    for form in ("csv", "jsonl") if args.one_row else ():
        path = work / f"one_row_{args.one_row:g}MB.{form}"
        long_text = "word " * int(args.one_row * 2e5)
        documents = [(long_text, "a"), *((f"short document {i}", "ab"[i % 2]) for i in range(6))]
        with path.open("w", encoding="utf-8") as f:
            if form == "csv":
                f.write("text,label\n")
                f.writelines(f"{text},{label}\n" for text, label in documents)
            else:
                f.writelines(json.dumps({"text": text, "label": label}) + "\n" for text, label in documents)
        del long_text, documents
        code, peak, seconds, last = measure([sys.executable, "-c", READ, str(path), str(work / "out.jsonl")], tree,
                                            home)
        print(f"\none row of {args.one_row:g} MB, {form}: exit {code}, peak RSS {peak:,.0f} MiB, "
              f"{seconds:.1f} s {last}")
        path.unlink()
    if not args.no_bomb:
        bomb = work / "bomb.zip"
        write_bomb(bomb)
        print(f"\nissue 33's ZIP bomb: {bomb.stat().st_size / 2**20:.1f} MiB on disk")
        for what in ("check", "stage"):
            command = [sys.executable, "-m", "topicbert", "corpus", what, str(bomb)]
            command += ["--name", "bomb.zip", "--out", str(work / "bomb.staged.jsonl")] if what == "stage" else []
            code, peak, seconds, last = measure(command, tree, home)
            print(f"corpus {what}: exit {code}, peak RSS {peak:,.0f} MiB, {seconds:.1f} s: {last}")


if __name__ == "__main__":
    main()
