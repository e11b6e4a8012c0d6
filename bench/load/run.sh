#!/usr/bin/env bash
# bench/load/run.sh BUILD_DIR — side-by-side load benchmark (`make bench`).
#
# Starts the example origin, bulwark and the peer proxies (nginx, HAProxy, Varnish) on free
# loopback ports, runs wrk against each in turn (alternating, several runs), prints a table
# and the bulwark/peer ratios, and writes BUILD_DIR/bench-results.json. See bench/README.md.
#
# Scenarios (BENCH_SCENARIOS): direct (the origin alone), proxy (bulwark vs nginx), jwt
# (bearer JWT + proxy: bulwark vs HAProxy jwt_verify), and opt-in: limit (per-IP rate limit:
# bulwark vs HAProxy stick-table vs nginx limit_req), cache (cache hits of a public
# max-age=60 GET: bulwark vs nginx proxy_cache, HAProxy cache, Varnish), cache-jwt (JWT +
# per-IP limit + cache hit: bulwark vs HAProxy), state (JWT + per-sub limit + cache hit:
# bulwark with Redis shared state vs bulwark with local state vs the Python FastAPI + Redis
# reference stack, with Redis commands per request). The cache scenarios check that each
# target really serves hits: every run uses a path of its own, fetched once just before, and
# stops the script if more than 1 % of the run's requests reached the origin (its GET /stats).
#
# Environment (all optional):
#   BENCH_DURATION=10s      wrk duration per measured run (N, Ns or Nm)
#   BENCH_WARMUP=2s         wrk warm-up per target, not recorded (0 skips it)
#   BENCH_CONNECTIONS=64    wrk -c
#   BENCH_THREADS=2         wrk -t
#   BENCH_RUNS=2            measured runs per proxy target (alternating bulwark, peer, ...)
#   BENCH_SCENARIOS="direct proxy jwt"   which scenario_* functions to run, in order
#   BENCH_JWT_ALGS="HS256 ES256"   jwt scenario: which token algorithms, in order
#                           (limit, cache, cache-jwt and state are opt-in: BENCH_SCENARIOS="... limit",
#                           BENCH_SCENARIOS="cache cache-jwt" runs the cache ones alone)
#   BENCH_PYTHON=/usr/bin/python3   state: the interpreter with Debian's python3-fastapi,
#                           -jwt, -limits, -redis and -uvicorn (install-deps.sh --bench)
#   BENCH_PERF=0            1: after the measured runs, profile bulwark with `perf record`
#                           during one extra (unrecorded) run; report in BUILD_DIR/bench-perf.txt
#   BENCH_KEEP=0            1: keep the temp dir (configs, logs) even on success
#
# Adding a scenario: write scenario_NAME (start what it needs with start_bulwark /
# start_nginx / start_haproxy / start_varnish, then call run_alternating NAME
# label=url=pid ...), add NAME to the default list (or document it as opt-in). Every target
# whose label starts with "bulwark" (bulwark, bulwark-nocache) is compared with every other
# target recorded under the same scenario label. A scenario may record several labels (jwt
# records jwt-hs256 and jwt-es256).
# Everything started goes through start_bg, so the EXIT trap stops it by PID.
set -euo pipefail

build_dir=${1:-build}
build_dir=$(cd "$build_dir" && pwd)
cd "$(dirname "$0")/../.."

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------------------------------
# Settings
to_seconds() {  # 10, 10s, 1m -> seconds
  local v=$1
  case "$v" in
    *[0-9]s) echo "${v%s}" ;;
    *[0-9]m) echo $(( ${v%m} * 60 )) ;;
    *[0-9]) echo "$v" ;;
    *) die "bad duration '$v' (use N, Ns or Nm)" ;;
  esac
}
duration_s=$(to_seconds "${BENCH_DURATION:-10s}")
warmup_s=$(to_seconds "${BENCH_WARMUP:-2s}")
connections=${BENCH_CONNECTIONS:-64}
wrk_threads=${BENCH_THREADS:-2}
runs=${BENCH_RUNS:-2}
read -r -a scenarios <<<"${BENCH_SCENARIOS:-direct proxy jwt}"
read -r -a jwt_algs <<<"${BENCH_JWT_ALGS:-HS256 ES256}"
bench_path=/api/public/hello
[[ "$duration_s" =~ ^[0-9]+$ && "$duration_s" -ge 1 ]] || die "BENCH_DURATION must be >= 1s"
[[ "$connections" =~ ^[0-9]+$ && "$runs" =~ ^[0-9]+$ && "$wrk_threads" =~ ^[0-9]+$ ]] ||
  die "BENCH_CONNECTIONS, BENCH_RUNS and BENCH_THREADS must be integers"

bulwark_bin=$build_dir/bulwark
origin_bin=$build_dir/examples/origin/bulwark-origin
results_json=$build_dir/bench-results.json
[[ -x "$bulwark_bin" ]] || die "$bulwark_bin not found: build first (make build)"
[[ -x "$origin_bin" ]] || die "$origin_bin not found: build first (make build)"
needed_tools=(wrk)
[[ " ${scenarios[*]} " == *" proxy "* ]] && needed_tools+=(nginx)
[[ " ${scenarios[*]} " == *" jwt "* ]] && needed_tools+=(haproxy openssl curl)
[[ " ${scenarios[*]} " == *" limit "* ]] && needed_tools+=(haproxy nginx curl)
[[ " ${scenarios[*]} " == *" cache "* ]] && needed_tools+=(nginx haproxy varnishd curl)
[[ " ${scenarios[*]} " == *" cache-jwt "* ]] && needed_tools+=(haproxy openssl curl)
[[ " ${scenarios[*]} " == *" state "* ]] && needed_tools+=(redis-server redis-cli openssl curl)
for tool in "${needed_tools[@]}"; do
  command -v "$tool" >/dev/null || die "$tool not found: scripts/install-deps.sh --bench"
done
for alg in "${jwt_algs[@]}"; do
  [[ "$alg" == HS256 || "$alg" == ES256 ]] || die "BENCH_JWT_ALGS: '$alg' is not HS256 or ES256"
done
clk_tck=$(getconf CLK_TCK)

# ---------------------------------------------------------------------------------------
# Processes: everything we start is recorded here and stopped by PID on exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-bench.XXXXXX")
pids=()
names=()
started_any=0  # keep the temp dir on failure only when it holds logs worth reading

# "PID:STARTTIME" of PID's child processes (nginx workers, varnishd's cache process): the
# start time (/proc/PID/stat field 22) tells a leftover child from a later process that
# reused its PID.
child_ids() {
  local c stat
  local -a f
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    stat=$(cat /proc/"$c"/stat 2>/dev/null) || continue
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    echo "$c:${f[19]}"
  done
}

still_running() {  # PID:STARTTIME
  local stat
  local -a f
  stat=$(cat /proc/"${1%%:*}"/stat 2>/dev/null) || return 1
  stat=${stat##*) }
  read -r -a f <<<"$stat"
  [[ "${f[19]}" == "${1#*:}" && "${f[0]}" != Z ]]
}

stop_pid() {  # PID: TERM, wait up to 5 s, then KILL; then the same for children it left
  local pid=$1 i kids k
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kids=$(child_ids "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  # A parent that stops normally takes its children along (varnishd's manager stops its
  # cache process on SIGTERM); one that was killed may leave them behind, orphaned.
  for k in $kids; do
    for i in $(seq 1 30); do
      still_running "$k" || break
      ((i != 10)) || kill -TERM "${k%%:*}" 2>/dev/null || true
      sleep 0.1
    done
    if still_running "$k"; then
      log "child pid ${k%%:*} of $pid outlived it; sending SIGKILL"
      kill -KILL "${k%%:*}" 2>/dev/null || true
    fi
  done
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  [[ -z "${wrk_pid:-}" ]] || stop_pid "$wrk_pid"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  if [[ ($rc -ne 0 && $started_any == 1) || "${BENCH_KEEP:-0}" == 1 ]]; then
    log "configs and logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run copies: a rebuild of BUILD_DIR during the run must not swap the binaries under us
# (and perf needs the file it sampled to resolve symbols).
mkdir "$tmp/bin"
cp "$bulwark_bin" "$origin_bin" "$tmp/bin/"
bulwark_bin=$tmp/bin/bulwark
origin_bin=$tmp/bin/bulwark-origin

# start_bg NAME CMD...: run CMD in the background, output to $tmp/NAME.log; sets $started_pid.
start_bg() {
  local name=$1
  shift
  started_any=1
  "$@" >"$tmp/$name.log" 2>&1 </dev/null &
  started_pid=$!
  pids+=("$started_pid")
  names+=("$name")
}

stop_started() {  # NAME: stop a process started with start_bg and forget it
  local i
  for i in "${!names[@]}"; do
    if [[ "${names[i]}" == "$1" ]]; then
      stop_pid "${pids[i]}"
      unset 'pids[i]' 'names[i]'
      pids=("${pids[@]}")
      names=("${names[@]}")
      return 0
    fi
  done
}

show_log() { log "--- $tmp/$1.log (tail)"; tail -n 20 "$tmp/$1.log" >&2 || true; }

# Free loopback port below the ephemeral range, so no outgoing connection can hold it.
taken_ports=" "
free_port() {  # VAR
  local low _ p
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  ((low > 12000)) || low=61000
  for _ in $(seq 1 200); do
    p=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
    [[ "$taken_ports" == *" $p "* ]] && continue
    [[ -n "$(ss -Htan "sport = :$p" 2>/dev/null)" ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    taken_ports+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free loopback port found"
}

wait_port() {  # PORT PID NAME [SECONDS]: until 127.0.0.1:PORT accepts (10 s by default)
  local port=$1 pid=$2 name=$3 secs=${4:-10} i
  for i in $(seq 1 $((secs * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { show_log "$name"; die "$name exited during start-up"; }
    sleep 0.1
  done
  show_log "$name"
  die "$name did not listen on 127.0.0.1:$port within $secs s"
}

# Extra request header for every check_ok and wrk request ("Name: value"), set by the
# scenario (the jwt scenario's bearer token); empty: none.
bench_header=""

check_ok() {  # NAME URL: one request must answer 200 before we measure
  local code
  local -a hdr=()
  command -v curl >/dev/null || return 0
  [[ -z "$bench_header" ]] || hdr=(-H "$bench_header")
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${hdr[@]}" "$2" || true)
  [[ "$code" == 200 ]] || { show_log "$1"; die "$1: GET $2 answered '$code', expected 200"; }
}

# Busy CPU ticks of the whole host so far (all cores; /proc/stat, USER_HZ).
host_ticks() {
  local _ user nice system _idle _iowait irq softirq steal
  read -r _ user nice system _idle _iowait irq softirq steal _ </proc/stat
  echo $((user + nice + system + irq + softirq + steal))
}

# CPU seconds (user+system) of this shell's finished children, i.e. the wrk runs. `times`
# must run in this shell (a $(...) subshell has its own, empty, children times): VAR.
children_cpu() {
  local line
  times >"$tmp/times.txt"
  line=$(sed -n 2p "$tmp/times.txt")  # "0m1.234s 0m0.567s"
  printf -v "$1" '%s' "$(awk -v l="$line" 'BEGIN {
    n = split(l, t, " "); s = 0
    for (i = 1; i <= n; i++) { split(t[i], ms, "m"); sub(/s$/, "", ms[2]); s += ms[1] * 60 + ms[2] }
    printf "%.3f", s }')"
}

# Other processes on the host before we start: results are noisy when the cores are busy.
host_busy_cores() {  # over one second
  local h0 h1
  h0=$(host_ticks)
  sleep 1
  h1=$(host_ticks)
  awk -v d=$((h1 - h0)) -v hz="$clk_tck" 'BEGIN { printf "%.2f", d / hz }'
}

# CPU ticks (user+system) used so far by PID and its child processes (nginx workers).
cpu_ticks() {
  local pid=$1 total=0 p stat kids f
  kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || pgrep -P "$pid" 2>/dev/null || true)
  for p in $pid $kids; do
    stat=$(cat /proc/"$p"/stat 2>/dev/null) || continue
    stat=${stat##*) }  # fields from 3 on; comm may hold spaces
    read -r -a f <<<"$stat"
    total=$((total + f[11] + f[12]))  # utime, stime (fields 14, 15)
  done
  echo "$total"
}

# ---------------------------------------------------------------------------------------
# The origin (one for every scenario, so all targets forward to the same server).
origin_port="" bulwark_port="" nginx_port="" haproxy_port="" varnish_port=""
start_origin() {
  start_bg origin "$origin_bin" --listen 127.0.0.1:0 --threads 1
  origin_pid=$started_pid
  local i
  for i in $(seq 1 100); do
    origin_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/origin.log")
    [[ -n "$origin_port" ]] && break
    kill -0 "$origin_pid" 2>/dev/null || { show_log origin; die "origin exited during start-up"; }
    sleep 0.1
  done
  [[ -n "$origin_port" ]] || { show_log origin; die "origin did not report its port"; }
  taken_ports+="$origin_port "
  check_ok origin "http://127.0.0.1:$origin_port$bench_path"
}

# start_bulwark NAME [EXTRA_YAML [ROUTE_YAML]]: bulwark with the origin as upstream "origin"
# and one route /api/ -> origin; EXTRA_YAML (top-level sections) is appended for later
# scenarios, ROUTE_YAML (keys of the route, indented by 4) is added to the route.
# Sets bulwark_port, bulwark_pid, bulwark_workers.
start_bulwark() {
  local name=$1 cfg=$tmp/$1.yaml out
  write_bulwark_config "$@"
  out=$("$bulwark_bin" check "$cfg" 2>&1) ||
    die "bulwark check refused $cfg for $name:"$'\n'"$out"
  start_bg "$name" "$bulwark_bin" serve --config "$cfg"
  bulwark_pid=$started_pid
  wait_port "$bulwark_port" "$bulwark_pid" "$name"
  bulwark_workers=$(sed -n 's/.* with \([0-9][0-9]*\) workers.*/\1/p' "$tmp/$name.log" | head -n1)
  check_ok "$name" "http://127.0.0.1:$bulwark_port$bench_path"
}

# write_bulwark_config NAME [EXTRA_YAML [ROUTE_YAML]]: start_bulwark's config, $tmp/NAME.yaml,
# on a new free port (sets bulwark_port).
write_bulwark_config() {
  local extra=${2:-} route_extra=${3:-} admin_port cfg=$tmp/$1.yaml
  free_port bulwark_port
  free_port admin_port
  cat >"$cfg" <<EOF
# generated by bench/load/run.sh
server:
  listen: 127.0.0.1:$bulwark_port
  workers: auto
admin:
  listen: 127.0.0.1:$admin_port
log:
  level: info
  access: off
upstreams:
  origin:
    targets: [127.0.0.1:$origin_port]
routes:
  - name: api
    match: {path_prefix: /api/}
    upstream: origin
$route_extra
$extra
EOF
}

# start_nginx NAME [EXTRA_LOCATION_DIRECTIVES [EXTRA_HTTP_DIRECTIVES]]: nginx as a reverse
# proxy for /api/ in front of the same origin, everything (pid, logs, temp files) under
# $tmp/NAME. Sets nginx_port, nginx_pid.
start_nginx() {
  local name=$1 extra=${2:-} http_extra=${3:-} dir=$tmp/$1 user_line="" temp_paths="" m
  free_port nginx_port
  mkdir -p "$dir"
  # As root, nginx would switch its workers to "nobody", which cannot use our 0700 temp dir.
  [[ $(id -u) -eq 0 ]] && user_line="user root $(id -gn);"
  temp_paths="client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;"
  for m in fastcgi uwsgi scgi; do  # only for the modules this nginx has
    nginx -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
      temp_paths+="
    ${m}_temp_path $dir/$m;"
  done
  cat >"$dir/nginx.conf" <<EOF
# generated by bench/load/run.sh
daemon off;
master_process on;
worker_processes auto;
$user_line
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events {
  worker_connections 4096;
}
http {
  access_log off;
  $temp_paths
  $http_extra
  upstream origin {
    server 127.0.0.1:$origin_port;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location /api/ {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      $extra
    }
  }
}
EOF
  nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$tmp/$name.log" 2>&1 ||
    { show_log "$name"; die "nginx rejected $dir/nginx.conf"; }
  start_bg "$name" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
  nginx_pid=$started_pid
  wait_port "$nginx_port" "$nginx_pid" "$name"
  check_ok "$name" "http://127.0.0.1:$nginx_port$bench_path"
}

# start_haproxy NAME [EXTRA_FRONTEND_LINES [EXTRA_SECTIONS]]: HAProxy (one process,
# `nbthread` = bulwark's worker count) as a reverse proxy for /api/ in front of the same
# origin, keep-alive to the origin with `http-reuse always`, nothing logged;
# EXTRA_FRONTEND_LINES (http-request / http-response rules) run before the request is
# forwarded; EXTRA_SECTIONS (a `cache` section) go at the end. The config lives in
# $tmp/NAME. Sets haproxy_port, haproxy_pid.
start_haproxy() {
  local name=$1 extra=${2:-} sections=${3:-} dir=$tmp/$1
  free_port haproxy_port
  mkdir -p "$dir"
  cat >"$dir/haproxy.cfg" <<EOC
# generated by bench/load/run.sh
global
  nbthread ${bulwark_workers:-$(nproc)}
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
frontend api
  bind 127.0.0.1:$haproxy_port
  http-request deny deny_status 404 unless { path_beg /api/ }
$extra
  default_backend origin
backend origin
  http-reuse always
  server origin 127.0.0.1:$origin_port
$sections
EOC
  haproxy -c -q -f "$dir/haproxy.cfg" >"$tmp/$name.log" 2>&1 ||
    { show_log "$name"; die "haproxy rejected $dir/haproxy.cfg"; }
  start_bg "$name" haproxy -db -f "$dir/haproxy.cfg"
  haproxy_pid=$started_pid
  wait_port "$haproxy_port" "$haproxy_pid" "$name"
  check_ok "$name" "http://127.0.0.1:$haproxy_port$bench_path"
}

# start_varnish NAME: Varnish Cache (varnishd) in front of the same origin with its built-in
# VCL (`-b`: cache what the origin's Cache-Control allows), a 64 MiB malloc store, no
# management port. -F keeps the manager in the foreground, so start_bg holds its PID; on
# SIGTERM the manager stops its cache process (a child; stop_pid also checks that it went).
# -j none: no switch to the varnish users, who could not enter our 0700 temp dir as root.
# Its work dir (shared-memory log, compiled VCL) is $tmp/NAME. Sets varnish_port,
# varnish_pid.
start_varnish() {
  local name=$1 dir=$tmp/$1
  free_port varnish_port
  mkdir -p "$dir"
  start_bg "$name" varnishd -F -j none -a "127.0.0.1:$varnish_port" -b "127.0.0.1:$origin_port" \
    -n "$dir/work" -s malloc,64m -T none
  varnish_pid=$started_pid
  # It compiles its VCL with cc at start-up: slower to listen than the others.
  wait_port "$varnish_port" "$varnish_pid" "$name" 30
  check_ok "$name" "http://127.0.0.1:$varnish_port$bench_path"
}

# ---------------------------------------------------------------------------------------
# JWT material for the jwt scenario, all in $tmp/jwt: a random HS256 secret (in the
# environment, where bulwark's secret_env and HAProxy's "${...}" both read it), an ES256
# key pair from `bulwark keys generate`, one long-lived valid token per algorithm (signed by
# `bulwark token sign`) and a set of tokens both gateways must refuse with 401.
jwt_iss=https://bench.local
jwt_aud=api
declare -A jwt_good=()              # alg -> valid token
jwt_bad_names=() jwt_bad_headers=() # a refused request: its name and Authorization header

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# jwt_hs256 HEADER_JSON PAYLOAD_JSON [SECRET]: a compact HS256 JWS made with openssl, for
# the claim cases `bulwark token sign` cannot produce (expired, no exp).
jwt_hs256() {
  local input
  input=$(printf '%s' "$1" | b64url).$(printf '%s' "$2" | b64url)
  printf '%s.%s' "$input" "$(printf '%s' "$input" |
    openssl dgst -sha256 -hmac "${3:-$BENCH_HS256_SECRET}" -binary | b64url)"
}

jwt_bad() {  # NAME AUTHORIZATION_HEADER_VALUE (empty: no header)
  jwt_bad_names+=("$1")
  jwt_bad_headers+=("$2")
}

jwt_sign() {  # bulwark token sign ARGS..., valid for a day (the run is minutes)
  "$bulwark_bin" token sign --sub bench --ttl 24h "$@" 2>>"$tmp/jwt/sign.log" ||
    die "bulwark token sign $* failed (see $tmp/jwt/sign.log)"
}

jwt_setup() {
  local dir=$tmp/jwt now sig tok payload alg
  mkdir -p "$dir"
  # 32 random bytes as base64url text: 43 bytes of HMAC key (bulwark wants >= 32).
  BENCH_HS256_SECRET=$(head -c 32 /dev/urandom | b64url)
  BENCH_WRONG_SECRET=$(head -c 32 /dev/urandom | b64url)
  export BENCH_HS256_SECRET BENCH_WRONG_SECRET
  "$bulwark_bin" keys generate --alg ES256 --kid es1 --out "$dir/es256" >"$dir/keys.log" 2>&1 ||
    { cat "$dir/keys.log" >&2; die "bulwark keys generate failed"; }
  "$bulwark_bin" keys generate --alg ES256 --kid es1 --out "$dir/other" >>"$dir/keys.log" 2>&1 ||
    { cat "$dir/keys.log" >&2; die "bulwark keys generate failed"; }
  jwt_es256_pub=$dir/es256/public.pem
  [[ -f "$jwt_es256_pub" && -f "$dir/es256/private.pem" ]] ||
    die "bulwark keys generate did not write $dir/es256/{private,public}.pem"

  jwt_good[HS256]=$(jwt_sign --secret-env BENCH_HS256_SECRET --alg HS256 --iss "$jwt_iss" --aud "$jwt_aud")
  jwt_good[ES256]=$(jwt_sign --key "$dir/es256/private.pem" --alg ES256 --kid es1 --iss "$jwt_iss" --aud "$jwt_aud")

  jwt_bad_names=() jwt_bad_headers=()
  jwt_bad no-token ""
  jwt_bad basic-scheme "Basic YmVuY2g6YmVuY2g="
  for alg in HS256 ES256; do  # one signature character changed (not the last: padding bits)
    tok=${jwt_good[$alg]} sig=${jwt_good[$alg]##*.}
    [[ "${sig:5:1}" == A ]] && sig=${sig:0:5}B${sig:6} || sig=${sig:0:5}A${sig:6}
    jwt_bad "${alg,,}-bad-signature" "Bearer ${tok%.*}.$sig"
  done
  jwt_bad hs256-other-secret "Bearer $(jwt_sign --secret-env BENCH_WRONG_SECRET --alg HS256 --iss "$jwt_iss" --aud "$jwt_aud")"
  jwt_bad es256-other-key "Bearer $(jwt_sign --key "$dir/other/private.pem" --alg ES256 --kid es1 --iss "$jwt_iss" --aud "$jwt_aud")"
  # Algorithm confusion: HS256 keyed with the ES256 public key's PEM text, kid es1.
  tok=$(BENCH_PEM_AS_SECRET=$(cat "$jwt_es256_pub") && export BENCH_PEM_AS_SECRET &&
    jwt_sign --secret-env BENCH_PEM_AS_SECRET --alg HS256 --kid es1 --iss "$jwt_iss" --aud "$jwt_aud")
  jwt_bad hs256-keyed-with-es256-public-pem "Bearer $tok"
  jwt_bad wrong-iss "Bearer $(jwt_sign --secret-env BENCH_HS256_SECRET --alg HS256 --iss https://other.local --aud "$jwt_aud")"
  jwt_bad wrong-aud "Bearer $(jwt_sign --secret-env BENCH_HS256_SECRET --alg HS256 --iss "$jwt_iss" --aud other)"
  now=$(date +%s)
  payload="\"iss\":\"$jwt_iss\",\"sub\":\"bench\",\"aud\":\"$jwt_aud\""
  jwt_bad expired "Bearer $(jwt_hs256 '{"alg":"HS256","typ":"JWT"}' \
    "{$payload,\"iat\":$((now - 7200)),\"exp\":$((now - 3600))}")"
  jwt_bad no-exp "Bearer $(jwt_hs256 '{"alg":"HS256","typ":"JWT"}' "{$payload,\"iat\":$now}")"
  tok=$(printf '%s' '{"alg":"none","typ":"JWT"}' | b64url).$(printf '%s' \
    "{$payload,\"iat\":$now,\"exp\":$((now + 86400))}" | b64url).
  jwt_bad alg-none "Bearer $tok"
  # The same openssl path with valid claims must pass: the expired / no-exp cases above
  # are then refused for their claims, not for a signing mistake here.
  jwt_crafted_ok=$(jwt_hs256 '{"alg":"HS256","typ":"JWT"}' \
    "{$payload,\"iat\":$now,\"exp\":$((now + 86400))}")
  # A failed signing inside $(...) leaves an empty or odd token: catch it here, or the
  # refusal checks below would pass for the wrong reason.
  local jws='[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*'
  for tok in "${jwt_good[HS256]}" "${jwt_good[ES256]}" "$jwt_crafted_ok" "${jwt_bad_headers[@]:2}"; do
    [[ "${tok#Bearer }" =~ ^${jws}$ ]] || die "jwt setup made a malformed token: '$tok'"
  done
}

# jwt_check_refusals NAME BASE_URL [VALID]: before any load, every refused case must answer
# 401 and the valid tokens 200 — otherwise the figures would come from a misconfigured
# gateway. VALID: the valid tokens that must pass (default "HS256 ES256 crafted-HS256"; a
# target that knows only the HS256 secret, the state scenario's Python app, passes
# "HS256 crafted-HS256", and its refusal of the ES256 token is not checked).
jwt_check_refusals() {
  local name=$1 url=$2$bench_path valid=${3:-HS256 ES256 crafted-HS256} i code alg fails=()
  local -a hdr
  # Below bulwark's failed-attempts guard (20 per client IP and minute by default).
  ((${#jwt_bad_names[@]} < 20)) || die "too many refusal cases for bulwark's brute-force guard"
  for i in "${!jwt_bad_names[@]}"; do
    hdr=()
    [[ -z "${jwt_bad_headers[i]}" ]] || hdr=(-H "Authorization: ${jwt_bad_headers[i]}")
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${hdr[@]}" "$url" || true)
    [[ "$code" == 401 ]] || fails+=("${jwt_bad_names[i]} -> $code (want 401)")
  done
  for alg in $valid; do
    if [[ "$alg" == crafted-HS256 ]]; then
      hdr=(-H "Authorization: Bearer $jwt_crafted_ok")
    else
      hdr=(-H "Authorization: Bearer ${jwt_good[$alg]}")
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${hdr[@]}" "$url" || true)
    [[ "$code" == 200 ]] || fails+=("valid $alg token -> $code (want 200)")
  done
  if ((${#fails[@]} > 0)); then
    show_log "$name"
    die "$name does not authenticate as configured, so its figures would be meaningless:"$'\n'"$(printf '  %s\n' "${fails[@]}")"
  fi
  log "$name: ${#jwt_bad_names[@]} bad/missing tokens refused with 401, valid tokens accepted ($valid)"
}

# bulwark's auth section; $1: extra lines at its top (token_cache_entries: 0).
jwt_bulwark_auth() {
  cat <<EOA
auth:
$1
  issuers:
    bench:
      issuer: $jwt_iss
      audiences: [$jwt_aud]
      keys:
        - alg: HS256
          secret_env: BENCH_HS256_SECRET
        - alg: ES256
          kid: es1
          pem_file: $jwt_es256_pub
EOA
}

# HAProxy doing the same work as bulwark's authenticate stage: Bearer token, alg pinned to
# the key (HS256 -> the secret, ES256 -> the public key), signature, then iss, aud and exp
# (required; 30 s leeway like bulwark's default). A failed check or a missing claim is 401.
jwt_haproxy_rules() {
  cat <<EOR
  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request deny deny_status 401 unless { var(txn.alg) -m str HS256 ES256 }
  http-request deny deny_status 401 if { var(txn.alg) -m str HS256 } !{ var(txn.bearer),jwt_verify(txn.alg,"\${BENCH_HS256_SECRET}") -m int 1 }
  http-request deny deny_status 401 if { var(txn.alg) -m str ES256 } !{ var(txn.bearer),jwt_verify(txn.alg,"$jwt_es256_pub") -m int 1 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.iss') -m str $jwt_iss }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.aud') -m str $jwt_aud }
  http-request set-var(txn.now) date(-30)
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_payload_query('\$.exp','int'),sub(txn.now) -m int gt 0 }
EOR
}

# ---------------------------------------------------------------------------------------
# Measuring
res_scenario=() res_target=() res_run=() res_rps=() res_p99=() res_requests=() res_errors=()
res_cpu=() res_cpu_per_req=() res_origin_cpu=() res_wrk_cpu=() res_other_cpu=() res_non2xx=()
res_origin_reqs=()  # cache scenarios: requests that reached the origin during the run; else ""
# state scenario: Redis commands per request over the run (INFO commandstats: the delta of all
# calls, commands run by Lua scripts included, over wrk's requests), their breakdown
# ("evalsha 1.00 get 1.00 ...") and the cores redis-server used; else "".
res_redis_cmds=() res_redis_detail=() res_redis_cpu=()

# Set by the state scenario: the redis-server whose INFO commandstats and CPU every run
# records (res_redis_*); empty: none.
bench_redis_port="" bench_redis_pid=""

redis_commandstats() {  # FILE: INFO commandstats of bench_redis_port
  redis-cli -h 127.0.0.1 -p "$bench_redis_port" info commandstats >"$1" 2>&1 ||
    die "redis-cli info commandstats failed: $(head -n1 "$1")"
}

# redis_per_request BEFORE AFTER REQUESTS: "TOTAL DETAIL", the calls per request between two
# INFO commandstats (INFO and CONFIG, ours, left out), DETAIL as "cmd 1.00,cmd 2.00" (or "-").
redis_per_request() {
  awk -v n="$3" -F'[:,=]' '
    /^cmdstat_/ {
      c = substr($1, 9)
      if (c == "info" || c ~ /^config/) next
      if (FILENAME == ARGV[1]) before[c] = $3; else { after[c] = $3; seen[c] = 1 }
    }
    END {
      total = 0; detail = ""
      for (c in seen) {
        d = after[c] - before[c]
        if (d <= 0) continue
        total += d
        detail = detail (detail == "" ? "" : ",") sprintf("%s %.2f", c, d / n)
      }
      printf "%.2f %s\n", (n > 0 ? total / n : 0), (detail == "" ? "-" : detail)
    }' "$1" "$2"
}

# Set by a scenario whose runs are meant to be refused (limit-rejecting): "RATE BURST" of the
# limit under test. Then non-2xx answers are the point, not errors: a run's `errors` counts
# socket errors plus 2xx answers beyond what the limit can allow (RATE x (duration + 1) +
# BURST), and after each run the target must still answer 429 (limit_check_refusing).
bench_reject=""

# Set by the cache scenarios (1): every measured run then GETs a path of its own,
# ${bench_path}-NNN (a new cache key, fresh for the origin's max-age=60 from its first
# request, so no run sees an expiry), primed just before the run by one request (a miss,
# which must reach the origin) and 20 more (hits: none may reach it). Around the run the
# origin's request counter (GET /stats, which it does not count itself) tells how many of
# wrk's requests reached it: fewer than 1 % may, or the script stops.
bench_cache=0
cache_seq=0
cache_min_hit_pct=99

origin_requests() {  # VAR: the origin's request counter
  local n
  n=$(curl -s --max-time 5 "http://127.0.0.1:$origin_port/stats" |
    sed -n 's/.*"requests":\([0-9][0-9]*\).*/\1/p')
  [[ -n "$n" ]] || die "could not read the origin's request counter (GET /stats)"
  printf -v "$1" '%s' "$n"
}

cache_fresh_url() {  # URL_VAR: point the URL in URL_VAR at a new path, ${bench_path}-NNN
  local -n u=$1
  cache_seq=$((cache_seq + 1))
  u=${u%"$bench_path"*}$bench_path-$(printf '%03d' "$cache_seq")
}

cache_fail() {  # NAME WHAT...
  local name=$1
  shift
  show_log "$name"
  die "$name: $*; it is not serving from its cache, so its figures would not be cache hits"
}

# cache_prime NAME URL N VAR: URL is a path nobody asked for yet. One GET must answer 200
# and reach the origin once (the miss that fills the cache); then N GETs in a row (one
# keep-alive connection) must all answer 200 without reaching the origin. Sets VAR to the
# origin's counter after that.
cache_prime() {
  local name=$1 url=$2 n=$3 o0 o1 o2 code codes n_ok
  local -a hdr=()
  [[ -z "$bench_header" ]] || hdr=(-H "$bench_header")
  origin_requests o0
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${hdr[@]}" "$url" || true)
  [[ "$code" == 200 ]] || cache_fail "$name" "GET $url answered '$code', expected 200"
  origin_requests o1
  ((o1 - o0 == 1)) ||
    cache_fail "$name" "the first GET of the new path $url reached the origin" \
      "$((o1 - o0)) times, expected once"
  codes=$(burst_codes "$url" "$n")
  n_ok=$(grep -c '^200$' <<<"$codes" || true)
  ((n_ok == n)) || cache_fail "$name" "of $n GETs of $url only $n_ok answered 200: $(echo $codes)"
  origin_requests o2
  ((o2 == o1)) ||
    cache_fail "$name" "$((o2 - o1)) of $n repeated GETs of the cached $url reached the origin"
  printf -v "$4" '%s' "$o2"
}

# cache_check_hits NAME BASE_URL: before any load, on a new path: one miss, then 100 hits.
# The header of a hit is kept in $tmp/NAME.hit-headers (BENCH_KEEP=1 to read it).
cache_check_hits() {
  local path_url=$2$bench_path _o
  local -a hdr=()
  [[ -z "$bench_header" ]] || hdr=(-H "$bench_header")
  cache_fresh_url path_url
  cache_prime "$1" "$path_url" 100 _o
  curl -s -D "$tmp/$1.hit-headers" -o /dev/null --max-time 5 "${hdr[@]}" "$path_url" || true
  log "$1: a new path reached the origin once, then 100 GETs of it were all served from the cache"
}

# wrk in the background + wait, so that a signal to this script is handled at once (bash
# defers traps until a foreground command ends); the EXIT trap stops it by PID.
wrk_pid=""
wrk_cmd() {  # SECONDS URL OUTPUT_FILE
  local -a hdr=()
  [[ -z "$bench_header" ]] || hdr=(-H "$bench_header")
  timeout -k 5 $(($1 + 30)) wrk -t"$wrk_threads" -c"$connections" -d"$1s" --timeout 5s \
    --latency "${hdr[@]}" "$2" >"$3" 2>&1 &
  wrk_pid=$!
  local rc=0
  wait "$wrk_pid" || rc=$?
  wrk_pid=""
  return "$rc"
}

# measure SCENARIO TARGET RUN URL PID: one recorded wrk run; PID is the target's process,
# whose CPU use (with its children) over the run is recorded next to the origin's.
measure() {
  local scenario=$1 target=$2 run=$3 url=$4 pid=$5 out=$tmp/wrk-$1-$2-$3.txt
  local t0 t1 o0 o1 h0 h1 w0 w1 start end parsed rps p99 requests non2xx sockerr errors
  local origin_before="" origin_after="" origin_reqs="" hit_pct r0=0 r1=0 redis_line=""
  if ((bench_cache)); then
    cache_fresh_url url
    cache_prime "$target" "$url" 20 origin_before
  fi
  log "measuring $scenario / $target run $run: ${duration_s}s, -c$connections -t$wrk_threads $url"
  if [[ -n "$bench_redis_port" ]]; then
    redis_commandstats "$tmp/redis-$scenario-$target-$run.before"
    r0=$(cpu_ticks "$bench_redis_pid")
  fi
  t0=$(cpu_ticks "$pid") o0=$(cpu_ticks "$origin_pid") h0=$(host_ticks) start=$(date +%s.%N)
  children_cpu w0
  wrk_cmd "$duration_s" "$url" "$out" || { cat "$out" >&2; die "wrk failed against $target"; }
  children_cpu w1
  end=$(date +%s.%N) h1=$(host_ticks) t1=$(cpu_ticks "$pid") o1=$(cpu_ticks "$origin_pid")
  if [[ -n "$bench_redis_port" ]]; then
    r1=$(cpu_ticks "$bench_redis_pid")
    redis_commandstats "$tmp/redis-$scenario-$target-$run.after"
  fi
  parsed=$(awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    $1 == "99%" { p99 = ms($2) }
    $1 == "Requests/sec:" { rps = $2 }
    $2 == "requests" && $3 == "in" { requests = $1 }
    /Non-2xx or 3xx responses:/ { non2xx += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i += 2) { v = $(i + 1); sub(/,/, "", v); sockerr += v } }
    END { printf "%s %.3f %s %d %d\n", rps, p99, requests, non2xx, sockerr }' "$out")
  read -r rps p99 requests non2xx sockerr <<<"$parsed"
  [[ -n "$rps" && "$rps" != 0 ]] || { cat "$out" >&2; die "could not parse wrk output"; }
  if [[ -n "$bench_reject" ]]; then
    local allowance
    allowance=$(awk -v rb="$bench_reject" -v d="$duration_s" \
      'BEGIN { split(rb, a, " "); printf "%d", a[1] * (d + 1) + a[2] }')
    errors=$((sockerr + (requests - non2xx > allowance ? requests - non2xx - allowance : 0)))
    limit_check_refusing "$target" "$url" "after run $run"
  else
    errors=$((non2xx + sockerr))
  fi
  if ((bench_cache)); then
    origin_requests origin_after
    origin_reqs=$((origin_after - origin_before))
    hit_pct=$(awk -v o="$origin_reqs" -v n="$requests" 'BEGIN { printf "%.4f", 100 * (n - o) / n }')
    log "$target run $run: $origin_reqs of $requests requests reached the origin (hit ratio $hit_pct %)"
    ((origin_reqs * 100 <= requests * (100 - cache_min_hit_pct))) ||
      cache_fail "$target" "in run $run, $origin_reqs of its $requests requests reached the origin" \
        "(hit ratio $hit_pct %, below $cache_min_hit_pct %)"
  fi
  res_scenario+=("$scenario") res_target+=("$target") res_run+=("$run")
  res_rps+=("$rps") res_p99+=("$p99") res_requests+=("$requests") res_errors+=("$errors")
  res_non2xx+=("$non2xx") res_origin_reqs+=("$origin_reqs")
  if [[ -n "$bench_redis_port" ]]; then
    redis_line=$(redis_per_request "$tmp/redis-$scenario-$target-$run.before" \
      "$tmp/redis-$scenario-$target-$run.after" "$requests")
    res_redis_cmds+=("${redis_line%% *}") res_redis_detail+=("${redis_line#* }")
    res_redis_cpu+=("$(awk -v d=$((r1 - r0)) -v hz="$clk_tck" -v a="$start" -v b="$end" \
      'BEGIN { printf "%.2f", d / hz / (b - a) }')")
    log "$target run $run: ${redis_line%% *} Redis commands per request (${redis_line#* })"
  else
    res_redis_cmds+=("") res_redis_detail+=("") res_redis_cpu+=("")
  fi
  res_cpu+=("$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v a="$start" -v b="$end" \
    'BEGIN { printf "%.2f", d / hz / (b - a) }')")
  res_cpu_per_req+=("$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$requests" \
    'BEGIN { printf "%.1f", (n > 0 ? d / hz * 1e6 / n : 0) }')")
  res_origin_cpu+=("$(awk -v d=$((o1 - o0)) -v hz="$clk_tck" -v a="$start" -v b="$end" \
    'BEGIN { printf "%.2f", d / hz / (b - a) }')")
  res_wrk_cpu+=("$(awk -v a="$w0" -v b="$w1" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.2f", (b - a) / (e - s) }')")
  # Host busy minus target, origin (when they differ), redis-server (state) and wrk: someone
  # else's load.
  res_other_cpu+=("$(awk -v h=$((h1 - h0 - (r1 - r0))) -v t=$((t1 - t0)) -v o=$((o1 - o0)) \
    -v same="$([[ $pid == "$origin_pid" ]] && echo 1 || echo 0)" -v hz="$clk_tck" \
    -v w="${res_wrk_cpu[-1]}" -v s="$start" -v e="$end" \
    'BEGIN { x = (h - t - (same ? 0 : o)) / hz / (e - s) - w; printf "%.2f", (x < 0 ? 0 : x) }')")
  if [[ -n "$bench_reject" ]]; then
    ((errors == 0)) || log "WARNING: $target had $errors socket errors or 2xx beyond the limit in run $run"
  else
    ((errors == 0)) || log "WARNING: $target had $errors errors/non-2xx responses in run $run"
  fi
}

warm_up() {  # TARGET URL
  ((warmup_s > 0)) || return 0
  log "warming up $1 (${warmup_s}s)"
  wrk_cmd "$warmup_s" "$2" "$tmp/warmup-$1.txt" || { cat "$tmp/warmup-$1.txt" >&2; die "wrk warm-up failed against $1"; }
}

# run_alternating SCENARIO TARGET=URL=PID...: warm each target up, then BENCH_RUNS rounds
# of one run per target, in the given order (bulwark, peer, bulwark, peer, ...).
run_alternating() {
  local scenario=$1 spec target url pid run
  shift
  for spec in "$@"; do
    target=${spec%%=*} url=${spec#*=} url=${url%=*}
    warm_up "$target" "$url"
  done
  for run in $(seq 1 "$runs"); do
    for spec in "$@"; do
      target=${spec%%=*} url=${spec#*=} url=${url%=*} pid=${spec##*=}
      measure "$scenario" "$target" "$run" "$url" "$pid"
    done
  done
}

# perf_profile URL PID: one extra, unrecorded run with `perf record` on PID (BENCH_PERF=1).
perf_profile() {
  [[ "${BENCH_PERF:-0}" == 1 ]] || return 0
  command -v perf >/dev/null || { log "BENCH_PERF=1 but perf is not installed; skipped"; return 0; }
  local data=$build_dir/bench-perf.data report=$build_dir/bench-perf.txt
  log "profiling pid $2 with perf during one extra ${duration_s}s run"
  rm -f "$data" "$data.old"  # perf would keep the previous file as .old
  # Flat profile: bulwark has no frame pointers, so -g call chains would be noise.
  perf record -q -F 999 -p "$2" -o "$data" -- sleep "$duration_s" >"$tmp/perf.log" 2>&1 &
  local perf_pid=$!
  pids+=("$perf_pid") names+=(perf)
  wrk_cmd "$duration_s" "$1" "$tmp/wrk-perf.txt" || true
  wait "$perf_pid" 2>/dev/null || true
  stop_started perf
  if {
    echo "# perf record -F 999 on bulwark (pid $2) during wrk -c$connections ${duration_s}s"
    echo "# by shared object:"
    perf report -i "$data" --stdio --no-children -g none --sort dso 2>/dev/null
    echo "# by symbol (>= 0.3 %):"
    perf report -i "$data" --stdio --no-children -g none --sort dso,symbol \
      --percent-limit 0.3 2>/dev/null
  } | sed -e '/^#  *(Tip\|^# To display\|^#$/d' -e 's/ *- *- *$//; s/ *$//' -e '/^$/d' \
    >"$report"; then
    log "perf profile: $report (data: $data)"
  else
    log "perf report failed; see $tmp/perf.log"
  fi
}

# ---------------------------------------------------------------------------------------
# Scenarios: one function each (scenario_limit, scenario_cache and scenario_cache-jwt are
# further down, with their checks).

# The origin alone, for reference: what the proxies' numbers are bounded by.
scenario_direct() {
  warm_up origin "http://127.0.0.1:$origin_port$bench_path"
  measure direct origin 1 "http://127.0.0.1:$origin_port$bench_path" "$origin_pid"
}

# Plain reverse proxying of a small GET: bulwark vs nginx, both 2 workers, same origin.
scenario_proxy() {
  start_bulwark bulwark-proxy
  start_nginx nginx-proxy
  run_alternating proxy \
    "bulwark=http://127.0.0.1:$bulwark_port$bench_path=$bulwark_pid" \
    "nginx=http://127.0.0.1:$nginx_port$bench_path=$nginx_pid"
  perf_profile "http://127.0.0.1:$bulwark_port$bench_path" "$bulwark_pid"
  stop_started nginx-proxy
  stop_started bulwark-proxy
}

# Verify a bearer JWT, then proxy: bulwark vs HAProxy 2.6 (jwt_verify), same origin, same
# thread count, for each of BENCH_JWT_ALGS (recorded as jwt-hs256, jwt-es256). wrk replays
# one valid token, so two bulwarks run: "bulwark" with its verified-token cache (the steady
# state of clients reusing tokens) and "bulwark-nocache" with auth.token_cache_entries: 0,
# which verifies every request like HAProxy does. The three processes serve both algorithms
# (one issuer, two keys) and are warmed up once, before the first algorithm.
scenario_jwt() {
  local route_auth="    auth: {mode: required, issuers: [bench]}" alg first=1
  local b_port b_pid n_port n_pid
  jwt_setup
  bench_header="Authorization: Bearer ${jwt_good[${jwt_algs[0]}]}"
  start_bulwark bulwark-jwt "$(jwt_bulwark_auth "")" "$route_auth"
  b_port=$bulwark_port b_pid=$bulwark_pid
  start_bulwark bulwark-jwt-nocache "$(jwt_bulwark_auth "  token_cache_entries: 0")" "$route_auth"
  n_port=$bulwark_port n_pid=$bulwark_pid
  start_haproxy haproxy-jwt "$(jwt_haproxy_rules)"
  jwt_check_refusals bulwark-jwt "http://127.0.0.1:$b_port"
  jwt_check_refusals bulwark-jwt-nocache "http://127.0.0.1:$n_port"
  jwt_check_refusals haproxy-jwt "http://127.0.0.1:$haproxy_port"
  for alg in "${jwt_algs[@]}"; do
    bench_header="Authorization: Bearer ${jwt_good[$alg]}"
    # dynamic scope: run_alternating sees warmup_s=0 after the first algorithm
    ((first)) || local warmup_s=0
    first=0
    run_alternating "jwt-${alg,,}" \
      "bulwark=http://127.0.0.1:$b_port$bench_path=$b_pid" \
      "bulwark-nocache=http://127.0.0.1:$n_port$bench_path=$n_pid" \
      "haproxy=http://127.0.0.1:$haproxy_port$bench_path=$haproxy_pid"
  done
  bench_header=""
  stop_started haproxy-jwt
  stop_started bulwark-jwt-nocache
  stop_started bulwark-jwt
}

# Rate limit, then proxy: bulwark vs HAProxy 2.6 (stick-table, http_req_rate) vs nginx
# (limit_req), one per-client-IP limit each, same origin, same worker/thread count, keep-alive
# to the origin. Two sub-runs, each with its own freshly started processes:
#   limit-allowed    a limit nobody reaches: the cost of checking and counting every request
#                    (bulwark also writes RateLimit / RateLimit-Policy on every response)
#   limit-rejecting  RATE/s with burst BURST: wrk from 127.0.0.1 gets ~all 429, the cost of
#                    a rejection
# wrk comes from one address, so every request hits one key: the most contended case of each
# store. Before any load each target must show the expected behaviour (limit_check_*).
limit_allowed_rate=1000000 limit_allowed_burst=1000000
limit_reject_rate=10 limit_reject_burst=10

# burst_codes URL N: N GETs of URL in one curl (one keep-alive connection while the server
# keeps it), back to back, with bench_header if set; prints the status codes, one per line.
burst_codes() {
  local url=$1 n=$2 i
  local -a args=() hdr=()
  [[ -z "$bench_header" ]] || hdr=(-H "$bench_header")
  for ((i = 0; i < n; i++)); do args+=(-o /dev/null "$url"); done
  curl -s --max-time 10 "${hdr[@]}" -w '%{http_code}\n' "${args[@]}" || true
}

limit_fail() {  # NAME WHAT CODES...
  local name=$1 what=$2
  shift 2
  show_log "$name"
  die "$name: $what, so its figures would be meaningless; status codes: $(echo "$@" | tr '\n' ' ')"
}

# limit_check_allowing NAME URL: a burst of 200 requests must all pass (200); bulwark's
# responses must carry the RateLimit fields we say it writes.
limit_check_allowing() {
  local name=$1 url=$2 codes n_ok
  local -a hdr=()
  [[ -z "$bench_header" ]] || hdr=(-H "$bench_header")
  codes=$(burst_codes "$url" 200)
  n_ok=$(grep -c '^200$' <<<"$codes" || true)
  ((n_ok == 200)) || limit_fail "$name" "a burst of 200 under the high limit was not all 200" $codes
  if [[ "$name" == bulwark* ]]; then
    curl -s -D - -o /dev/null --max-time 5 "${hdr[@]}" "$url" | tr -d '\r' >"$tmp/$name.headers" || true
    grep -qi '^ratelimit-policy: ' "$tmp/$name.headers" && grep -qi '^ratelimit: ' "$tmp/$name.headers" ||
      limit_fail "$name" "no RateLimit / RateLimit-Policy fields on an allowed response" "$(cat "$tmp/$name.headers")"
  fi
  log "$name: a burst of 200 requests all answered 200"
}

# limit_check_rejecting NAME URL: on a fresh target (one request used by its start-up check),
# a burst of 40 must start with 200s, let at most BURST + 5 through, and end in 429s only.
limit_check_rejecting() {
  local name=$1 url=$2 codes n_ok n_429 tail_codes
  codes=$(burst_codes "$url" 40)
  n_ok=$(grep -c '^200$' <<<"$codes" || true)
  n_429=$(grep -c '^429$' <<<"$codes" || true)
  tail_codes=$(tail -n 10 <<<"$codes" | sort -u)
  [[ "$(head -n1 <<<"$codes")" == 200 && $((n_ok + n_429)) -eq 40 && $n_ok -le $((limit_reject_burst + 5)) &&
    "$tail_codes" == 429 ]] ||
    limit_fail "$name" "a burst of 40 under ${limit_reject_rate}/s (burst $limit_reject_burst) did not go 200s then 429s" $codes
  if [[ "$name" == bulwark* ]]; then
    curl -s -D - -o /dev/null --max-time 5 "$url" | tr -d '\r' >"$tmp/$name.headers" || true
    grep -q '^HTTP/1.1 429' "$tmp/$name.headers" && grep -qi '^retry-after: ' "$tmp/$name.headers" ||
      limit_fail "$name" "its refusal is not a 429 with Retry-After" "$(cat "$tmp/$name.headers")"
  fi
  log "$name: a burst of 40 requests: $n_ok answered 200, then $n_429 answered 429"
}

# limit_check_refusing NAME URL WHEN: after a rejecting run, the target still refuses with
# 429 (so wrk's non-2xx were 429s, not a broken proxy's 502s): 15 of 20 at least.
limit_check_refusing() {
  local name=$1 url=$2 codes n_ok n_429
  codes=$(burst_codes "$url" 20)
  n_ok=$(grep -c '^200$' <<<"$codes" || true)
  n_429=$(grep -c '^429$' <<<"$codes" || true)
  ((n_ok + n_429 == 20 && n_429 >= 15)) ||
    limit_fail "$name" "$3, a burst of 20 was not refused with 429" $codes
}

limit_subrun() {  # SUBRUN RATE BURST
  local label=limit-$1 rate=$2 burst=$3 b_port b_pid h_port h_pid n_port n_pid target
  start_bulwark "bulwark-$label" "limits:
  per_ip:
    rate: $rate/s
    burst: $burst
    key: client_ip" "    limits: [per_ip]"
  b_port=$bulwark_port b_pid=$bulwark_pid
  start_haproxy "haproxy-$label" "  stick-table type ip size 1m expire 60s store http_req_rate(1s)
  http-request track-sc0 src
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt $rate }"
  h_port=$haproxy_port h_pid=$haproxy_pid
  # limit_req_log_level info under error_log warn: nginx would otherwise write an error-log
  # line for every rejection (bulwark's rejection log is bounded to 100 lines/s; HAProxy
  # logs nothing here).
  start_nginx "nginx-$label" "limit_req zone=per_ip burst=$burst nodelay;
      limit_req_status 429;
      limit_req_log_level info;" \
    "limit_req_zone \$binary_remote_addr zone=per_ip:10m rate=${rate}r/s;"
  n_port=$nginx_port n_pid=$nginx_pid
  for target in "bulwark-$label=$b_port" "haproxy-$label=$h_port" "nginx-$label=$n_port"; do
    "limit_check_$([[ $1 == allowed ]] && echo allowing || echo rejecting)" \
      "${target%=*}" "http://127.0.0.1:${target#*=}$bench_path"
  done
  [[ $1 == allowed ]] || bench_reject="$rate $burst"
  run_alternating "$label" \
    "bulwark=http://127.0.0.1:$b_port$bench_path=$b_pid" \
    "haproxy=http://127.0.0.1:$h_port$bench_path=$h_pid" \
    "nginx=http://127.0.0.1:$n_port$bench_path=$n_pid"
  bench_reject=""
  stop_started "nginx-$label"
  stop_started "haproxy-$label"
  stop_started "bulwark-$label"
}

scenario_limit() {
  limit_subrun allowed "$limit_allowed_rate" "$limit_allowed_burst"
  limit_subrun rejecting "$limit_reject_rate" "$limit_reject_burst"
}

# Cache hit: bulwark (route `cache: {scope: shared}`, a 64 MiB memory store) vs nginx
# (proxy_cache), Varnish 7.1 and HAProxy 2.6 (its `cache`), each serving a public,
# max-age=60 origin response from its cache. Every run GETs a new path under /api/public/
# that was fetched once (the miss) just before (bench_cache: see cache_prime); the origin's
# request counter must show that >= 99 % of wrk's requests were hits.
cache_bulwark_settings="cache:
  memory: 64MiB
  max_object: 1MiB"
cache_bulwark_route="    cache: {scope: shared}"
# HAProxy's cache: 64 MB, objects up to 1 MiB, nothing kept longer than the origin's 60 s.
cache_haproxy_section="cache bench
  total-max-size 64
  max-object-size 1048576
  max-age 60"

# nginx: a keys zone plus 64 MB of cache files in the temp dir. proxy_cache_valid applies
# only when the origin sends no Cache-Control / Expires (here it does: max-age=60 decides);
# proxy_cache_lock: concurrent misses of one key wait for the first one's response.
cache_nginx_location="proxy_cache bench;
      proxy_cache_valid 200 1m;
      proxy_cache_lock on;"
cache_nginx_http() {  # DIR
  echo "proxy_cache_path $1/cache levels=1:2 keys_zone=bench:10m max_size=64m inactive=10m" \
    "use_temp_path=off;"
}

cache_warn_duration() {
  ((duration_s <= 50)) ||
    log "WARNING: BENCH_DURATION=${duration_s}s: the origin's max-age=60 runs out during a run," \
      "so each target refetches once a minute"
}

scenario_cache() {
  local b_port b_pid n_port n_pid h_port h_pid v_port v_pid target
  cache_warn_duration
  start_bulwark bulwark-cache "$cache_bulwark_settings" "$cache_bulwark_route"
  b_port=$bulwark_port b_pid=$bulwark_pid
  start_nginx nginx-cache "$cache_nginx_location" "$(cache_nginx_http "$tmp/nginx-cache")"
  n_port=$nginx_port n_pid=$nginx_pid
  start_haproxy haproxy-cache "  http-request cache-use bench
  http-response cache-store bench" "$cache_haproxy_section"
  h_port=$haproxy_port h_pid=$haproxy_pid
  start_varnish varnish-cache
  v_port=$varnish_port v_pid=$varnish_pid
  for target in "bulwark-cache=$b_port" "nginx-cache=$n_port" "haproxy-cache=$h_port" \
    "varnish-cache=$v_port"; do
    cache_check_hits "${target%=*}" "http://127.0.0.1:${target#*=}"
  done
  bench_cache=1
  run_alternating cache \
    "bulwark=http://127.0.0.1:$b_port$bench_path=$b_pid" \
    "nginx=http://127.0.0.1:$n_port$bench_path=$n_pid" \
    "haproxy=http://127.0.0.1:$h_port$bench_path=$h_pid" \
    "varnish=http://127.0.0.1:$v_port$bench_path=$v_pid"
  bench_cache=0
  stop_started varnish-cache
  stop_started haproxy-cache
  stop_started nginx-cache
  stop_started bulwark-cache
}

# JWT + rate limit + cache hit: bulwark (route with auth, the per-IP limit of limit-allowed
# and `cache: {scope: shared}`) vs HAProxy 2.6 doing the same in that order: its limit
# rules (limit scenario), its jwt_verify rules (jwt scenario), then its cache. The origin's
# response is public, so a shared cache may store it for an authorized request (RFC 9111
# §3.5). HAProxy's cache never stores nor serves a request that carries Authorization, so
# its config takes the field out for the cache lookup (after the token is verified) and puts
# it back for the origin on a miss. wrk replays one valid HS256 token; bulwark keeps its
# verified-token cache on (the jwt scenario's "bulwark").
scenario_cache-jwt() {
  local b_port b_pid h_port h_pid target
  local route_lines="    auth: {mode: required, issuers: [bench]}
    limits: [per_ip]
$cache_bulwark_route"
  cache_warn_duration
  jwt_setup
  bench_header="Authorization: Bearer ${jwt_good[HS256]}"
  start_bulwark bulwark-cache-jwt "$(jwt_bulwark_auth "")
limits:
  per_ip:
    rate: $limit_allowed_rate/s
    burst: $limit_allowed_burst
    key: client_ip
$cache_bulwark_settings" "$route_lines"
  b_port=$bulwark_port b_pid=$bulwark_pid
  start_haproxy haproxy-cache-jwt "  stick-table type ip size 1m expire 60s store http_req_rate(1s)
  http-request track-sc0 src
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt $limit_allowed_rate }
$(jwt_haproxy_rules)
  http-request del-header Authorization
  http-request cache-use bench
  http-request set-header Authorization \"Bearer %[var(txn.bearer)]\"
  http-response cache-store bench" "$cache_haproxy_section"
  h_port=$haproxy_port h_pid=$haproxy_pid
  for target in "bulwark-cache-jwt=$b_port" "haproxy-cache-jwt=$h_port"; do
    cache_check_hits "${target%=*}" "http://127.0.0.1:${target#*=}"
    # $bench_path is in the cache now (start_* asked for it with the token): the refusals
    # show that a cached response is not served past authentication.
    jwt_check_refusals "${target%=*}" "http://127.0.0.1:${target#*=}"
    limit_check_allowing "${target%=*}" "http://127.0.0.1:${target#*=}$bench_path"
  done
  # HAProxy's config takes Authorization out for its cache lookup: the origin must still get
  # it on a miss (/api/echo is no-store, so always a miss, and shows the fields it received).
  curl -s --max-time 5 -H "$bench_header" "http://127.0.0.1:$h_port/api/echo" |
    grep -qF "\"authorization\":\"Bearer ${jwt_good[HS256]}\"" ||
    { show_log haproxy-cache-jwt; die "haproxy-cache-jwt: the origin did not receive Authorization"; }
  bench_cache=1
  run_alternating cache-jwt \
    "bulwark=http://127.0.0.1:$b_port$bench_path=$b_pid" \
    "haproxy=http://127.0.0.1:$h_port$bench_path=$h_pid"
  bench_cache=0
  bench_header=""
  stop_started haproxy-cache-jwt
  stop_started bulwark-cache-jwt
}

# Shared state on Redis (opt-in: BENCH_SCENARIOS=state): JWT (HS256) + a per-`sub` rate limit
# (limit-allowed's rate: nothing refused) + a cache hit, on three targets that serve the same
# request, measured in one alternating run:
#   bulwark-redis  bulwark with `state: {redis: ..., on_failure: fail_open}`
#   bulwark-local  the same config without `state` (limits and cache in each process)
#   python         the reference design: FastAPI under uvicorn (workers = nproc) with PyJWT,
#                  `limits` (MovingWindowRateLimiter on RedisStorage: python3-limits 2.8 has
#                  no GCRA) and a response cache in Redis (bench/load/reference_app.py)
# One redis-server (no persistence) on a free port serves bulwark-redis and python. Every run
# records its Redis commands per request (INFO commandstats, calls delta / wrk requests,
# commands run by Lua scripts included) and redis-server's CPU. A target that cannot start
# (bulwark refusing the config, Python packages missing, a process that exits) or fails its
# checks is reported as skipped with the reason; the others are measured all the same.
state_targets=()      # "target=url=pid" of the targets that started and passed their checks
state_skipped=()      # "target: reason"
state_skip_reason=""
state_python_stack="" # versions of the Python stack, for the report
state_redis_version=""

state_skip() {  # TARGET REASON
  state_skipped+=("$1: $2")
  log "state: skipping $1: $2"
}

state_last_line() { grep -v '^[[:space:]]*$' "$tmp/$1.log" 2>/dev/null | tail -n1; }

# state_soft_start NAME PORT SECONDS CMD...: start_bg CMD and wait until 127.0.0.1:PORT
# accepts; a process that exits or does not listen in time is stopped and the call returns 1
# with state_skip_reason set (start_bg/wait_port would end the whole run).
state_soft_start() {
  local name=$1 port=$2 secs=$3 i
  shift 3
  start_bg "$name" "$@"
  for i in $(seq 1 $((secs * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    if ! kill -0 "$started_pid" 2>/dev/null; then
      state_skip_reason="$name exited during start-up: $(state_last_line "$name")"
      stop_started "$name"
      return 1
    fi
    sleep 0.1
  done
  state_skip_reason="$name did not listen on 127.0.0.1:$port within $secs s (log: $(state_last_line "$name"))"
  stop_started "$name"
  return 1
}

# state_soft_ok NAME URL: a 200 within 10 s (uvicorn's workers come up after its socket
# listens); else stop NAME, set state_skip_reason, return 1.
state_soft_ok() {
  local code="" i
  for i in $(seq 1 20); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "$bench_header" "$2" || true)
    [[ "$code" == 200 ]] && return 0
    sleep 0.5
  done
  state_skip_reason="GET $2 answered '$code', expected 200 (log: $(state_last_line "$1"))"
  stop_started "$1"
  return 1
}

# state_start_bulwark NAME EXTRA_YAML ROUTE_YAML: start_bulwark, but a refused config or a
# failed start returns 1 with state_skip_reason set.
state_start_bulwark() {
  local name=$1 cfg=$tmp/$1.yaml out
  write_bulwark_config "$@"
  if ! out=$("$bulwark_bin" check "$cfg" 2>&1); then
    state_skip_reason="bulwark check refused its config: $(grep -v '^[0-9]* error' <<<"$out" | head -n1)"
    return 1
  fi
  state_soft_start "$name" "$bulwark_port" 10 "$bulwark_bin" serve --config "$cfg" || return 1
  bulwark_pid=$started_pid
  bulwark_workers=$(sed -n 's/.* with \([0-9][0-9]*\) workers.*/\1/p' "$tmp/$name.log" | head -n1)
  state_soft_ok "$name" "http://127.0.0.1:$bulwark_port$bench_path"
}

# state_check_body NAME BASE_URL: the body served for $bench_path (in the cache since the
# start-up check) is the origin's own body for it.
state_check_body() {
  local got want
  got=$(curl -s --max-time 5 -H "$bench_header" "$2$bench_path") || die "$1: GET $2$bench_path failed"
  want=$(curl -s --max-time 5 -H "$bench_header" "http://127.0.0.1:$origin_port$bench_path")
  [[ -n "$want" && "$got" == "$want" ]] ||
    { show_log "$1"; die "$1: the body of a cache hit is '$got', the origin's is '$want'"; }
  log "$1: a cache hit's body is the origin's ($got)"
}

# state_checks NAME BASE_URL VALID_TOKENS: everything a target must show before it is
# measured: cache hits on a new path (none reaching the origin), the hit's body, 401 for every
# bad or missing token (the hit must not be served past authentication), 200 for the valid
# ones, and a burst of 200 under the limit all answered 200. Run in a subshell by the caller:
# a failed check (die) then skips this target instead of ending the run.
state_checks() {
  cache_check_hits "$1" "$2"
  state_check_body "$1" "$2"
  jwt_check_refusals "$1" "$2" "${3:-}"
  limit_check_allowing "$1" "$2$bench_path"
}

state_try_checks() {  # TARGET=URL=PID NAME BASE_URL [VALID_TOKENS]: on success, add the target
  local spec=$1 rc=0 why
  shift
  (state_checks "$@") 2>"$tmp/$1.checks" || rc=$?
  cat "$tmp/$1.checks" >&2
  cache_seq=$((cache_seq + 1))  # the subshell's cache_check_hits used a path of its own
  if ((rc != 0)); then
    # The reason: the last "bench: " line (die's message) and whatever followed it.
    why=$(awk '/^bench: / && !/ \(tail\)$/ { n = 0 } { l[++n] = $0 }
      END { s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " / " : "") l[i]; print s }' \
      "$tmp/$1.checks" | sed 's/^bench: //')
    state_skip "${spec%%=*}" "its checks failed: $why"
    stop_started "$1"
    return 0
  fi
  state_targets+=("$spec")
}

scenario_state() {
  local rate=$limit_allowed_rate burst=$limit_allowed_burst redis_port py_port py_workers
  local python_bin=${BENCH_PYTHON:-/usr/bin/python3} settings route b_port b_pid
  local route="    auth: {mode: required, issuers: [bench]}
    limits: [per_sub]
$cache_bulwark_route"
  cache_warn_duration
  jwt_setup
  bench_header="Authorization: Bearer ${jwt_good[HS256]}"
  state_targets=() state_skipped=()
  settings="$(jwt_bulwark_auth "")
limits:
  per_sub:
    rate: $rate/s
    burst: $burst
    key: claim:sub
$cache_bulwark_settings"

  # The Redis both Redis-backed targets share: no persistence, loopback only.
  free_port redis_port
  mkdir -p "$tmp/redis"
  state_redis_version=$(redis-server --version 2>&1 | sed -n 's/.* v=\([^ ]*\).*/\1/p')
  if state_soft_start redis "$redis_port" 10 redis-server --bind 127.0.0.1 --port "$redis_port" \
    --save "" --appendonly no --dir "$tmp/redis" --logfile ""; then
    bench_redis_pid=$started_pid
  else
    state_skip redis-server "$state_skip_reason"
    redis_port=""
  fi

  # 1. bulwark with Redis state.
  if [[ -z "$redis_port" ]]; then
    state_skip bulwark-redis "no redis-server"
  elif state_start_bulwark bulwark-state-redis "$settings
state:
  redis: redis://127.0.0.1:$redis_port/0
  on_failure: fail_open" "$route"; then
    state_try_checks "bulwark-redis=http://127.0.0.1:$bulwark_port$bench_path=$bulwark_pid" \
      bulwark-state-redis "http://127.0.0.1:$bulwark_port"
  else
    state_skip bulwark-redis "$state_skip_reason"
  fi

  # 2. bulwark with local state: the same config without `state`.
  if state_start_bulwark bulwark-state-local "$settings" "$route"; then
    state_try_checks "bulwark-local=http://127.0.0.1:$bulwark_port$bench_path=$bulwark_pid" \
      bulwark-state-local "http://127.0.0.1:$bulwark_port"
  else
    state_skip bulwark-local "$state_skip_reason"
  fi

  # 3. The Python reference stack (Debian's python3-* packages: BENCH_PYTHON, default
  # /usr/bin/python3, so that a python3 earlier in PATH (pyenv, a venv) does not hide them).
  py_workers=$(nproc)
  if [[ -z "$redis_port" ]]; then
    state_skip python "no redis-server"
  elif ! state_python_stack=$("$python_bin" - 2>&1 <<'PYEOF'
import importlib.util, fastapi, jwt, limits, redis, uvicorn
loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
http = "httptools" if importlib.util.find_spec("httptools") else "h11"
print(f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__} ({loop}, {http}),"
      f" PyJWT {jwt.__version__}, limits {limits.__version__}, redis-py {redis.__version__}")
PYEOF
  ); then
    state_skip python "$python_bin cannot import its packages ($(tail -n1 \
      <<<"$state_python_stack")): scripts/install-deps.sh --bench"
    state_python_stack=""
  else
    free_port py_port
    if state_soft_start python "$py_port" 30 env REF_ORIGIN="127.0.0.1:$origin_port" \
      REF_REDIS="redis://127.0.0.1:$redis_port/0" REF_SECRET_ENV=BENCH_HS256_SECRET \
      REF_ISS="$jwt_iss" REF_AUD="$jwt_aud" REF_LIMIT="$rate/second" \
      "$python_bin" -m uvicorn --app-dir "$PWD/bench/load" reference_app:app \
      --host 127.0.0.1 --port "$py_port" --workers "$py_workers" --log-level warning \
      --no-access-log &&
      state_soft_ok python "http://127.0.0.1:$py_port$bench_path"; then
      # Only the HS256 secret is configured there: a valid ES256 token is not expected to pass.
      state_try_checks "python=http://127.0.0.1:$py_port$bench_path=$started_pid" \
        python "http://127.0.0.1:$py_port" "HS256 crafted-HS256"
    else
      state_skip python "$state_skip_reason"
    fi
  fi

  if ((${#state_targets[@]} > 0)); then
    bench_cache=1 bench_redis_port=$redis_port
    run_alternating state "${state_targets[@]}"
    bench_cache=0 bench_redis_port="" bench_redis_pid=""
  else
    log "state: no target to measure"
  fi
  bench_header=""
  stop_started python
  stop_started bulwark-state-local
  stop_started bulwark-state-redis
  stop_started redis
}

# ---------------------------------------------------------------------------------------
# Report
mean_of() {  # SCENARIO TARGET FIELD_ARRAY_NAME
  local -n arr=$3
  local i sum=0 n=0
  for i in "${!res_scenario[@]}"; do
    if [[ "${res_scenario[i]}" == "$1" && "${res_target[i]}" == "$2" ]]; then
      sum=$(awk -v s="$sum" -v v="${arr[i]}" 'BEGIN { printf "%.6f", s + v }')
      n=$((n + 1))
    fi
  done
  ((n > 0)) || return 1
  awk -v s="$sum" -v n="$n" 'BEGIN { printf "%.3f", s / n }'
}

# "scenario target peer t_rps p_rps rps_ratio t_p99 p_p99 p99_ratio t_us p_us us_ratio":
# every bulwark* target of a scenario label against every other target of that label.
ratio_lines=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
compute_ratios() {
  local labels=" " scenario i t ours peers b p b_rps p_rps b_p99 p_p99 b_us p_us
  for i in "${!res_scenario[@]}"; do
    [[ "$labels" == *" ${res_scenario[i]} "* ]] || labels+="${res_scenario[i]} "
  done
  for scenario in $labels; do
    ours=" " peers=" "
    for i in "${!res_scenario[@]}"; do
      [[ "${res_scenario[i]}" == "$scenario" ]] || continue
      t=${res_target[i]}
      if [[ "$t" == bulwark* ]]; then
        [[ "$ours" == *" $t "* ]] || ours+="$t "
      else
        [[ "$peers" == *" $t "* ]] || peers+="$t "
      fi
    done
    for b in $ours; do
      b_rps=$(mean_of "$scenario" "$b" res_rps)
      b_p99=$(mean_of "$scenario" "$b" res_p99)
      b_us=$(mean_of "$scenario" "$b" res_cpu_per_req)
      for p in $peers; do
        p_rps=$(mean_of "$scenario" "$p" res_rps)
        p_p99=$(mean_of "$scenario" "$p" res_p99)
        p_us=$(mean_of "$scenario" "$p" res_cpu_per_req)
        ratio_lines+=("$scenario $b $p $b_rps $p_rps $(ratio "$b_rps" "$p_rps") $b_p99 $p_p99 \
$(ratio "$b_p99" "$p_p99") $b_us $p_us $(ratio "$b_us" "$p_us")")
      done
    done
  done
}

print_report() {
  local i line s t peer b_rps p_rps r_rps b_p99 p_p99 r_p99 b_us p_us r_us w=8 sw=10
  for t in "${res_target[@]}"; do ((${#t} <= w)) || w=${#t}; done
  for t in "${res_scenario[@]}"; do ((${#t} <= sw)) || sw=${#t}; done
  echo
  echo "bulwark load benchmark: wrk -t$wrk_threads -c$connections -d${duration_s}s GET $bench_path" \
    "($(nproc) cores shared by wrk, origin and proxy; bulwark workers: ${bulwark_workers:-?})"
  echo "cpu columns: cores used during the run by the target, per request (us), by the origin,"
  echo "by wrk, and by anything else on the host (should be ~0; if not, the run was disturbed)"
  if [[ " ${res_scenario[*]} " == *" jwt-"* ]]; then
    echo "jwt-*: one valid token replayed (Authorization: Bearer); bulwark = verified-token cache on,"
    echo "bulwark-nocache = auth.token_cache_entries: 0 (verifies every request, as haproxy does)"
  fi
  if [[ " ${res_scenario[*]} " == *" cache"* ]]; then
    echo "cache*: every run GETs a path of its own ($bench_path-NNN), fetched once (a miss)"
    echo "just before; the run itself should be all hits (origin requests per run: below)"
  fi
  if [[ " ${res_scenario[*]} " == *" cache-jwt "* ]]; then
    echo "cache-jwt: bearer JWT (HS256, one token replayed), per-IP limit" \
      "(${limit_allowed_rate}/s), then the shared cache"
  fi
  if [[ " ${res_scenario[*]} " == *" limit-"* ]]; then
    echo "limit-*: one per-client-IP limit, then proxy (all requests from 127.0.0.1: one key);"
    echo "limit-allowed: ${limit_allowed_rate}/s, nothing refused (bulwark adds RateLimit fields);"
    echo "limit-rejecting: ${limit_reject_rate}/s burst $limit_reject_burst, ~all 429 (errors = socket errors + 2xx beyond the limit)"
  fi
  printf "%-${sw}s %-${w}s %3s %10s %8s %6s %6s %7s %6s %6s %6s\n" \
    scenario target run 'req/s' 'p99 ms' errors cpu 'us/req' origin wrk other
  for i in "${!res_scenario[@]}"; do
    printf "%-${sw}s %-${w}s %3s %10.0f %8.2f %6s %6s %7s %6s %6s %6s\n" "${res_scenario[i]}" \
      "${res_target[i]}" "${res_run[i]}" "${res_rps[i]}" "${res_p99[i]}" "${res_errors[i]}" \
      "${res_cpu[i]}" "${res_cpu_per_req[i]}" "${res_origin_cpu[i]}" "${res_wrk_cpu[i]}" \
      "${res_other_cpu[i]}"
  done
  local refused=""
  for i in "${!res_scenario[@]}"; do
    [[ "${res_scenario[i]}" == limit-rejecting ]] || continue
    refused+=" ${res_target[i]} $(awk -v n="${res_non2xx[i]}" -v r="${res_requests[i]}" \
      'BEGIN { printf "%.3f", (r > 0 ? 100 * n / r : 0) }')%,"
  done
  [[ -z "$refused" ]] || echo "limit-rejecting: share refused (429) per run:${refused%,}"
  local label labels=" " origin_line
  for i in "${!res_scenario[@]}"; do
    [[ -n "${res_origin_reqs[i]}" && "$labels" != *" ${res_scenario[i]} "* ]] &&
      labels+="${res_scenario[i]} "
  done
  for label in $labels; do
    origin_line=""
    for i in "${!res_scenario[@]}"; do
      [[ "${res_scenario[i]}" == "$label" ]] || continue
      origin_line+=" ${res_target[i]} ${res_origin_reqs[i]}/${res_requests[i]},"
    done
    echo "$label: origin requests / requests per run:${origin_line%,}"
  done
  print_state_report
  local disturbed=0
  for i in "${!res_other_cpu[@]}"; do
    awk -v o="${res_other_cpu[i]}" 'BEGIN { exit !(o > 0.3) }' && disturbed=$((disturbed + 1))
  done
  if ((disturbed > 0)); then
    echo "WARNING: $disturbed run(s) had other > 0.3 cores busy: something else ran on the host;" \
      "req/s and p99 of those runs are noise (us/req holds up better)"
  fi
  echo
  for line in "${ratio_lines[@]}"; do
    read -r s t peer b_rps p_rps r_rps b_p99 p_p99 r_p99 b_us p_us r_us <<<"$line"
    printf '%s: %s/%s req/s = %.0f / %.0f = %s   p99 = %.2f / %.2f ms = %s   us/req = %.1f / %.1f = %s\n' \
      "$s" "$t" "$peer" "$b_rps" "$p_rps" "$r_rps" "$b_p99" "$p_p99" "$r_p99" "$b_us" "$p_us" "$r_us"
  done
}

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# The state scenario's part of the report: Redis per run, skipped targets, the two ratios the
# issue sets goals for (bulwark-redis >= 0.7x bulwark-local, >= 30x python).
state_ratio() {  # A B: "RATIO" of the mean req/s of targets A and B in label state, or "n/a"
  local a b
  a=$(mean_of state "$1" res_rps) && b=$(mean_of state "$2" res_rps) || { echo n/a; return; }
  ratio "$a" "$b"
}

print_state_report() {
  local i line="" r a b goal
  [[ " ${scenarios[*]} " == *" state "* ]] || return 0
  echo "state: JWT (HS256, one token replayed), per-sub limit (${limit_allowed_rate}/s), cache hit;" \
    "python = FastAPI + Redis reference stack ($state_python_stack), redis-server $state_redis_version"
  for i in "${!res_scenario[@]}"; do
    [[ "${res_scenario[i]}" == state ]] || continue
    line+=" ${res_target[i]} ${res_redis_cmds[i]} (redis-server ${res_redis_cpu[i]} cores),"
  done
  [[ -z "$line" ]] || echo "state: Redis commands per request (INFO commandstats) per run:${line%,}"
  for i in "${!res_scenario[@]}"; do
    [[ "${res_scenario[i]}" == state && "${res_redis_detail[i]}" != - ]] || continue
    echo "state:   ${res_target[i]} run ${res_run[i]}: ${res_redis_detail[i]//,/, }"
  done
  for line in "${state_skipped[@]}"; do echo "state: skipped: $line"; done
  for line in "bulwark-redis bulwark-local 0.7" "bulwark-redis python 30"; do
    read -r a b goal <<<"$line"
    r=$(state_ratio "$a" "$b")
    if [[ "$r" == n/a ]]; then
      echo "state: $a/$b req/s: n/a (a target was not measured) — goal >= $goal"
    else
      echo "state: $a/$b req/s = $(mean_of state "$a" res_rps) / $(mean_of state "$b" res_rps)" \
        "= $r — goal >= $goal: $(awk -v r="$r" -v g="$goal" 'BEGIN { print (r >= g ? "met" : "NOT met") }')"
    fi
  done
}

write_json() {
  local i line s t peer b_rps p_rps r_rps b_p99 p_p99 r_p99 b_us p_us r_us sep
  {
    printf '{\n'
    printf '  "generated_at": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "host": {"cores": %s, "kernel": %s, "busy_cores_before": %s},\n' "$(nproc)" \
      "$(json_str "$(uname -r)")" "$host_busy_before"
    printf '  "versions": {"bulwark": %s, "commit": %s, "nginx": %s, "haproxy": %s, "varnish": %s, "wrk": %s},\n' \
      "$(json_str "$("$bulwark_bin" --version 2>&1 | head -n1)")" \
      "$(json_str "$(git -C "$build_dir" describe --always --dirty 2>/dev/null ||
        git describe --always --dirty 2>/dev/null || echo unknown)")" \
      "$(json_str "$( (nginx -v 2>&1 || echo none) | head -n1)")" \
      "$(json_str "$( (haproxy -v 2>&1 || echo none) | head -n1)")" \
      "$(json_str "$( (varnishd -V 2>&1 || echo none) | head -n1)")" \
      "$(json_str "$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)")"
    printf '  "settings": {"duration_s": %s, "warmup_s": %s, "connections": %s, "wrk_threads": %s, "runs": %s, "path": %s, "bulwark_workers": %s, "jwt_algs": [%s], "limit_allowed": {"rate_per_s": %s, "burst": %s}, "limit_rejecting": {"rate_per_s": %s, "burst": %s}, "cache": {"memory": "64MiB", "max_object": "1MiB", "min_hit_percent": %s}},\n' \
      "$duration_s" "$warmup_s" "$connections" "$wrk_threads" "$runs" "$(json_str "$bench_path")" \
      "${bulwark_workers:-null}" "$(for i in "${!jwt_algs[@]}"; do
        ((i == 0)) || printf ', '; json_str "${jwt_algs[i]}"; done)" \
      "$limit_allowed_rate" "$limit_allowed_burst" "$limit_reject_rate" "$limit_reject_burst" \
      "$cache_min_hit_pct"
    printf '  "results": [\n'
    sep=""
    for i in "${!res_scenario[@]}"; do
      printf '%s    {"scenario": %s, "target": %s, "run": %s, "requests_per_sec": %s, "p99_ms": %s, "requests": %s, "non_2xx": %s, "errors": %s, "cpu_cores": %s, "cpu_us_per_request": %s, "origin_cpu_cores": %s, "wrk_cpu_cores": %s, "other_cpu_cores": %s, "origin_requests": %s, "redis_commands_per_request": %s, "redis_commands": %s, "redis_cpu_cores": %s}' \
        "$sep" "$(json_str "${res_scenario[i]}")" "$(json_str "${res_target[i]}")" "${res_run[i]}" \
        "${res_rps[i]}" "${res_p99[i]}" "${res_requests[i]}" "${res_non2xx[i]}" "${res_errors[i]}" "${res_cpu[i]}" \
        "${res_cpu_per_req[i]}" "${res_origin_cpu[i]}" "${res_wrk_cpu[i]}" "${res_other_cpu[i]}" \
        "${res_origin_reqs[i]:-null}" "${res_redis_cmds[i]:-null}" \
        "$([[ -n "${res_redis_detail[i]}" ]] && json_str "${res_redis_detail[i]}" || echo null)" \
        "${res_redis_cpu[i]:-null}"
      sep=$',\n'
    done
    printf '\n  ],\n  "ratios": [\n'
    sep=""
    for line in "${ratio_lines[@]}"; do
      read -r s t peer b_rps p_rps r_rps b_p99 p_p99 r_p99 b_us p_us r_us <<<"$line"
      printf '%s    {"scenario": %s, "target": %s, "peer": %s, "bulwark_requests_per_sec": %s, "peer_requests_per_sec": %s, "requests_per_sec_ratio": %s, "bulwark_p99_ms": %s, "peer_p99_ms": %s, "p99_ratio": %s, "bulwark_cpu_us_per_request": %s, "peer_cpu_us_per_request": %s, "cpu_us_per_request_ratio": %s}' \
        "$sep" "$(json_str "$s")" "$(json_str "$t")" "$(json_str "$peer")" "$b_rps" "$p_rps" \
        "$r_rps" "$b_p99" "$p_p99" "$r_p99" "$b_us" "$p_us" "$r_us"
      sep=$',\n'
    done
    printf '\n  ]'
    if [[ " ${scenarios[*]} " == *" state "* ]]; then
      printf ',\n  "state": {"python_stack": %s, "redis_server": %s, "redis_vs_local_requests_per_sec": %s, "redis_vs_python_requests_per_sec": %s, "skipped": [' \
        "$(json_str "$state_python_stack")" "$(json_str "$state_redis_version")" \
        "$(r=$(state_ratio bulwark-redis bulwark-local); [[ $r == n/a ]] && echo null || echo "$r")" \
        "$(r=$(state_ratio bulwark-redis python); [[ $r == n/a ]] && echo null || echo "$r")"
      sep=""
      for line in "${state_skipped[@]}"; do printf '%s%s' "$sep" "$(json_str "$line")"; sep=", "; done
      printf ']}'
    fi
    printf '\n}\n'
  } >"$results_json.tmp"
  mv "$results_json.tmp" "$results_json"
}

# ---------------------------------------------------------------------------------------
for s in "${scenarios[@]}"; do
  declare -F "scenario_$s" >/dev/null || die "unknown scenario '$s' (have: $(declare -F |
    sed -n 's/^declare -f scenario_//p' | tr '\n' ' '))"
done
host_busy_before=$(host_busy_cores)
if awk -v b="$host_busy_before" 'BEGIN { exit !(b > 0.3) }'; then
  log "WARNING: the host is already busy ($host_busy_before cores in use before the benchmark);" \
    "results will be noisy — see the 'other' column"
fi
start_origin
log "origin on 127.0.0.1:$origin_port (pid $origin_pid); logs in $tmp"
for s in "${scenarios[@]}"; do "scenario_$s"; done
compute_ratios
print_report
write_json
echo
echo "results: $results_json"
