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

# Demo keys, made once: an HS256 secret and an ES256 key pair for the issuer "demo".
bulwark="$build_dir/bulwark"
if [ ! -f examples/keys/hs256/secret ]; then
  "$bulwark" keys generate --alg HS256 --out examples/keys/hs256 >/dev/null
fi
if [ ! -f examples/keys/es256/private.pem ]; then
  "$bulwark" keys generate --alg ES256 --kid demo-es256 --out examples/keys/es256 >/dev/null
fi
"$bulwark" check examples/quickstart.yaml >/dev/null
token=$("$bulwark" token --config examples/quickstart.yaml --issuer demo --sub alice \
  --scope read --ttl 10m)
es_token=$("$bulwark" token --config examples/quickstart.yaml --issuer demo --sub bob \
  --scope "read write" --ttl 10m --key examples/keys/es256/private.pem)
no_scope_token=$("$bulwark" token --config examples/quickstart.yaml --issuer demo --sub carol \
  --ttl 10m)

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

cat <<MSG

bulwark is up on http://127.0.0.1:8080 (admin on http://127.0.0.1:9901), in front of
the example origin on http://127.0.0.1:8081. Tokens for the issuer "demo" (10 minutes;
mint more with: $bulwark token --config examples/quickstart.yaml --issuer demo --sub NAME --scope read):

  export TOKEN=$token
  export ES_TOKEN=$es_token
  export NO_SCOPE=$no_scope_token

Try:

  curl -i http://127.0.0.1:8080/api/public/hello                   # open route, stored (Cache-Status)
  curl -i http://127.0.0.1:8080/api/public/hello                   # again: a hit, with Age
  curl -i http://127.0.0.1:8080/api/secure                         # 401: no token
  curl -i http://127.0.0.1:8080/api/secure -H "Authorization: Bearer \$TOKEN"
  curl -i http://127.0.0.1:8080/api/secure -H "Authorization: Bearer \$ES_TOKEN"
  curl -i http://127.0.0.1:8080/api/secure -H "Authorization: Bearer \$NO_SCOPE"   # 403
  curl -i http://127.0.0.1:8080/api/secure -H "Authorization: Bearer \$TOKEN" -H 'X-User-Id: spoofed'
  curl -i http://127.0.0.1:8080/api/data/hello -H "Authorization: Bearer \$TOKEN"   # twice: alice's entry
  curl -i -X PUT --data-binary 'bulwark' http://127.0.0.1:8080/api/data/greeting -H "Authorization: Bearer \$TOKEN"
  $bulwark token verify "\$TOKEN" --config examples/quickstart.yaml
  curl -i 'http://127.0.0.1:8080/api/../admin'                      # normalized, then 404
  curl -s http://127.0.0.1:8080/stats                               # origin's database queries
  curl -s http://127.0.0.1:9901/metrics | head -20
  curl -s http://127.0.0.1:9901/readyz
  curl -s -X POST -d '{"prefix": "/api/"}' http://127.0.0.1:9901/cache/purge
  curl -s -X POST -d '{"sub": "alice"}' http://127.0.0.1:9901/auth/revoke    # then \$TOKEN gets 401

Many instances sharing one Redis (global limits, shared cache, revocations everywhere): add
  state: {redis: redis://127.0.0.1:6379/0}
to the config of each (docs/operations.md, "Many instances").

Access log lines (JSON) follow below. Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
