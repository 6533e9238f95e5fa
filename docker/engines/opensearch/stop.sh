#!/usr/bin/env bash
# Stop the node started by start.sh: SIGTERM, wait up to 30 s, then SIGKILL. Idempotent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
PID_FILE="$ROOT/var/engines/opensearch.pid"
MAIN=peacewatch.PeaceWatchNode

say() { echo "opensearch: $*" >&2; }

if [ -z "${OPENSEARCH_LOCK_HELD:-}" ]; then  # start.sh holds it when it calls us
    mkdir -p "$ROOT/var/engines"
    exec 9>"$ROOT/var/engines/opensearch.lock"
    flock -w 300 9 || { say "another start.sh/stop.sh holds the lock"; exit 1; }
fi

if [ ! -f "$PID_FILE" ]; then
    say "not running (no pid file)"
    exit 0
fi
PID="$(cat "$PID_FILE" 2>/dev/null || true)"
# Only signal the pid if it is still our JVM (guards against pid reuse).
if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q "$MAIN"; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$PID" 2>/dev/null; then
        say "pid $PID still alive after 30 s; SIGKILL"
        kill -KILL "$PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    fi
    say "stopped pid $PID"
else
    say "pid ${PID:-?} not running; removing stale pid file"
fi
rm -f "$PID_FILE"
