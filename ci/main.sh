#!/usr/bin/env bash
# The main job: build, show what ds4j found, then run V4 blocks over a prompt and decode a few
# tokens on the best device present (a tiny random checkpoint unless DS4J_CHECKPOINT names one).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/build.sh
./ds4j info
if [ -n "${DS4J_CHECKPOINT:-}" ]; then
    ./ds4j demo --device auto --checkpoint "$DS4J_CHECKPOINT" "$@"
else
    ./ds4j demo --device auto "$@"
fi
