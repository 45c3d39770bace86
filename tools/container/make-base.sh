#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Makes a Debian 12 (bookworm) base image locally, for machines that cannot
# pull one from a registry: debootstrap a minimal system from the Debian
# mirror this machine's apt uses, slim it the way debian:bookworm-slim is
# slimmed (no manuals, locales or docs other than copyright files, no apt
# lists or .debs), and import it into podman's image store.
#   tools/container/make-base.sh [--force] [IMAGE]     (default IMAGE: localhost/causal-eval-base:bookworm)
# Environment: DEBIAN_MIRROR (default: the first bookworm mirror in
# /etc/apt/sources.list*, else http://deb.debian.org/debian),
# DEBIAN_SECURITY_MIRROR (default likewise, else http://deb.debian.org/debian-security),
# CONTAINERS_CONF (podman settings; tools/container/build.sh sets it).
# Idempotent: an existing IMAGE is kept unless --force. Needs root (debootstrap
# creates device nodes and files of other owners).
set -euo pipefail

FORCE=0
IMAGE=localhost/causal-eval-base:bookworm
for a in "$@"; do
  case $a in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "make-base: unknown option $a (try --help)" >&2; exit 2 ;;
    *) IMAGE=$a ;;
  esac
done

say() { echo "make-base: $*" >&2; }
die() { say "$*"; exit 1; }

command -v podman >/dev/null || die "podman is not installed (tools/install-deps.sh --container)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (tools/install-deps.sh --container)"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root (run with sudo)"

if [ "$FORCE" -eq 0 ] && podman image exists "$IMAGE"; then
  say "$IMAGE exists (--force makes it again)"
  exit 0
fi

# The mirror this machine's apt already reaches: deb822 (URIs:/Suites:) or
# one-line (deb URL SUITE ...) sources naming SUITE.
mirror_for() { # SUITE -> first URI whose suites include SUITE
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    case $f in
      *.sources)
        awk -v suite="$suite" '
          /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
          tolower($1) == "uris:" { uri = $2 }
          tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
          END { if (uri != "" && ok) print uri }' "$f" | head -1 ;;
      *)
        awk -v suite="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$f" ;;
    esac
  done | head -1
}
MIRROR=${DEBIAN_MIRROR:-$(mirror_for bookworm)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-$(mirror_for bookworm-security)}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

work=$(mktemp -d /var/tmp/causal-eval-base.XXXXXX)
cleanup() { rm -rf --one-file-system "$work"; }
trap cleanup EXIT
root=$work/rootfs

say "debootstrap --variant=minbase bookworm from $MIRROR (signatures checked against debian-archive-keyring)"
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1; then
  tail -20 "$work/debootstrap.log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -20 "$root/debootstrap/debootstrap.log" >&2
  die "debootstrap failed (is $MIRROR reachable? set DEBIAN_MIRROR)"
fi

# apt sources as in the official image: the release, its updates, security
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# slim: what later apt-get installs leave out too (dpkg path filters), and
# apt keeps no .debs (the same settings as the official images)
cat > "$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
cat > "$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/* \
       "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
       "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/debootstrap
: > "$root/etc/machine-id"
# a container gets its resolv.conf and hostname from the engine
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"

say "importing $(du -sh "$root" | cut -f1) as $IMAGE"
tar --numeric-owner --xattrs -C "$root" -c . | podman import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --message "debootstrap --variant=minbase bookworm $MIRROR" \
  - "$IMAGE" >/dev/null
say "made $IMAGE in $(( $(date +%s) - start )) s: $(podman image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=si)B"
