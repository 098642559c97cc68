# Sourced by the run-*.sh scripts: finds the JDK, rebuilds benchmarks/target/benchmarks.jar when it
# is missing or older than a source, and defines run_report CLASS ARGS... (runs one report's main).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ci/jdk.sh
jar=benchmarks/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find java-api/src benchmarks/src benchmarks/pom.xml java-api/pom.xml -newer "$jar" -type f | head -n1)" ]; then
    ci/mvn.sh -q package -pl benchmarks -am -DskipTests -Dds4j.skipKernels=true
fi

run_report() {
    local main=$1
    shift
    exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
        -cp "$jar" "$main" "$@"
}
