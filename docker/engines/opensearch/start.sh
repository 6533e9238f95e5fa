#!/usr/bin/env bash
# Start one OpenSearch 2.19 node (from Maven Central jars, no Docker) for PeaceWatch.
#
#   bash docker/engines/opensearch/start.sh   ->  stdout: ELASTICSEARCH_URL=http://127.0.0.1:19200
#
# Env: OPENSEARCH_PORT (19200), OPENSEARCH_TRANSPORT_PORT (19300), OPENSEARCH_HEAP (1g),
#      OPENSEARCH_START_TIMEOUT (120 s), JAVA_HOME (else `java` on PATH; Java 17+).
# State under <repo>/var/engines/: opensearch/{data,logs,tmp,config} and opensearch.pid.
# Idempotent: if our node already runs and answers, just prints the URL. Stop with stop.sh.
# Progress goes to stderr; stdout carries only the URL line.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"  # repo root: docker/engines/opensearch/../../..
VAR="$ROOT/var/engines"
HOME_DIR="$VAR/opensearch"
PID_FILE="$VAR/opensearch.pid"
LOG="$HOME_DIR/logs/opensearch.log"
PORT="${OPENSEARCH_PORT:-19200}"
TPORT="${OPENSEARCH_TRANSPORT_PORT:-19300}"
HEAP="${OPENSEARCH_HEAP:-1g}"
TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
URL="http://127.0.0.1:$PORT"
MAIN=peacewatch.PeaceWatchNode
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

say() { echo "opensearch: $*" >&2; }

# One start/stop at a time (concurrent `make engines` runs would race for the data dir).
mkdir -p "$VAR"
exec 9>"$VAR/opensearch.lock"
flock -w 300 9 || { say "another start.sh/stop.sh holds $VAR/opensearch.lock"; exit 1; }

http_get() {  # body of GET $1 on stdout, non-zero if no HTTP 2xx answer
    if command -v curl >/dev/null 2>&1; then
        curl -fsS --max-time 5 "$1" 2>/dev/null
    else
        python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null
    fi
}

ours() {  # is pid $1 alive and our node?
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "$MAIN"
}

healthy() {
    http_get "$URL/_cluster/health" | grep -Eq '"status" *: *"(green|yellow)"'
}

log_tail() {
    say "last lines of $LOG:"
    tail -n 60 "$LOG" >&2 2>/dev/null || true
}

PID=""
[ -f "$PID_FILE" ] && PID="$(cat "$PID_FILE" 2>/dev/null || true)"
if ours "$PID"; then
    if healthy; then
        say "already running (pid $PID)"
        echo "ELASTICSEARCH_URL=$URL"
        exit 0
    fi
    say "pid $PID is running but not healthy yet; waiting"
else
    [ -n "$PID" ] && { say "removing stale pid file ($PID)"; rm -f "$PID_FILE"; }
    PID=""
    if http_get "$URL/" >/dev/null; then
        say "port $PORT already answers HTTP but it is not our node (no live pid in $PID_FILE)"
        exit 1
    fi

    # Classpath: (re)build when missing, stale, or a jar vanished from ~/.m2.
    CP_FILE="$HERE/target/classpath.txt"
    need_build=0
    if [ ! -s "$CP_FILE" ] || [ ! -f "$HERE/target/classes/peacewatch/PeaceWatchNode.class" ] \
        || [ -n "$(find "$HERE/pom.xml" "$HERE/src" -newer "$CP_FILE" -type f 2>/dev/null | head -1)" ]; then
        need_build=1
    else
        IFS=: read -r -a jars <"$CP_FILE" || true  # no trailing newline
        for j in "${jars[@]}"; do [ -f "$j" ] || { need_build=1; break; }; done
    fi
    if [ "$need_build" = 1 ]; then
        say "building classpath (mvn; first run downloads ~80 MB to ~/.m2)"
        mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" package >&2
        touch "$CP_FILE"  # build-classpath leaves an unchanged file untouched
    fi
    CP="$HERE/target/classes:$(cat "$CP_FILE")"

    mkdir -p "$HOME_DIR/data" "$HOME_DIR/logs" "$HOME_DIR/tmp" "$HOME_DIR/config"
    [ -f "$LOG" ] && mv -f "$LOG" "$LOG.1"
    cp -f "$HERE/log4j2.properties" "$HOME_DIR/config/log4j2.properties"

    jver="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [ "${jver:-17}" -ge 23 ] 2>/dev/null; then locale=CLDR; else locale=SPI,COMPAT; fi

    # JVM flags follow the distribution's config/jvm.options.
    setsid nohup "$JAVA" \
        "-Xms$HEAP" "-Xmx$HEAP" \
        -XX:+UseG1GC -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30 \
        -XX:+HeapDumpOnOutOfMemoryError "-XX:HeapDumpPath=$HOME_DIR/logs" \
        -XX:-OmitStackTraceInFastThrow \
        "-Djava.io.tmpdir=$HOME_DIR/tmp" -Dfile.encoding=UTF-8 -Djava.awt.headless=true \
        -Djna.nosys=true "-Djava.locale.providers=$locale" \
        -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
        -Dio.netty.recycler.maxCapacityPerThread=0 -Dio.netty.allocator.numDirectArenas=0 \
        -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
        -cp "$CP" "$MAIN" \
        "-Epath.home=$HOME_DIR" "-Epath.data=$HOME_DIR/data" "-Epath.logs=$HOME_DIR/logs" \
        -Ecluster.name=peacewatch -Enode.name=peacewatch \
        -Enetwork.host=127.0.0.1 "-Ehttp.port=$PORT" "-Etransport.port=$TPORT" \
        -Ediscovery.type=single-node \
        -Ecluster.routing.allocation.disk.threshold_enabled=false \
        >>"$LOG" 2>&1 </dev/null 9>&- &
    PID=$!
    echo "$PID" >"$PID_FILE"
    say "started pid $PID (heap $HEAP, log $LOG)"
fi

deadline=$((SECONDS + TIMEOUT))
until healthy; do
    if ! kill -0 "$PID" 2>/dev/null; then
        say "node exited during startup"
        rm -f "$PID_FILE"
        log_tail
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "not healthy after ${TIMEOUT}s; stopping it"
        log_tail
        OPENSEARCH_LOCK_HELD=1 bash "$HERE/stop.sh" 9>&- >&2 || true
        exit 1
    fi
    sleep 1
done
say "healthy (pid $PID)"
echo "ELASTICSEARCH_URL=$URL"
