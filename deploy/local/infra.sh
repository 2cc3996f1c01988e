#!/usr/bin/env bash
# Local infrastructure for development and tests: a single-node Apache Kafka (KRaft,
# combined broker+controller) and a PostgreSQL cluster, both private to this checkout,
# both bound to 127.0.0.1. Every command is idempotent.
#
#   infra.sh up | down | status | kafka-up | kafka-down | pg-up | pg-down | env | fetch
#   infra.sh pg-restart fast|immediate   (the fault suite's, for a server this checkout owns)
#
# A three-node KRaft cluster (each node broker + controller, a quorum of three) beside the
# single broker, for fault tests: brokers on 127.0.0.1:19092-19094, controllers on
# 19192-19194 (LOCAL_KAFKA_CLUSTER_PORT moves both), data in .local/kafka-cluster/:
#
#   infra.sh cluster-up | cluster-down | cluster-env | cluster-status
#   infra.sh cluster-kill N (kill -9 node N) | cluster-start N | cluster-leader (active controller)
#
# Servers given from outside are used as they are and nothing is started:
#   KAFKA_BOOTSTRAP_SERVERS          skips the local broker
#   <SERVICE>_DATABASE_URL (all five) skips the local PostgreSQL
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL="$ROOT/.local"

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/deploy/kafka/pom.xml")
KAFKA_LIBS="$LOCAL/kafka/libs-$KAFKA_VERSION"
# LOCAL_KAFKA_DIR lets tests run a private, disposable broker beside the shared one.
KAFKA_DIR=${LOCAL_KAFKA_DIR:-$LOCAL/kafka}
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PORT=${LOCAL_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${LOCAL_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/server.log"

# As root the cluster belongs to the postgres user, who must be able to reach its folder: a
# checkout under a private home (/root) cannot host it, so it goes under /var/lib then.
pg_locate() {
    PG_HOME="${LOCAL_PG_DIR:-$LOCAL/postgres}" # LOCAL_PG_DIR: a private, disposable server
    if [ -z "${LOCAL_PG_DIR:-}" ] && [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$ROOT"; then
        PG_HOME="/var/lib/complaint-platform/$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)/postgres"
    fi
    PG_DATA="$PG_HOME/data"
    PG_RUN="$PG_HOME/run"
    PG_LOG="$PG_HOME/server.log"
}
pg_locate
PG_PORT=${LOCAL_PG_PORT:-54320}
PG_USER=complaints
PG_PASSWORD=complaints
DATABASES=(intake escalation followup satisfaction notify ledger)

log() { printf '[infra] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for <what> <seconds> <command...>
    local what=$1 limit=$2 waited=0
    shift 2
    until "$@"; do
        if ((waited >= limit * 2)); then
            log "$what did not come up within ${limit}s"
            return 1
        fi
        ((waited % 10 == 9)) && log "waiting for $what ($((waited / 2))s)"
        sleep 0.5
        waited=$((waited + 1))
    done
}

# ---------------------------------------------------------------- Kafka

kafka_fetch() {
    # Fetched again whenever the pom changes.
    local marker
    marker="$KAFKA_LIBS/.complete-$(sha1sum "$ROOT/deploy/kafka/pom.xml" | cut -c1-12)"
    [ -f "$marker" ] && return 0
    log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central (one time)"
    command -v mvn >/dev/null || { apt_install maven; }
    mkdir -p "$KAFKA_LIBS"
    mvn -q -B -Dstyle.color=never -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"
    rm -f "$KAFKA_LIBS"/.complete*
    touch "$marker"
}

kafka_config() {
    cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
auto.create.topics.enable=false
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
}

kafka_running() {
    [ -f "$KAFKA_PID" ] && kill -0 "$(cat "$KAFKA_PID")" 2>/dev/null
}

kafka_up() {
    if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
        log "KAFKA_BOOTSTRAP_SERVERS is set ($KAFKA_BOOTSTRAP_SERVERS): not starting a broker"
        return 0
    fi
    if kafka_running && port_open "$KAFKA_PORT"; then
        log "Kafka already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$KAFKA_PID"))"
        return 0
    fi
    if port_open "$KAFKA_PORT"; then
        log "something else listens on 127.0.0.1:$KAFKA_PORT; reusing it as the broker"
        return 0
    fi
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    kafka_fetch
    mkdir -p "$KAFKA_DIR"
    kafka_config >"$KAFKA_DIR/server.properties"
    cat >"$KAFKA_DIR/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KAFKA_LOG
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
    local cp="$KAFKA_LIBS/*"
    if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
        log "formatting KRaft storage in $KAFKA_DATA"
        mkdir -p "$KAFKA_DATA"
        local cluster_id
        cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
        java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$cp" \
            kafka.tools.StorageTool format -t "$cluster_id" \
            -c "$KAFKA_DIR/server.properties" >/dev/null
    fi
    log "starting Apache Kafka $KAFKA_VERSION (KRaft) on 127.0.0.1:$KAFKA_PORT"
    # setsid: the broker outlives the shell that started it and is stopped by `down`.
    setsid java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
        -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" \
        >"$KAFKA_DIR/stdout.log" 2>&1 </dev/null &
    echo $! >"$KAFKA_PID"
    if ! wait_for "Kafka" 90 kafka_ready; then
        tail -n 30 "$KAFKA_LOG" "$KAFKA_DIR/stdout.log" >&2 || true
        return 1
    fi
    log "Kafka is up"
}

kafka_ready() {
    kafka_running || { log "Kafka exited; see $KAFKA_LOG"; return 2; }
    port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$KAFKA_LOG" 2>/dev/null
}

kafka_down() {
    if kafka_running; then
        local pid
        pid=$(cat "$KAFKA_PID")
        log "stopping Kafka (pid $pid)"
        kill "$pid"
        wait_for "Kafka to stop" 60 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid"
    fi
    rm -f "$KAFKA_PID"
}

# ---------------------------------------------------------------- three-broker cluster

CLUSTER_DIR=${LOCAL_KAFKA_CLUSTER_DIR:-$LOCAL/kafka-cluster}
CLUSTER_PORT=${LOCAL_KAFKA_CLUSTER_PORT:-19092}
CLUSTER_NODES=(1 2 3)

node_dir() { echo "$CLUSTER_DIR/node-$1"; }
node_port() { echo $((CLUSTER_PORT + $1 - 1)); }
node_controller_port() { echo $((CLUSTER_PORT + 100 + $1 - 1)); }

cluster_bootstrap() {
    local n out=()
    for n in "${CLUSTER_NODES[@]}"; do out+=("127.0.0.1:$(node_port "$n")"); done
    (IFS=,; echo "${out[*]}")
}

cluster_node_config() {
    local n=$1 voters=() c
    for c in "${CLUSTER_NODES[@]}"; do voters+=("$c@127.0.0.1:$(node_controller_port "$c")"); done
    cat <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$(IFS=,; echo "${voters[*]}")
listeners=PLAINTEXT://127.0.0.1:$(node_port "$n"),CONTROLLER://127.0.0.1:$(node_controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(node_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$(node_dir "$n")/data
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
}

node_running() {
    local pid_file
    pid_file="$(node_dir "$1")/kafka.pid"
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

node_ready() {
    node_running "$1" || { log "cluster node $1 exited; see $(node_dir "$1")/server.log"; return 2; }
    port_open "$(node_port "$1")" && grep -q "Kafka Server started" "$(node_dir "$1")/server.log" 2>/dev/null
}

node_start() { # node_start <n>: format its storage once, start it, do not wait
    local n=$1 dir cp="$KAFKA_LIBS/*"
    dir=$(node_dir "$n")
    if node_running "$n"; then
        log "cluster node $n already running (pid $(cat "$dir/kafka.pid"))"
        return 0
    fi
    mkdir -p "$dir"
    cluster_node_config "$n" >"$dir/server.properties"
    cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=WARN, file
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
    if [ ! -f "$dir/data/meta.properties" ]; then
        mkdir -p "$dir/data"
        java -Dlog4j.configuration="file:$dir/log4j.properties" -cp "$cp" \
            kafka.tools.StorageTool format -t "$(cat "$CLUSTER_DIR/cluster.id")" \
            -c "$dir/server.properties" >/dev/null
    fi
    # A fresh log per start: readiness is read from it.
    if [ -f "$dir/server.log" ]; then mv "$dir/server.log" "$dir/server.log.prev"; fi
    log "starting cluster node $n: broker 127.0.0.1:$(node_port "$n"), controller :$(node_controller_port "$n")"
    setsid java -Xms128m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$cp" kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/kafka.pid"
}

cluster_up() {
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    kafka_fetch
    mkdir -p "$CLUSTER_DIR"
    if [ ! -s "$CLUSTER_DIR/cluster.id" ]; then
        java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 \
            >"$CLUSTER_DIR/cluster.id"
    fi
    local n
    for n in "${CLUSTER_NODES[@]}"; do node_start "$n"; done
    for n in "${CLUSTER_NODES[@]}"; do
        if ! wait_for "cluster node $n" 120 node_ready "$n"; then
            tail -n 30 "$(node_dir "$n")/server.log" "$(node_dir "$n")/stdout.log" >&2 || true
            return 1
        fi
    done
    log "Kafka cluster is up: $(cluster_bootstrap)"
}

cluster_node_start() { # start one node again (after cluster-kill) and wait until it serves
    kafka_fetch
    node_start "$1"
    wait_for "cluster node $1" 120 node_ready "$1"
}

cluster_kill() { # kill -9: the fault suite's broker loss
    if node_running "$1"; then
        log "kill -9 cluster node $1 (pid $(cat "$(node_dir "$1")/kafka.pid"))"
        kill -9 "$(cat "$(node_dir "$1")/kafka.pid")"
    fi
}

cluster_down() {
    local n pid
    for n in "${CLUSTER_NODES[@]}"; do
        if node_running "$n"; then
            log "stopping cluster node $n (pid $(cat "$(node_dir "$n")/kafka.pid"))"
            kill "$(cat "$(node_dir "$n")/kafka.pid")"
        fi
    done
    for n in "${CLUSTER_NODES[@]}"; do
        if node_running "$n"; then
            pid=$(cat "$(node_dir "$n")/kafka.pid")
            wait_for "cluster node $n to stop" 60 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid"
        fi
        rm -f "$(node_dir "$n")/kafka.pid"
    done
}

cluster_leader() { # the node id of the active controller, as the quorum itself reports it
    local n controllers=()
    for n in "${CLUSTER_NODES[@]}"; do controllers+=("127.0.0.1:$(node_controller_port "$n")"); done
    java -Dlog4j.configuration="file:$ROOT/deploy/kafka/tools-log4j.properties" -cp "$KAFKA_LIBS/*" \
        org.apache.kafka.tools.MetadataQuorumCommand \
        --bootstrap-controller "$(IFS=,; echo "${controllers[*]}")" describe --status 2>/dev/null |
        sed -n 's/^LeaderId:[[:space:]]*\([0-9]*\).*/\1/p'
}

cluster_env() {
    echo "KAFKA_BOOTSTRAP_SERVERS=$(cluster_bootstrap)"
    echo "KAFKA_REPLICATION_FACTOR=3"
    echo "KAFKA_MIN_INSYNC_REPLICAS=2"
}

cluster_status() {
    local n
    for n in "${CLUSTER_NODES[@]}"; do
        if node_running "$n"; then
            echo "node $n: running (pid $(cat "$(node_dir "$n")/kafka.pid")) on 127.0.0.1:$(node_port "$n")"
        else echo "node $n: stopped"; fi
    done
}

# ---------------------------------------------------------------- PostgreSQL

apt_install() {
    log "installing $* from Debian's packages"
    [ "$(id -u)" = 0 ] || { log "need root to install $*"; return 1; }
    if [ ! -f "$LOCAL/.apt-updated" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        mkdir -p "$LOCAL" && touch "$LOCAL/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

databases_given() {
    [ -n "${INTAKE_DATABASE_URL:-}" ] && [ -n "${ESCALATION_DATABASE_URL:-}" ] &&
        [ -n "${FOLLOWUP_DATABASE_URL:-}" ] && [ -n "${SATISFACTION_DATABASE_URL:-}" ] &&
        [ -n "${NOTIFY_DATABASE_URL:-}" ]
}

pg_up() {
    if databases_given; then
        log "database URLs are set: not starting PostgreSQL"
        return 0
    fi
    if [ -z "$(pg_bin)" ]; then
        apt_install postgresql
        pg_locate # the postgres user exists only now
    fi
    local bin
    bin=$(pg_bin)
    mkdir -p "$PG_HOME" "$PG_RUN"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PG_HOME"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        log "initialising a PostgreSQL cluster in $PG_DATA"
        local pwfile="$PG_HOME/.pw"
        printf '%s\n' "$PG_PASSWORD" >"$pwfile"
        [ "$(id -u)" = 0 ] && chown postgres:postgres "$pwfile"
        as_pg "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
        cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 300
shared_buffers = 256MB
EOF
    fi
    if as_pg "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    else
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        as_pg "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null
    fi
    local db
    for db in "${DATABASES[@]}"; do
        if ! as_pg "$bin/psql" -h "$PG_RUN" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
            log "creating database $db"
            as_pg "$bin/createdb" -h "$PG_RUN" -p "$PG_PORT" -U "$PG_USER" "$db"
        fi
    done
    log "PostgreSQL is up"
}

pg_down() {
    local bin
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -f "$PG_DATA/PG_VERSION" ] &&
        as_pg "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        log "stopping PostgreSQL"
        as_pg "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    fi
}

pg_restart() { # pg_restart fast|immediate: the fault suite's database restart
    if databases_given; then
        log "database URLs are set: that server is not this checkout's to restart"
        return 1
    fi
    log "restarting PostgreSQL (-m $1)"
    as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -m "$1" -w -t 60 restart >/dev/null
}

# ---------------------------------------------------------------- commands

print_env() {
    # The settings every service reads, pointing at whichever servers are in use.
    echo "KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
    # The local broker is one node: one copy of each topic (shared.messaging.admin defaults
    # to 3 and 2, for a cluster). A given cluster keeps what the environment says.
    if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || [ -n "${KAFKA_REPLICATION_FACTOR:-}" ]; then
        echo "KAFKA_REPLICATION_FACTOR=${KAFKA_REPLICATION_FACTOR:-1}"
        echo "KAFKA_MIN_INSYNC_REPLICAS=${KAFKA_MIN_INSYNC_REPLICAS:-1}"
    fi
    local db var
    for db in "${DATABASES[@]}"; do
        var="$(echo "$db" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
        echo "$var=${!var:-postgresql+asyncpg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$db}"
    done
}

case "${1:-}" in
up) pg_up && kafka_up ;;
down) kafka_down && pg_down ;;
kafka-up) kafka_up ;;
fetch) kafka_fetch ;;
kafka-down) kafka_down ;;
pg-up) pg_up ;;
pg-down) pg_down ;;
pg-restart) pg_restart "${2:-fast}" ;;
env) print_env ;;
cluster-up) cluster_up ;;
cluster-down) cluster_down ;;
cluster-env) cluster_env ;;
cluster-status) cluster_status ;;
cluster-kill) cluster_kill "${2:?node 1-3}" ;;
cluster-start) cluster_node_start "${2:?node 1-3}" ;;
cluster-leader) cluster_leader ;;
status)
    if kafka_running; then echo "kafka: running (pid $(cat "$KAFKA_PID"))"; else echo "kafka: stopped"; fi
    if [ -n "$(pg_bin)" ] && as_pg "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
        echo "postgres: running on 127.0.0.1:$PG_PORT"
    else echo "postgres: stopped"; fi
    ;;
*)
    echo "usage: $0 up|down|status|kafka-up|kafka-down|pg-up|pg-down|env|fetch" >&2
    echo "       $0 cluster-up|cluster-down|cluster-env|cluster-status|cluster-leader|cluster-kill N|cluster-start N" >&2
    exit 2
    ;;
esac
