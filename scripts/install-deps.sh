#!/usr/bin/env bash
# Installs the Debian packages bulwark needs to build, test and run its demo.
# Silent and free when everything is already present: dpkg is asked first, apt only
# runs for what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git python3 curl openssl ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libhiredis-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libsqlite3-dev libgtest-dev libgmock-dev libbenchmark-dev
  redis-server
)
# Peers for the side-by-side load runs (bench/load), only when asked; the python3-* ones are
# the state scenario's FastAPI + Redis reference stack.
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nginx-light haproxy varnish
    python3-fastapi python3-jwt python3-limits python3-redis python3-uvicorn)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
