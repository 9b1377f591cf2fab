#!/usr/bin/env bash
# Multi-worker training on this machine: N run_pretraining processes, one cluster
# (MultiWorkerMirroredStrategy over 127.0.0.1), to try what N machines would do.
#   bash scripts/launch_workers.sh N [run_pretraining flags, e.g. --config configs/pretrain_tiny.yaml]
# Environment: PORT (first port, default 23456; workers use PORT .. PORT+N-1),
#   LOG_DIR (default out/workers: worker-I.log for each).
# On N machines, run the same command on each with its own TF_CONFIG instead (see README).
# train_batch_size stays the global batch; worker 0 writes the checkpoints.
# If a worker fails, the others stop within a minute (TF's heartbeat; --collective_timeout
# for one that hangs) and this script prints their error lines and exits 1.
# Rerunning the same command resumes from the last checkpoint.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: usage: bash scripts/launch_workers.sh N [run_pretraining flags]  (N >= 1 workers)" >&2
  exit 2
fi
n=$1
shift
. scripts/setup_env.sh
port=${PORT:-23456}
log_dir=${LOG_DIR:-out/workers}
mkdir -p "$log_dir"
hosts=""
for ((i = 0; i < n; i++)); do
  hosts+="${hosts:+,}\"127.0.0.1:$((port + i))\""
done
pids=()
for ((i = 0; i < n; i++)); do
  TF_CONFIG="{\"cluster\": {\"worker\": [$hosts]}, \"task\": {\"type\": \"worker\", \"index\": $i}}" \
    "$PY" run_pretraining.py --distribution_strategy multi_worker "$@" >"$log_dir/worker-$i.log" 2>&1 &
  pids+=($!)
  echo "worker $i: pid ${pids[$i]}, log $log_dir/worker-$i.log"
done
# The others stop on their own when one fails (TF's heartbeat, or --collective_timeout).
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for ((i = 0; i < n; i++)); do
  line=$(grep '^error: ' "$log_dir/worker-$i.log" | tail -n 1 || true)
  if [ -n "$line" ]; then echo "worker $i: $line" >&2; fi
done
exit $status
