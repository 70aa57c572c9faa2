"""Some rows of the bench, measured as the bench measures them (bench.side_by_side.measure_variant) but without
its BERT-512 baseline: for a row before and after a change of code, when the baseline is not what changed and
would cost most of the time. The JSON keeps the bench's measurements (with each seed's test predictions), which
benchmarks/compare_benches.py pairs seed by seed. Run it against another checkout's code with that checkout
first on PYTHONPATH, and -P so that Python does not look in the folder it is run from first:

    PYTHONPATH=/path/to/other/checkout:. python -P -m benchmarks.bench_rows --corpus ../shared/data/reuters8 \\
        --variants topicbert-128 --epochs 2 --limit-train 1500 --limit-eval 500 --seeds 3 --json before.json
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import script_parser
from topicbert.bench.side_by_side import measure_variant, parse_variant
from topicbert.config import RunConfig
from topicbert.data.splits import load_run_corpus, prepare_data
from topicbert.model.encoders import load_tokenizer

# every row pays for its embeddings and its topic model's pretraining, as the bench's rows do; code from before
# either setting has no such setting (and pays anyway)
EVERY_ROW_PAYS: dict[str, Any] = {name: False for name in ("embedding_cache", "topic_model_cache")
                  if name in {f.name for f in dataclasses.fields(RunConfig)}}


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, __file__)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--variants", required=True, help="comma-separated bench variants, e.g. topicbert-128")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--limit-eval", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", dest="json_file", required=True)
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    tokenizer = load_tokenizer("default")
    pad_id = tokenizer.pad_token_id or 0
    measurements: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seed, args.seed + args.seeds):
            # as the bench: one subset per seed, no resumable checkpoints, embeddings paid by each row
            seeded = RunConfig(corpus=args.corpus, epochs=args.epochs, seed=seed, limit_train=args.limit_train,
                               limit_eval=args.limit_eval, resumable_checkpoints=False, **EVERY_ROW_PAYS)
            corpus = load_run_corpus(seeded)
            for name in names:
                config = seeded.replace(**parse_variant(name))
                data = prepare_data(config, tokenizer, corpus)
                m = measure_variant(config, data, Path(tmp) / f"{name}-{seed}", pad_id)
                measurements[name].append(m.to_record())
                print(f"[bench_rows] {name} seed {seed}: test macro-F1 {m.test_macro_f1:.4f}", flush=True)
                Path(args.json_file).write_text(json.dumps({"corpus": args.corpus, "epochs": args.epochs,
                                                            "limit_train": args.limit_train,
                                                            "limit_eval": args.limit_eval,
                                                            "measurements": measurements}))


if __name__ == "__main__":
    main()
