#!/usr/bin/env bash
# `make run`: the example origin and bulwark in front of it (examples/quickstart.yaml),
# with curl lines to try. Ctrl-C stops both.
set -euo pipefail
build_dir=${1:-build}
cd "$(dirname "$0")/.."

for port in 8080 8081 9901; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run-demo: 127.0.0.1:$port is already in use; stop what listens there first." >&2
    exit 1
  fi
done

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$build_dir/examples/origin/bulwark-origin" --listen 127.0.0.1:8081 &
pids+=($!)
"$build_dir/bulwark" serve --config examples/quickstart.yaml &
pids+=($!)

for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break
  sleep 0.1
done

cat <<'MSG'

bulwark is up on http://127.0.0.1:8080 (admin on http://127.0.0.1:9901), in front of
the example origin on http://127.0.0.1:8081. Try:

  curl -i http://127.0.0.1:8080/api/public/hello
  curl -i http://127.0.0.1:8080/api/data/hello
  curl -i -X PUT --data-binary 'bulwark' http://127.0.0.1:8080/api/data/greeting
  curl -i http://127.0.0.1:8080/api/secure -H 'X-User-Id: spoofed'   # not yet authenticated
  curl -i 'http://127.0.0.1:8080/api/../admin'                      # normalized, then 404
  curl -s http://127.0.0.1:8080/stats                               # origin's database queries
  curl -s http://127.0.0.1:9901/metrics | head -20
  curl -s http://127.0.0.1:9901/readyz

Access log lines (JSON) follow below. Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
