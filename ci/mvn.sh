#!/usr/bin/env bash
# Runs Maven with a JDK 22+ found on this machine: ci/mvn.sh <maven arguments>
set -euo pipefail
cd "$(dirname "$0")/.."
DS4J_NEED_JAVAC=1 . ci/jdk.sh
if ! command -v mvn >/dev/null 2>&1; then
    echo "ds4j builds with Apache Maven 3.8 or newer: install it (e.g. apt-get install maven)." >&2
    exit 2
fi
# Maven's own libraries touch sun.misc.Unsafe; on JDK 24+ that prints warnings unless allowed.
if [ "$DS4J_JAVA_VERSION" -ge 24 ]; then
    export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
fi
exec mvn -B -ntp "$@"
