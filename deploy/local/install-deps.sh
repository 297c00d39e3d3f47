#!/usr/bin/env bash
# Installs what building, testing and running feed-ingest need on Debian 12,
# only when missing. Used by `make run`, `make test` and `make build`.
set -euo pipefail

packages=(
  cmake ninja-build ccache pkg-config g++ make
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libabsl-dev prometheus-cpp-dev libhiredis-dev redis-server
  libgtest-dev libbenchmark-dev nlohmann-json3-dev libconcurrentqueue-dev libjemalloc-dev
  prometheus python3 python3-prometheus-client python3-yaml python3-grpcio python3-kafka python3-snappy
  libcurl4-openssl-dev libssl-dev openssl python3-botocore
  docker-compose golang-go golang-github-hashicorp-hcl-v2-dev
  clang libclang-rt-14-dev
  curl
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A tool may be on PATH without its Debian package (e.g. a newer Node.js).
for i in "${!missing[@]}"; do
  case "${missing[$i]}" in
    cmake|make|g++|curl) command -v "${missing[$i]}" >/dev/null 2>&1 && unset 'missing[i]' ;;
  esac
done

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # redis-server is here for its binary: the tests start their own Redis on
  # free loopback ports, and the compose stack runs its own container. Debian
  # starts the system service (127.0.0.1:6379) when it installs the package;
  # nothing uses it, so the instance just started is stopped again. Whether it
  # starts at boot stays as Debian set it: nothing here needs port 6379, free
  # or taken.
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v invoke-rc.d >/dev/null 2>&1; then
    $sudo invoke-rc.d redis-server stop >/dev/null 2>&1 || true
  fi
fi
