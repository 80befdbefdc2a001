#!/bin/sh
# The lock file for one torch build: `cuda` is requirements.lock as it is (PyPI's torch
# bundles the CUDA runtime); `cpu` drops the CUDA runtime wheels, which PyTorch's CPU
# build (same version, installed first from its CPU index) does not need.
# Usage: docker/requirements-for.sh cpu|cuda < requirements.lock > requirements.txt
set -eu
case "${1:-}" in
  cuda) cat ;;
  cpu) grep -v -E '^(nvidia-[a-z0-9-]+|triton)==' ;;
  *) echo "usage: $0 cpu|cuda < requirements.lock" >&2; exit 2 ;;
esac
