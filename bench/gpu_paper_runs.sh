#!/usr/bin/env bash
# Run every chapter's `paper` preset on a CUDA machine, all chapters at once (one process each,
# sharing the GPU), each under a time limit; then the batched trainer's CUDA check.
# Writes $OUT/paper_logs.txt (timings and logs) and $OUT/paper_rows.json (each chapter's paper-vs-ours
# rows at paper scale). Needs python3 with torch, numpy, scipy, matplotlib, tqdm.
#   OUT=/tmp/out LIMIT=540 bash bench/gpu_paper_runs.sh [module[:FIELD=VALUE,...] ...]
# e.g. `specialization:flow_time=500` runs that chapter's paper preset with an override.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/paper_out}; LIMIT=${LIMIT:-540}
mods=("$@"); [ ${#mods[@]} -eq 0 ] && mods=(xor specialization alignment gram rare_minima)
export PYTHONPATH=$PWD/lib OMP_NUM_THREADS=3
mkdir -p "$OUT" /tmp/paper_rows /tmp/paper_logs
{ nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > /tmp/paper_logs/00_machine.log 2>&1
python3 bench/cuda_check.py > /tmp/paper_logs/01_cuda_check.log 2>&1
for spec in "${mods[@]}"; do
  m=${spec%%:*}; sets=(); [ "$spec" != "$m" ] && IFS=, read -ra sets <<< "${spec#*:}"
  ( start=$(date +%s)
    timeout "$LIMIT" python3 bench/chapter_times.py --presets paper --modules "$m" --set "${sets[@]}" --device cuda --threads 3 --rows /tmp/paper_rows > "/tmp/paper_logs/$m.log" 2>&1
    echo "exit code $? after $(( $(date +%s) - start )) s (limit $LIMIT s)" >> "/tmp/paper_logs/$m.log" ) &
done
wait
for f in /tmp/paper_logs/*.log; do echo "== $(basename "$f")"; tail -n 40 "$f"; done > "$OUT/paper_logs.txt"
python3 -c "import json, glob, sys; json.dump([json.load(open(f)) for f in sorted(glob.glob('/tmp/paper_rows/*.json'))], open(sys.argv[1], 'w'), indent=1)" "$OUT/paper_rows.json"
cat "$OUT/paper_logs.txt"
