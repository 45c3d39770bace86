#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the causal-eval container image (the Dockerfile at the repository
# root) with podman, then starts it and checks GET /healthz from the host and
# with the image's own HEALTHCHECK, prints the image size and the build time,
# stops the container (SIGTERM, expecting exit status 0) and removes it.
#
#   tools/container/build.sh [options]
#     --tag NAME       image name (default localhost/causal-eval:latest)
#     --rev REV        build the committed revision REV (git archive) instead
#                      of the working tree
#     --base MODE      where the Debian 12 base image comes from:
#                      auto (default): a local debian:bookworm-slim, else the
#                      base an earlier run made, else pull debian:bookworm-slim,
#                      else make one with debootstrap (make-base.sh);
#                      pull; debootstrap
#     --rebuild-base   make the debootstrap base again
#     --no-cache       build every layer again (a cold build time)
#     --no-check       build only
#     --port N         host port for the check (default: a free one from 18000)
# Environment: CE_CONTAINER_STORAGE=vfs uses podman's vfs storage driver (its
# own store, /var/lib/containers/storage-vfs) where overlay cannot work;
# DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR (make-base.sh).
# Needs podman (tools/install-deps.sh --container); root for debootstrap.
# Not part of `make test` or CI. Exit status: 0 built (and checked), 1 failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

TAG=localhost/causal-eval:latest
REV=""
BASE_MODE=auto
REBUILD_BASE=0
NO_CACHE=()
CHECK=1
PORT=""
PULL_IMAGE=docker.io/library/debian:bookworm-slim
LOCAL_BASE=localhost/causal-eval-base:bookworm
CHECK_NAME=causal-eval-check
CHECK_VOLUME=causal-eval-check-data

while [ $# -gt 0 ]; do
  case $1 in
    --tag) TAG=$2; shift ;;
    --rev) REV=$2; shift ;;
    --base) BASE_MODE=$2; shift
            case $BASE_MODE in auto|pull|debootstrap) ;; *) echo "build.sh: --base is auto, pull or debootstrap" >&2; exit 2 ;; esac ;;
    --rebuild-base) REBUILD_BASE=1 ;;
    --no-cache) NO_CACHE=(--no-cache) ;;
    --no-check) CHECK=0 ;;
    --port) PORT=$2; shift ;;
    -h|--help) sed -n '3,26p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "build.sh: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

work=$(mktemp -d /var/tmp/causal-eval-container.XXXXXX)
container_started=0
cleanup() {
  local rc=$?
  if [ "$container_started" -eq 1 ]; then
    podman rm -f -t 0 "$CHECK_NAME" >/dev/null 2>&1 || true
    podman volume rm -f "$CHECK_VOLUME" >/dev/null 2>&1 || true
    say "removed the check container $CHECK_NAME and its volume"
  fi
  rm -rf --one-file-system "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- podman here
command -v podman >/dev/null ||
  die "podman is not installed: tools/install-deps.sh --container (apt-get install podman buildah debootstrap runc)"

# Settings this machine needs, in a containers.conf of our own (podman, and
# buildah under `podman build`, read it through CONTAINERS_CONF).
conf_containers=() conf_engine=()
# crun (podman's default runtime on Debian 12) refuses cgroups in hybrid mode
# (v1 controllers plus a cgroup2 mount): "crun: cgroups in hybrid mode not
# supported, drop all controllers from cgroupv2". runc works with it.
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ] && [ -d /sys/fs/cgroup/unified ] &&
   [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
  command -v runc >/dev/null ||
    die "cgroups are in hybrid mode (v1 with /sys/fs/cgroup/unified), which crun refuses; install runc (tools/install-deps.sh --container)"
  say "cgroups in hybrid mode: using the runc runtime (crun refuses hybrid mode)"
  conf_engine+=('runtime = "runc"')
fi
# Rootful podman gives containers nofile=1048576 and a high nproc; raising a
# hard limit needs CAP_SYS_RESOURCE ("setrlimit RLIMIT_NOFILE: Operation not
# permitted"). Without it, give containers this shell's hard nofile and 4096
# processes (CE_CONTAINER_NPROC), under what podman itself runs with.
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if [ "$(id -u)" -eq 0 ] && (( ((16#$capeff) >> 24 & 1) == 0 )); then
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  nproc=${CE_CONTAINER_NPROC:-4096}
  say "no CAP_SYS_RESOURCE: containers get nofile=$nofile, nproc=$nproc"
  conf_containers+=("default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]")
fi
{
  echo "[containers]"; printf '%s\n' "${conf_containers[@]}"
  echo "[engine]"; printf '%s\n' "${conf_engine[@]}"
} > "$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf

use_vfs() {
  cat > "$work/storage.conf" <<'EOF'
[storage]
driver = "vfs"
runroot = "/run/containers/storage-vfs"
graphroot = "/var/lib/containers/storage-vfs"
EOF
  export CONTAINERS_STORAGE_CONF=$work/storage.conf
}
[ "${CE_CONTAINER_STORAGE:-}" = vfs ] && use_vfs
if ! info=$(podman info --format '{{.Store.GraphDriverName}} {{.Host.CgroupsVersion}} {{.Host.OCIRuntime.Name}} {{.Version.Version}}' 2>&1); then
  if [ -z "${CONTAINERS_STORAGE_CONF:-}" ] && grep -qi overlay <<<"$info"; then
    say "podman cannot use overlay storage here ($(tail -1 <<<"$info")); trying the vfs driver"
    use_vfs
    info=$(podman info --format '{{.Store.GraphDriverName}} {{.Host.CgroupsVersion}} {{.Host.OCIRuntime.Name}} {{.Version.Version}}' 2>&1) ||
      die "podman cannot run here: $info"
  else
    die "podman cannot run here: $info"
  fi
fi
read -r driver cgv runtime pver <<<"$info"
say "podman $pver: storage $driver, cgroups $cgv, runtime $runtime"

# ------------------------------------------------------------------ the base
base=""
if [ "$BASE_MODE" != debootstrap ]; then
  if podman image exists "$PULL_IMAGE"; then
    base=$PULL_IMAGE
  elif [ "$BASE_MODE" = auto ] && [ "$REBUILD_BASE" -eq 0 ] && podman image exists "$LOCAL_BASE"; then
    base=$LOCAL_BASE   # made by an earlier run: no registry to try again
  elif [ "$BASE_MODE" = pull ] || [ "$BASE_MODE" = auto ]; then
    say "pulling $PULL_IMAGE"
    if timeout 90 podman pull -q "$PULL_IMAGE" > "$work/pull.log" 2>&1; then
      base=$PULL_IMAGE
    else
      say "cannot pull $PULL_IMAGE: $(grep -v '^$' "$work/pull.log" | tail -1)"
      [ "$BASE_MODE" = pull ] && die "no registry reachable and --base pull"
    fi
  fi
fi
if [ -z "$base" ]; then
  say "making the base image locally with debootstrap ($LOCAL_BASE)"
  force=()
  [ "$REBUILD_BASE" -eq 1 ] && force=(--force)
  "$here/make-base.sh" "${force[@]}" "$LOCAL_BASE"
  base=$LOCAL_BASE
fi
say "base image: $base ($(podman image inspect --format '{{.Size}}' "$base" | numfmt --to=si)B)"

# Can a container start at all? (runtime, cgroups, limits, namespaces)
if ! out=$(podman run --rm --network none "$base" true 2>&1); then
  hint=""
  case $out in
    *"hybrid mode"*) hint=" (crun and cgroups in hybrid mode: install runc)" ;;
    *rlimit*|*RLIMIT*) hint=" (resource limits: set CE_CONTAINER_NPROC lower)" ;;
    *newuidmap*|*subuid*|*"user namespace"*) hint=" (user namespaces: run as root, or add subuid/subgid ranges)" ;;
    *overlay*) hint=" (storage: CE_CONTAINER_STORAGE=vfs)" ;;
  esac
  die "podman cannot start a container here$hint: $out"
fi

# --------------------------------------------------------------- the context
if [ -n "$REV" ]; then
  ctx=$work/context
  mkdir -p "$ctx"
  git -C "$repo" archive --format=tar "$REV" | tar -x -C "$ctx"
  revision=$(git -C "$repo" rev-parse "$REV")
  [ -f "$ctx/Dockerfile" ] || die "revision $REV has no Dockerfile"
  say "context: revision $revision (git archive)"
else
  ctx=$repo
  revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
  git -C "$repo" diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
  say "context: the working tree $repo ($revision)"
fi

# ------------------------------------------------------------------ the build
say "building $TAG"
t0=$(date +%s.%N)
podman build --format docker "${NO_CACHE[@]}" \
  --build-arg BASE_IMAGE="$base" --build-arg CE_REVISION="$revision" \
  -t "$TAG" -f "$ctx/Dockerfile" "$ctx" ||
  die "podman build failed (the output above names the step)"
t1=$(date +%s.%N)
build_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
size=$(podman image inspect --format '{{.Size}}' "$TAG")
hc=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$TAG" 2>/dev/null || true)
say "built $TAG in ${build_s} s; image size $(numfmt --to=si "$size")B ($size bytes)"
[ -n "$hc" ] && [ "$hc" != null ] || die "the image has no HEALTHCHECK (built in OCI format?)"

[ "$CHECK" -eq 1 ] || exit 0

# ------------------------------------------------------------------ the check
say "causal-eval version --verbose in the image:"
podman run --rm --no-healthcheck --network none "$TAG" version --verbose >&2 ||
  die "the image cannot run causal-eval version"
podman run --rm --no-healthcheck --network none --entrypoint id "$TAG" >&2

if ! podman run --rm --no-healthcheck --network none "$TAG" help serve >/dev/null 2>&1; then
  say "PENDING: this build has no 'serve' command, so /healthz cannot be checked yet;"
  say "         run tools/container/build.sh again once serve is committed"
  say "summary: image $TAG, $(numfmt --to=si "$size")B, built in ${build_s} s, serve check pending"
  exit 0
fi

if [ -z "$PORT" ]; then
  PORT=18000
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
fi
podman rm -f -t 0 "$CHECK_NAME" >/dev/null 2>&1 || true
podman volume rm -f "$CHECK_VOLUME" >/dev/null 2>&1 || true
container_started=1
# serve needs a users file (api.users_file, ./causal-eval-users.yaml in the
# working folder): make one user with a random password in a fresh volume,
# the way a deployment would (`serve adduser` reads the password from stdin)
podman volume create "$CHECK_VOLUME" >/dev/null
password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
printf '%s\n' "$password" |
  podman run -i --rm --no-healthcheck --network none -v "$CHECK_VOLUME:/var/lib/causal-eval" "$TAG" serve adduser check >&2 ||
  die "serve adduser failed in the image"
# podman runs health checks from systemd timers; with no systemd (this
# sandbox) it logs "unable to get systemd connection to add healthchecks" on
# start and removal, even with --health-interval disable. Harmless: the
# image's HEALTHCHECK runs below through `podman healthcheck run`.
no_systemd_noise() { grep -v 'unable to get systemd connection' >&2 || true; }
podman run -d --name "$CHECK_NAME" -p "127.0.0.1:$PORT:8000" -v "$CHECK_VOLUME:/var/lib/causal-eval" \
  --health-interval disable "$TAG" \
  >/dev/null 2> >(no_systemd_noise) || die "cannot start the container"
say "started $CHECK_NAME (host port $PORT -> 8000)"

url=http://127.0.0.1:$PORT/healthz
answer="" host_ok=0
for _ in $(seq 1 60); do
  if [ "$(podman inspect --format '{{.State.Running}}' "$CHECK_NAME")" != true ]; then
    podman logs "$CHECK_NAME" >&2 || true
    die "the container stopped: $(podman inspect --format 'exit status {{.State.ExitCode}}' "$CHECK_NAME")"
  fi
  if command -v curl >/dev/null; then
    if answer=$(curl -fsS --max-time 2 -D "$work/headers" "$url" 2>"$work/curl.err"); then host_ok=1; break; fi
  else
    break
  fi
  sleep 0.5
done
if [ "$host_ok" -eq 1 ]; then
  say "GET $url from the host: $(head -1 "$work/headers" | tr -d '\r')"
  echo "$answer"
else
  say "GET $url from the host failed ($(cat "$work/curl.err" 2>/dev/null || echo 'no curl on the host')); checking inside the container"
fi

# the API beyond /healthz: log in, score one answer (a worker's Lua state,
# the results store on the volume), read it back
api_ok=0
if [ "$host_ok" -eq 1 ]; then
  base_url=http://127.0.0.1:$PORT
  call() { # METHOD PATH [BODY] -> prints "STATUS BODY"
    local args=(-sS --max-time 10 -o "$work/body" -w '%{http_code}' -X "$1" "$base_url$2")
    [ -n "${token:-}" ] && args+=(-H "Authorization: Bearer $token")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    local code
    code=$(curl "${args[@]}" 2>&1) || true
    echo "$code $(cat "$work/body" 2>/dev/null)"
  }
  token=""
  r=$(call POST /auth/login "{\"username\":\"check\",\"password\":\"$password\"}")
  [ "${r%% *}" = 200 ] || die "POST /auth/login: $r"
  token=$(sed -E 's/.*"token": *"([^"]+)".*/\1/' <<<"${r#* }")
  say "POST /auth/login: 200 (token received)"
  r=$(call POST /evaluate/single '{"model":"container-check","task_type":"ladder","difficulty":"easy","model_response":"Yes."}')
  [ "${r%% *}" = 200 ] || die "POST /evaluate/single: $r"
  say "POST /evaluate/single: ${r:0:220}"
  r=$(call GET '/results/recent?limit=1')
  [ "${r%% *}" = 200 ] && grep -q container-check <<<"$r" || die "GET /results/recent: $r"
  say "GET /results/recent?limit=1: 200 (the record is stored)"
  api_ok=1
fi

hc_ok=0
for _ in $(seq 1 20); do
  if podman healthcheck run "$CHECK_NAME" >/dev/null 2>&1; then hc_ok=1; break; fi
  sleep 0.5
done
status=$(podman inspect --format '{{.State.Health.Status}}' "$CHECK_NAME" 2>/dev/null || echo unknown)
log=$(podman inspect --format '{{range .State.Health.Log}}{{.Output}}{{end}}' "$CHECK_NAME" 2>/dev/null | tail -1 || true)
[ "$hc_ok" -eq 1 ] || { podman logs "$CHECK_NAME" >&2 || true; die "the image's HEALTHCHECK fails: $status $log"; }
say "HEALTHCHECK inside the container: $status ($log)"
[ "$host_ok" -eq 1 ] || say "note: /healthz answered inside the container but not through the published port"

say "stopping (SIGTERM)"
podman stop -t 20 "$CHECK_NAME" >/dev/null 2> >(no_systemd_noise)
code=$(podman inspect --format '{{.State.ExitCode}}' "$CHECK_NAME")
say "serve exited with status $code after SIGTERM"
podman logs "$CHECK_NAME" 2>&1 | tail -5 >&2 || true
[ "$code" = 0 ] || die "serve did not exit 0 on SIGTERM"

say "summary: image $TAG, $(numfmt --to=si "$size")B, built in ${build_s} s, /healthz $( [ "$host_ok" -eq 1 ] && echo 'answered 200 from the host' || echo 'answered inside the container'), HEALTHCHECK $status, API $( [ "$api_ok" -eq 1 ] && echo 'login/evaluate/results answered' || echo 'not checked (no curl or no published port)'), SIGTERM exit 0"
