#!/usr/bin/env bash
# Builds every module (kernels too, when nvcc is present) without running the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ci/mvn.sh -q package -DskipTests "$@"
