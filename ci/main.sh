#!/usr/bin/env bash
# The main job: build, then show what ds4j found and run the demo on the best device present.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/build.sh
./ds4j info
./ds4j gemm --format fp8 --m 128 --n 4096 --k 4096 --device auto
