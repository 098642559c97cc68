# Sourced by the build scripts and the ./ds4j launcher: finds a JDK 22 or newer and exports
# JAVA_HOME, or prints one line saying what to install and exits.
#   DS4J_NEED_JAVAC=1  also require javac (building, not just running)

ds4j_java_version() { # prints the feature version of the JDK at $1, or nothing
    local home=$1 v=""
    if [ -f "$home/release" ]; then
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" | head -n1)
    fi
    if [ -z "$v" ] && [ -x "$home/bin/java" ]; then
        v=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
    fi
    printf '%s' "$v"
}

ds4j_find_jdk() {
    local c v best="" bestv=0
    local candidates=()
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    if command -v java >/dev/null 2>&1; then
        candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
    fi
    for c in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /opt/*jdk* "$HOME"/.sdkman/candidates/java/* \
             "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
        [ -d "$c" ] && candidates+=("$c")
    done
    for c in "${candidates[@]}"; do
        [ -x "$c/bin/java" ] || continue
        if [ "${DS4J_NEED_JAVAC:-0}" = 1 ] && [ ! -x "$c/bin/javac" ]; then continue; fi
        v=$(ds4j_java_version "$c")
        [ -n "$v" ] || continue
        # The first one found that is new enough wins when it is JAVA_HOME; otherwise the newest.
        if [ "$v" -ge 22 ] && [ "$c" = "${JAVA_HOME:-}" ]; then best=$c; bestv=$v; break; fi
        if [ "$v" -ge 22 ] && [ "$v" -gt "$bestv" ]; then best=$c; bestv=$v; fi
    done
    if [ -z "$best" ]; then
        echo "ds4j needs a JDK 22 or newer (none found in JAVA_HOME, PATH or /usr/lib/jvm): install one, e.g. Temurin 25, and set JAVA_HOME." >&2
        exit 2
    fi
    export JAVA_HOME=$best
    export DS4J_JAVA_VERSION=$bestv
}

ds4j_find_jdk
