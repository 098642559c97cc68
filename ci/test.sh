#!/usr/bin/env bash
# Builds everything and runs every test. Tests that need a GPU skip with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ci/mvn.sh verify "$@"
