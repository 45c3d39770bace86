#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Which Debian packages hold the shared libraries a causal-eval binary needs at
# run time. Runs in the Dockerfile's builder stage (Debian 12, the -dev
# packages installed); the runtime stage installs exactly these packages.
#   tools/container/runtime-packages.sh BIN SHARE_DIR PACKAGES_OUT SONAMES_OUT
# SHARE_DIR: the installed share/causal-eval (lua/, benchmarks/, adapters/).
# PACKAGES_OUT: one `package=version` a line (the versions the binary was built
# against); SONAMES_OUT: one soname a line, for the runtime stage to check.
#
# A library reaches the binary three ways, and all are found here:
# - linked: the NEEDED entries of its dynamic section (objdump -p), e.g. libedit;
# - loaded with dlopen on first use (libcurl, libmicrohttpd, libOpenCL, ...):
#   their sonames are string constants in the binary (strings), e.g.
#   "libcurl.so.4". Every versioned soname found there is carried, except the
#   ones in SKIP below; a new dlopen'ed library therefore reaches the image
#   without an edit here, and a missing one fails the build;
# - Lua C modules that the Lua files require (`require "cjson"` in `version
#   --json` and `config show --json`): every required name outside the
#   project's own modules, looked up on the binary's package.cpath.
set -euo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 BIN SHARE_DIR PACKAGES_OUT SONAMES_OUT" >&2
  exit 2
fi
bin=$1 share=$2 pkgs_out=$3 sonames_out=$4
die() { echo "runtime-packages: $*" >&2; exit 1; }
[ -x "$bin" ] || die "$bin: not an executable"
[ -d "$share/lua/stdlib/causal_eval" ] || die "$share: not an installed share/causal-eval"
for tool in objdump strings ldconfig dpkg-query; do
  command -v "$tool" >/dev/null || die "needs $tool (binutils, libc-bin, dpkg)"
done

# Sonames the binary names but the image leaves out on purpose:
# - libcurl-gnutls.so.4: the binary's second choice after libcurl.so.4 (OpenSSL);
# - libOpenCL.so.1: statistics run on the C backend without it (stats
#   --backend auto falls back); a GPU image would add ocl-icd-libopencl1 and a
#   vendor ICD.
SKIP=" libcurl-gnutls.so.4 libOpenCL.so.1 "

needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
named=$(strings -a -n 6 "$bin" | grep -E '^lib[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*\.so\.[0-9]+(\.[0-9]+)*$' || true)

sonames=()
for so in $(printf '%s\n%s\n' "$needed" "$named" | sort -u); do
  [ -n "$so" ] || continue
  case $SKIP in *" $so "*) echo "runtime-packages: leaving out $so (see SKIP)" >&2; continue ;; esac
  sonames+=("$so")
done

owner_of() { # FILE -> the package that owns it (merged /usr: listed under /lib or /usr/lib)
  local path=$1 real cand owner
  real=$(readlink -f "$path")
  for cand in "$path" "$real" "/usr$path" "${path#/usr}" "/usr$real" "${real#/usr}"; do
    owner=$(dpkg-query -S "$cand" 2>/dev/null | head -1 | cut -d: -f1) || true
    if [ -n "$owner" ]; then echo "$owner"; return 0; fi
  done
  return 1
}

pkgs=()
# Lua C modules: `require "name"` in the installed Lua files, minus our own
mods=$(grep -rhoE "require *\(? *[\"'][A-Za-z0-9_.]+[\"']" "$share" --include='*.lua' \
         | sed -E "s/.*[\"']([A-Za-z0-9_.]+)[\"']/\1/" \
         | grep -vE '^(causal_eval|benchmarks|adapters|spec)(\.|$)' | sort -u || true)
for mod in $mods; do
  # a pure-Lua module of ours shipped under share/ needs nothing
  if "$bin" -e "os.exit(package.searchpath('$mod', package.path) ~= nil)" 2>/dev/null; then continue; fi
  so=$("$bin" -e "print(package.searchpath('$mod', package.cpath) or '')")
  [ -n "$so" ] || die "Lua module '$mod' is required under $share but not found on package.cpath (install it in the builder: tools/install-deps.sh)"
  owner=$(owner_of "$so") || die "Lua module '$mod' ($so): no Debian package owns it"
  pkgs+=("$owner")
  echo "runtime-packages: Lua module $mod -> $so ($owner)" >&2
done

# soname -> file (the builder's loader cache) -> package that owns it
for so in "${sonames[@]}"; do
  path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|x32|AArch64|64bit/ { print $NF; exit }')
  [ -n "$path" ] || path=$(ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
  [ -n "$path" ] || die "$so: named by $bin but not installed in the builder (add its -dev package to tools/install-deps.sh, or to SKIP in $0)"
  owner=$(owner_of "$path") || die "$so ($path): no Debian package owns it"
  pkgs+=("$owner")
  echo "runtime-packages: $so -> $path ($owner)" >&2
done

: > "$pkgs_out"
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
  dpkg-query -W -f='${Package}=${Version}\n' "$p" >> "$pkgs_out"
done
printf '%s\n' "${sonames[@]}" > "$sonames_out"
