#!/usr/bin/env bash
# The main job: build, show what ds4j found, then run V4 blocks over a prompt and decode a few
# tokens on the best device present. Arguments go to `ds4j demo`, e.g. --checkpoint DIR for a
# real checkpoint instead of the tiny random one.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/build.sh
./ds4j info
./ds4j demo --device auto "$@"
