#!/usr/bin/env bash
# Real engines on loopback, without Docker: a 3-node Apache Kafka cluster (KRaft,
# jars from Maven Central, see pom.xml) and the OpenSearch node of opensearch/.
# Data, logs and pids live under var/engines/ (git-ignored).
#
#   engines.sh up              start what is not running, create the topics, print the env
#   engines.sh down            stop everything (SIGTERM, then SIGKILL after a timeout)
#   engines.sh status
#   engines.sh describe [TOPIC] kafka-topics --describe (replicas, ISR, min.insync.replicas)
#   engines.sh kill-broker N   SIGKILL Kafka node N (1..3)          fault hooks for tests
#   engines.sh start-broker N  restart node N on its data, wait until the cluster is whole
#   engines.sh stop-kafka      graceful stop of the 3 Kafka nodes (data kept)
#   engines.sh start-kafka     start the 3 nodes on their data, wait until they serve
#
# Environment: KAFKA_ENGINE_PORTS (19092,19093,19094), KAFKA_ENGINE_CONTROLLER_PORTS
# (19192,19193,19194), OPENSEARCH_PORT (19200), KAFKA_ENGINE_HEAP (-Xms256m -Xmx512m),
# KAFKA_ENGINE_STOP_TIMEOUT (30 s), KAFKA_ENGINE_READY_TIMEOUT (120 s), PYTHON (.venv/bin/python).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ENG="$ROOT/var/engines"
LIB="$ENG/kafka-lib"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
HOST=127.0.0.1
NODES=(1 2 3)
IFS=, read -r -a PORTS <<<"${KAFKA_ENGINE_PORTS:-19092,19093,19094}"
IFS=, read -r -a CPORTS <<<"${KAFKA_ENGINE_CONTROLLER_PORTS:-19192,19193,19194}"
OPENSEARCH_PORT="${OPENSEARCH_PORT:-19200}"
HEAP="${KAFKA_ENGINE_HEAP:--Xms256m -Xmx512m}"
STOP_TIMEOUT="${KAFKA_ENGINE_STOP_TIMEOUT:-30}"
READY_TIMEOUT="${KAFKA_ENGINE_READY_TIMEOUT:-120}"
OS_DIR="$HERE/opensearch"
OS_PIDFILE="$ENG/opensearch.pid"

say() { echo "engines: $*" >&2; }
die() { say "$*"; exit 1; }

[ "${#PORTS[@]}" = 3 ] || die "KAFKA_ENGINE_PORTS needs 3 comma-separated ports"
[ "${#CPORTS[@]}" = 3 ] || die "KAFKA_ENGINE_CONTROLLER_PORTS needs 3 comma-separated ports"

bootstrap() { local out="" n; for n in "${NODES[@]}"; do out+="${out:+,}$HOST:${PORTS[n-1]}"; done; echo "$out"; }
node_dir() { echo "$ENG/kafka-$1"; }
pidfile() { echo "$ENG/kafka-$1.pid"; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
check_node() { [[ "${1:-}" =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"; }

# --- processes ------------------------------------------------------------------
# A pid counts only while it is alive and still the process we started
# (its command line names our properties file): a recycled pid is never signalled.
pid_of() {  # file marker -> prints the pid when alive and ours
  local file="$1" marker="$2" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}
node_pid() { pid_of "$(pidfile "$1")" "$(node_dir "$1")/server.properties"; }

stop_pids() {  # SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL
  local pids=("$@") waited=0 pid alive
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while :; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ "${#alive[@]}" = 0 ] && return 0
    if [ "$waited" -ge "$((STOP_TIMEOUT * 2))" ]; then
      say "still running after ${STOP_TIMEOUT}s, SIGKILL: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.5
      return 0
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
}

# --- Kafka ----------------------------------------------------------------------
build_lib() {  # the classpath: Kafka's jars from Maven Central, rebuilt when pom.xml changes
  local want
  want="$(sha256sum "$HERE/pom.xml" | cut -d' ' -f1)"
  [ -f "$LIB/.pom.sha256" ] && [ "$(cat "$LIB/.pom.sha256")" = "$want" ] && return 0
  command -v java >/dev/null || die "java not found (Kafka needs Java 17+: apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
  say "fetching Apache Kafka jars with Maven (first time: ~50 MB into ~/.m2)"
  rm -rf "$LIB.tmp"
  mkdir -p "$ENG"
  if ! mvn -B -q -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$LIB.tmp" >"$ENG/mvn.log" 2>&1; then
    tail -n 40 "$ENG/mvn.log" >&2
    die "mvn could not fetch the Kafka jars (full output: var/engines/mvn.log)"
  fi
  echo "$want" >"$LIB.tmp/.pom.sha256"
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
}

run_tool() {  # main class + args, on the Kafka classpath
  java -Xmx256m -Dlog4j2.configurationFile="$HERE/log4j2.xml" -Dkafka.logs.dir="$ENG/tools" -cp "$LIB/*" "$@"
}

write_properties() {  # rewritten at every start so the port variables apply
  local n="$1" dir voters="" m
  dir="$(node_dir "$n")"
  for m in "${NODES[@]}"; do voters+="${voters:+,}$m@$HOST:${CPORTS[m-1]}"; done
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by docker/engines/engines.sh at each start: edit the script, not this file.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://$HOST:${PORTS[n-1]},CONTROLLER://$HOST:${CPORTS[n-1]}
advertised.listeners=PLAINTEXT://$HOST:${PORTS[n-1]}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$dir/data

# Durability: every record on 3 brokers, acks=all needs 2, never an out-of-sync leader.
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2

# Tests: consumer groups form at once; a killed broker is fenced after 6 s.
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000

# Small machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
EOF
}

format_node() {  # once per node: meta.properties marks a formatted log dir
  local n="$1" dir cluster_id
  dir="$(node_dir "$n")"
  [ -f "$dir/data/meta.properties" ] && return 0
  if [ ! -s "$ENG/kafka-cluster-id" ]; then
    run_tool kafka.tools.StorageTool random-uuid >"$ENG/kafka-cluster-id.tmp"
    mv "$ENG/kafka-cluster-id.tmp" "$ENG/kafka-cluster-id"
  fi
  cluster_id="$(cat "$ENG/kafka-cluster-id")"
  say "formatting kafka-$n (cluster $cluster_id)"
  run_tool kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$dir/server.properties" \
    >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "cannot format kafka-$n"; }
}

start_node() {  # returns 0 when started, 1 when it was already running
  local n="$1" dir pid p
  dir="$(node_dir "$n")"
  node_pid "$n" >/dev/null && return 1
  for p in "${PORTS[n-1]}" "${CPORTS[n-1]}"; do
    port_open "$p" && die "port $HOST:$p is taken by another process: stop it or set KAFKA_ENGINE_PORTS / KAFKA_ENGINE_CONTROLLER_PORTS"
  done
  write_properties "$n"
  format_node "$n"
  # setsid: own session, so a Ctrl-C in the terminal that ran `make engines` does not reach it.
  # shellcheck disable=SC2086
  setsid java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.xml" -Dkafka.logs.dir="$dir" \
    -cp "$LIB/*" kafka.Kafka "$dir/server.properties" >>"$dir/stdout.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(pidfile "$n")"
  say "kafka-$n started (pid $pid, $HOST:${PORTS[n-1]}, log $dir/server.log)"
  return 0
}

wait_kafka() {  # until the 3 brokers are registered and every partition is fully in sync
  local deadline=$((SECONDS + READY_TIMEOUT)) n
  [ -x "$PY" ] || die "no Python at $PY (make .venv/.installed first, or set PYTHON)"
  while :; do
    for n in "${NODES[@]}"; do
      if ! node_pid "$n" >/dev/null; then
        say "kafka-$n is not running; end of its logs:"
        tail -n 30 "$(node_dir "$n")/stdout.log" "$(node_dir "$n")/server.log" 2>/dev/null >&2 || true
        exit 1
      fi
    done
    "$PY" "$HERE/kafka_health.py" "$(bootstrap)" --brokers 3 --timeout 3 2>/dev/null && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      "$PY" "$HERE/kafka_health.py" "$(bootstrap)" --brokers 3 --timeout 1 || true
      for n in "${NODES[@]}"; do tail -n 15 "$(node_dir "$n")/server.log" >&2 2>/dev/null || true; done
      die "Kafka not ready after ${READY_TIMEOUT}s"
    fi
  done
}

kafka_up() {  # start the nodes not running; 0 if any was started
  local n started=1
  build_lib
  for n in "${NODES[@]}"; do start_node "$n" && started=0; done
  return "$started"
}

kafka_down() {
  local n pids=()
  for n in "${NODES[@]}"; do
    local pid
    pid="$(node_pid "$n")" && pids+=("$pid")
  done
  [ "${#pids[@]}" -gt 0 ] && say "stopping Kafka (pids ${pids[*]})"
  stop_pids "${pids[@]}"
  for n in "${NODES[@]}"; do rm -f "$(pidfile "$n")"; done
}

ensure_topics() {
  (cd "$ROOT" && DEBUG=true KAFKA_BOOTSTRAP_SERVERS="$(bootstrap)" KAFKA_REPLICATION_FACTOR=3 \
    KAFKA_MIN_INSYNC_REPLICAS=2 "$PY" manage.py ensure_topics --wait 60 >&2) || die "cannot create the topics"
}

# --- OpenSearch (built in opensearch/: start.sh, stop.sh, pid in var/engines/opensearch.pid)
os_pid() { pid_of "$OS_PIDFILE" opensearch; }

opensearch_up() {
  os_pid >/dev/null && return 0
  say "starting OpenSearch on $HOST:$OPENSEARCH_PORT"
  OPENSEARCH_PORT="$OPENSEARCH_PORT" bash "$OS_DIR/start.sh" >&2
}

opensearch_down() {
  local pid
  if [ -f "$OS_DIR/stop.sh" ] && os_pid >/dev/null; then
    OPENSEARCH_PORT="$OPENSEARCH_PORT" bash "$OS_DIR/stop.sh" >&2 || say "opensearch/stop.sh failed"
  fi
  if pid="$(os_pid)"; then
    say "stopping OpenSearch (pid $pid)"
    stop_pids "$pid"
  fi
  rm -f "$OS_PIDFILE"
}

# --- env ------------------------------------------------------------------------
write_env() {  # $1: with OpenSearch (yes/no)
  {
    echo "# Written by docker/engines/engines.sh up: . var/engines/env"
    echo "export KAFKA_BOOTSTRAP_SERVERS=$(bootstrap)"
    echo "export KAFKA_REPLICATION_FACTOR=3"
    echo "export KAFKA_MIN_INSYNC_REPLICAS=2"
    if [ "$1" = yes ]; then
      echo "export ELASTICSEARCH_URL=http://$HOST:$OPENSEARCH_PORT"
      echo "export ELASTICSEARCH_REPLICAS=0  # one node: a replica could never be placed"
    fi
  } >"$ENG/env.tmp"
  mv "$ENG/env.tmp" "$ENG/env"
}

print_env() {
  say "running; use them with:  . var/engines/env   (or copy these)"
  grep '^export' "$ENG/env" | sed 's/^export //; s/  #.*//'
}

# --- commands -------------------------------------------------------------------
cmd_up() {
  local with_os=no started=no
  mkdir -p "$ENG"
  if kafka_up; then started=yes; fi
  wait_kafka
  if [ "$started" = yes ] || [ ! -f "$ENG/env" ]; then
    ensure_topics
    wait_kafka  # the new partitions in sync too
  fi
  if [ ! -f "$OS_DIR/start.sh" ]; then
    say "OpenSearch skipped: docker/engines/opensearch/start.sh does not exist yet (analytics stay embedded)"
  elif opensearch_up; then
    with_os=yes
  else
    write_env no
    die "OpenSearch did not start (Kafka is up: engines.sh down stops it)"
  fi
  write_env "$with_os"
  print_env
}

cmd_down() {
  opensearch_down
  kafka_down
  rm -f "$ENG/env"
  say "stopped"
}

cmd_status() {
  local n pid any=no
  for n in "${NODES[@]}"; do
    if pid="$(node_pid "$n")"; then
      any=yes
      echo "kafka-$n: running (pid $pid, $HOST:${PORTS[n-1]})"
    else
      echo "kafka-$n: stopped"
    fi
  done
  if pid="$(os_pid)"; then echo "opensearch: running (pid $pid, http://$HOST:$OPENSEARCH_PORT)"
  elif [ -f "$OS_DIR/start.sh" ]; then echo "opensearch: stopped"
  else echo "opensearch: not available (no docker/engines/opensearch/start.sh)"; fi
  [ "$any" = yes ] && { "$PY" "$HERE/kafka_health.py" "$(bootstrap)" --brokers 3 --status || true; }
  return 0
}

cmd_kill_broker() {
  local n="$1" pid
  check_node "$n"
  pid="$(node_pid "$n")" || die "kafka-$n is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$(pidfile "$n")"
  say "kafka-$n killed (pid $pid)"
}

cmd_start_broker() {
  local n="$1"
  check_node "$n"
  [ -f "$(node_dir "$n")/data/meta.properties" ] || die "kafka-$n has no data yet: run engines.sh up"
  build_lib
  start_node "$n" || say "kafka-$n was already running"
  wait_kafka
  say "kafka-$n serving; cluster in sync"
}

cmd_start_kafka() {
  local n
  for n in "${NODES[@]}"; do
    [ -f "$(node_dir "$n")/data/meta.properties" ] || die "kafka-$n has no data yet: run engines.sh up"
  done
  kafka_up || say "Kafka was already running"
  wait_kafka
  say "Kafka serving at $(bootstrap)"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  describe)
    build_lib
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap)" --describe ${2:+--topic "$2"} ;;
  kill-broker) cmd_kill_broker "${2:-}" ;;
  start-broker) cmd_start_broker "${2:-}" ;;
  stop-kafka) kafka_down; say "Kafka stopped (data kept)" ;;
  start-kafka) cmd_start_kafka ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
