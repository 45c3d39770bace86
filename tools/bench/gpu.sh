#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The GPU check of the statistics backends, prepared to run on a lent GPU
# machine from a build made elsewhere: it builds nothing and finishes within
# 5 minutes. It makes NVIDIA's OpenCL driver visible to the ICD loader when the
# machine has it (an nvidia.icd naming libnvidia-opencl.so.1, through
# OCL_ICD_VENDORS), then runs tools/bench/gpu.lua: OpenCL against the C
# backend on the same machine, as ratios.
#   tools/bench/gpu.sh [BUILD_DIR]        (CAUSAL_EVAL_CL_DEVICE picks a device)
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ldconfig -p 2>/dev/null | grep -q libnvidia-opencl.so.1 && ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
  V=$(mktemp -d)
  trap 'rm -rf "$V"' EXIT
  echo libnvidia-opencl.so.1 >"$V/nvidia.icd"
  for f in /etc/OpenCL/vendors/*.icd; do [ -e "$f" ] && cp "$f" "$V/"; done
  export OCL_ICD_VENDORS="$V"
  echo "using NVIDIA's OpenCL driver through $V/nvidia.icd"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
timeout 280 "$BUILD/causal-eval" "$HERE/gpu.lua" "${ROUNDS:-3}"
