#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what causal-eval needs to build and test on Debian 12.
# Idempotent: does nothing (and needs no root) when every package is present.
#   tools/install-deps.sh           what the build and the tests need
#   tools/install-deps.sh --bench   also the benchmark tools of tools/bench/pipeline.sh
#   tools/install-deps.sh --container   also podman, buildah and debootstrap (tools/container/build.sh)
#   tools/install-deps.sh --no-browser  all but chromium (a build that runs no specs)
set -euo pipefail

WITH_BENCH=0
WITH_CONTAINER=0
WITH_BROWSER=1
for arg in "$@"; do
  case $arg in
    --bench) WITH_BENCH=1 ;;
    --container) WITH_CONTAINER=1 ;;
    --no-browser) WITH_BROWSER=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

PKGS=(
  build-essential cmake pkg-config git
  liblua5.4-dev lua5.4
  libcurl4-openssl-dev libyaml-dev libhiredis-dev liblmdb-dev
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
  libedit-dev libmicrohttpd-dev libsodium-dev zlib1g-dev
  lua-busted lua-cjson
  redis-server prometheus curl
  # the PostgreSQL results store (store.url): libpq's headers to build
  # (the library is loaded only when a store names a server), and a
  # PostgreSQL 15 server that the specs and tools/bench/pg.sh start
  libpq-dev postgresql-15
  # xmllint: spec/junit_spec.lua checks JUnit files against spec/data/junit.xsd
  libxml2-utils
  # libFuzzer and clang's sanitizer runtimes (CI's fuzz step): only a
  # recommendation of clang's, which --no-install-recommends leaves out
  clang libclang-rt-dev
)
if [ "$WITH_BROWSER" -eq 1 ]; then
  # spec/serve_dashboard_spec.lua opens serve's dashboard in it, headless
  # (on top of the rest: 25 packages, 118 MB, 23 s to install from a local apt cache)
  PKGS+=(chromium)
fi
if [ "$WITH_BENCH" -eq 1 ]; then
  # tools/bench/pipeline.sh: a zero-latency endpoint, a load generator for
  # scale, and GNU time (its fallback cost meter)
  PKGS+=(nginx wrk time)
fi
if [ "$WITH_CONTAINER" -eq 1 ]; then
  # tools/container/build.sh: the engine, a base image made without a
  # registry, and runc (crun refuses cgroups in hybrid mode)
  PKGS+=(podman buildah debootstrap runc uidmap slirp4netns fuse-overlayfs)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or install sudo) to install them" >&2
    exit 1
  fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
