#!/usr/bin/env bash
# The ClickHouse servers dnsledger's tests and benchmarks run against: Debian's clickhouse-server
# and a single-node ZooKeeper (Debian's zookeeper), on 127.0.0.1 only, on non-default ports,
# with every file (configuration, data, logs, PIDs) under one directory.
#
# Usage:
#   scripts/clickhouse.sh start  DIR   start everything (installing the packages if missing),
#                                      wait until it answers, print the export lines of `env`
#   scripts/clickhouse.sh stop   DIR   stop everything started from DIR (data kept)
#   scripts/clickhouse.sh status DIR   what runs
#   scripts/clickhouse.sh env    DIR   print the export lines the tests read
#   scripts/clickhouse.sh clean  DIR   stop, then delete DIR
#
# Typical use:
#   scripts/clickhouse.sh start target/test-clickhouse >/dev/null
#   trap 'scripts/clickhouse.sh clean target/test-clickhouse' EXIT
#   eval "$(scripts/clickhouse.sh env target/test-clickhouse)"
#
# What `start` runs (ports can be moved with the variables in brackets):
#   zookeeper  127.0.0.1:22181 [CH_ZK_PORT]
#   single     a standalone server, HTTP 28123, native 29000, interserver 29009; its own
#              cluster `dnsledger_single` holds only itself
#   shard1     HTTP 28124, native 29001, interserver 29010   } cluster `dnsledger`: 2 shards x 1
#   shard2     HTTP 28125, native 29002, interserver 29011   } replica; cluster
#              `dnsledger_replicated`: 1 shard whose 2 replicas are shard1 and shard2; macros
#              {shard} = 01/02, {replica} = shard1/shard2; ZooKeeper configured (Replicated*
#              tables, ON CLUSTER DDL). {shard} differs between the two replicas of
#              `dnsledger_replicated`, so Replicated* paths for that cluster must not use it.
#   [CH_HTTP_PORT=28123 CH_TCP_PORT=29000 CH_ISH_PORT=29009: server N (0 = single) uses base+N]
# User `default` (no password) accepts 127.0.0.1 only; the timezone is UTC. Debian's packaged
# service is never used: it would take ports 8123/9000.
#
# Waits are bounded (60 s per server or ZooKeeper start, 30 s per stop before SIGKILL). A
# server that dies or does not answer makes `start` stop what it started, print the tail of
# that server's log, and exit non-zero. A second `start` with everything running changes nothing;
# `stop` then `start` keeps the data.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CMD="${1:-}"
DIR_ARG="${2:-}"
CH_HTTP_PORT="${CH_HTTP_PORT:-28123}"
CH_TCP_PORT="${CH_TCP_PORT:-29000}"
CH_ISH_PORT="${CH_ISH_PORT:-29009}"
CH_ZK_PORT="${CH_ZK_PORT:-22181}"
START_WAIT=60
STOP_WAIT=30
SERVERS=(single shard1 shard2)
MARKER=".dnsledger-clickhouse"

log() { echo "[clickhouse.sh] $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  echo "usage: $0 {start|stop|status|env|clean} DIR" >&2
  exit 2
}

if [ -z "$CMD" ] || [ -z "$DIR_ARG" ]; then usage; fi
case "$CMD" in start | stop | status | env | clean) ;; *) usage ;; esac
if [ "$CMD" = start ]; then
  mkdir -p "$DIR_ARG" || die "cannot create $DIR_ARG"
elif [ ! -d "$DIR_ARG" ]; then
  case "$CMD" in
    stop | clean) exit 0 ;;                              # nothing was started there
    status) echo "nothing started in $DIR_ARG"; exit 0 ;;
  esac
fi
if [ -d "$DIR_ARG" ]; then DIR="$(cd "$DIR_ARG" && pwd)"; else DIR="$DIR_ARG"; fi

# Ports are fixed when a directory is first started, so `env`, `stop` and a later `start`
# agree with it whatever the environment says then.
if [ -f "$DIR/ports" ]; then
  # shellcheck disable=SC1091
  . "$DIR/ports"
fi

index_of() {
  local i
  for i in "${!SERVERS[@]}"; do [ "${SERVERS[$i]}" = "$1" ] && { echo "$i"; return; }; done
}
http_port() { echo $((CH_HTTP_PORT + $(index_of "$1"))); }
tcp_port() { echo $((CH_TCP_PORT + $(index_of "$1"))); }
ish_port() { echo $((CH_ISH_PORT + $(index_of "$1"))); }

# ------------------------------------------------------------------ processes by PID file
# A PID is only trusted while that process's command line names this directory, so a PID
# reused by an unrelated process is never signalled.
pid_in() { cat "$1" 2>/dev/null || true; }
ours() { # PIDFILE
  local p
  p="$(pid_in "$1")"
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$DIR/"
}
# Sends SIGTERM to every NAME=PIDFILE pair given, waits for all (SIGKILL after STOP_WAIT s).
stop_pids() { # NAME=PIDFILE...
  local pair name file p i left
  local -a names=() pids=() files=()
  for pair in "$@"; do
    name="${pair%%=*}" file="${pair#*=}"
    if ours "$file"; then
      p="$(pid_in "$file")"
      kill -TERM "$p" 2>/dev/null || true
      names+=("$name") pids+=("$p") files+=("$file")
    else
      rm -f "$file"
    fi
  done
  for ((i = 0; i < STOP_WAIT * 4; i++)); do
    left=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.25
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      log "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for ${STOP_WAIT} s: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    rm -f "${files[$i]}"
    log "${names[$i]} stopped (pid ${pids[$i]})"
  done
}
# shellcheck disable=SC2016 # $1 is the inner shell's argument
port_busy() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# ------------------------------------------------------------------ packages
need_install() {
  [ -x /usr/sbin/clickhouse-server ] || return 0
  [ -f /usr/share/java/zookeeper.jar ] || return 0
  [ -f /usr/share/java/slf4j-simple.jar ] || return 0
  command -v java >/dev/null 2>&1 || return 0
  command -v curl >/dev/null 2>&1 || return 0
  return 1
}

install_packages() {
  if need_install; then
    log "installing clickhouse-server, zookeeper and curl (scripts/deps.sh --clickhouse)"
    "$ROOT/scripts/deps.sh" --clickhouse >/dev/null
    if need_install; then die "scripts/deps.sh --clickhouse did not install clickhouse-server/zookeeper/curl"; fi
  fi
}

# ------------------------------------------------------------------ ZooKeeper
# shellcheck disable=SC2016 # $1 is the inner shell's argument
zk_ruok() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && echo ruok >&3 && head -c 4 <&3' _ "$CH_ZK_PORT" 2>/dev/null || true; }

start_zk() {
  local d="$DIR/zookeeper" deadline
  if ours "$d/pid"; then log "zookeeper already running (pid $(pid_in "$d/pid"))"; return 0; fi
  port_busy "$CH_ZK_PORT" && die "port 127.0.0.1:$CH_ZK_PORT is taken by another process (set CH_ZK_PORT)"
  mkdir -p "$d/conf" "$d/data" "$d/log"
  printf '%s\n' "tickTime=2000" "initLimit=10" "syncLimit=5" "dataDir=$d/data" \
    "clientPort=$CH_ZK_PORT" "clientPortAddress=127.0.0.1" "admin.enableServer=false" \
    "4lw.commands.whitelist=ruok,srvr,stat" "maxClientCnxns=200" >"$d/conf/zoo.cfg"
  # Started with java directly: Debian's zkServer.sh reads /etc/zookeeper/conf (port 2181 on
  # every interface). slf4j-simple sends ZooKeeper's warnings and errors to the log file.
  nohup java -Xmx256m -Djava.net.preferIPv4Stack=true -Dzookeeper.admin.enableServer=false \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$d/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$d/conf/zoo.cfg" >"$d/log/zookeeper.log" 2>&1 </dev/null &
  echo $! >"$d/pid"
  deadline=$((SECONDS + START_WAIT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if [ "$(zk_ruok)" = imok ]; then
      log "zookeeper: pid $(pid_in "$d/pid"), 127.0.0.1:$CH_ZK_PORT"
      return 0
    fi
    if ! kill -0 "$(pid_in "$d/pid")" 2>/dev/null; then
      log "zookeeper exited while starting; the end of $d/log/zookeeper.log:"
      tail -n 30 "$d/log/zookeeper.log" >&2 || true
      return 1
    fi
    sleep 0.25
  done
  log "zookeeper did not answer on 127.0.0.1:$CH_ZK_PORT within ${START_WAIT} s; the end of its log:"
  tail -n 30 "$d/log/zookeeper.log" >&2 || true
  return 1
}

# ------------------------------------------------------------------ ClickHouse servers
replica_xml() { echo "<replica><host>127.0.0.1</host><port>$(tcp_port "$1")</port></replica>"; }

write_config() { # NAME
  local name="$1" d="$DIR/$1" clusters zk macros
  mkdir -p "$d"/{data,tmp,user_files,format_schemas,log}
  if [ "$name" = single ]; then
    clusters="        <dnsledger_single>
            <shard><internal_replication>true</internal_replication>$(replica_xml single)</shard>
        </dnsledger_single>"
    zk=""
    macros="<shard>01</shard><replica>single</replica>"
  else
    clusters="        <dnsledger>
            <shard><internal_replication>true</internal_replication>$(replica_xml shard1)</shard>
            <shard><internal_replication>true</internal_replication>$(replica_xml shard2)</shard>
        </dnsledger>
        <dnsledger_replicated>
            <shard><internal_replication>true</internal_replication>$(replica_xml shard1)$(replica_xml shard2)</shard>
        </dnsledger_replicated>"
    zk="    <zookeeper>
        <node><host>127.0.0.1</host><port>$CH_ZK_PORT</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
    macros="<shard>0${name#shard}</shard><replica>$name</replica>"
  fi
  cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<!-- written by scripts/clickhouse.sh; rewritten at every start -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$d/log/server.log</log>
        <errorlog>$d/log/server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$(http_port "$name")</http_port>
    <tcp_port>$(tcp_port "$name")</tcp_port>
    <interserver_http_port>$(ish_port "$name")</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <format_schema_path>$d/format_schemas/</format_schema_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
$clusters
    </remote_servers>
$zk
    <macros>$macros</macros>
</yandex>
XML
  cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>in_order</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
        </default>
    </quotas>
</yandex>
XML
}

start_server() { # NAME
  local name="$1" d="$DIR/$1" p
  if ours "$d/server.pid"; then log "$name already running (pid $(pid_in "$d/server.pid"))"; return 0; fi
  for p in "$(http_port "$name")" "$(tcp_port "$name")" "$(ish_port "$name")"; do
    port_busy "$p" && die "port 127.0.0.1:$p ($name) is taken by another process (set CH_HTTP_PORT/CH_TCP_PORT/CH_ISH_PORT)"
  done
  write_config "$name"
  # nohup execs the server, so $! is the server's own PID.
  nohup /usr/sbin/clickhouse-server --config-file="$d/config.xml" >"$d/log/stdout.log" 2>&1 </dev/null &
  echo $! >"$d/server.pid"
  log "$name: pid $!, http 127.0.0.1:$(http_port "$name"), native 127.0.0.1:$(tcp_port "$name")"
}

server_log_tail() { # NAME
  local d="$DIR/$1" f
  for f in "$d/log/stdout.log" "$d/log/server.err.log"; do
    [ -s "$f" ] || continue
    echo "--- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
}

wait_server() { # NAME
  local name="$1" deadline
  deadline=$((SECONDS + START_WAIT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if curl -fsS --max-time 2 "http://127.0.0.1:$(http_port "$name")/ping" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(pid_in "$DIR/$name/server.pid")" 2>/dev/null; then
      log "$name exited while starting; its log:"
      server_log_tail "$name"
      return 1
    fi
    sleep 0.25
  done
  log "$name did not answer on 127.0.0.1:$(http_port "$name") within ${START_WAIT} s; its log:"
  server_log_tail "$name"
  return 1
}

sql() { # NAME SQL -> stdout; the server's error text on stderr
  curl -sS --fail-with-body --max-time 30 "http://127.0.0.1:$(http_port "$1")/" --data-binary "$2"
}

# Every server answers a query, both clusters reach both servers, and the cluster servers
# reach ZooKeeper.
sanity_check() {
  local got name both
  got="$(sql single "SELECT count() FROM cluster('dnsledger_single', system.one)")" || return 1
  [ "$got" = 1 ] || { log "single: cluster dnsledger_single gave '$got', expected 1"; return 1; }
  both="127.0.0.1:$(tcp_port shard1),127.0.0.1:$(tcp_port shard2)"
  for name in shard1 shard2; do
    got="$(sql "$name" "SELECT count() FROM cluster('dnsledger', system.one)")" || return 1
    [ "$got" = 2 ] || { log "$name: cluster dnsledger reached $got servers, expected 2"; return 1; }
    got="$(sql "$name" "SELECT count() FROM remote('$both', system.one)")" || return 1
    [ "$got" = 2 ] || { log "$name: remote() over both servers gave '$got', expected 2"; return 1; }
    got="$(sql "$name" "SELECT count() FROM system.clusters WHERE cluster = 'dnsledger_replicated'")" || return 1
    [ "$got" = 2 ] || { log "$name: cluster dnsledger_replicated has $got replicas, expected 2"; return 1; }
    got="$(sql "$name" "SELECT count() FROM system.zookeeper WHERE path = '/'")" || return 1
    [ "$got" -gt 0 ] 2>/dev/null || { log "$name: ZooKeeper's root is empty or unreadable: '$got'"; return 1; }
  done
}

print_env() {
  echo "export DNSLEDGER_TEST_CLICKHOUSE=http://127.0.0.1:$(http_port single)"
  echo "export DNSLEDGER_TEST_CLICKHOUSE_SHARDS=http://127.0.0.1:$(http_port shard1),http://127.0.0.1:$(http_port shard2)"
  echo "export DNSLEDGER_TEST_CLICKHOUSE_CLUSTER=dnsledger"
  echo "export DNSLEDGER_TEST_CLICKHOUSE_REPLICATED_CLUSTER=dnsledger_replicated"
}

# The servers first (together), ZooKeeper once they are gone.
stop_all() {
  local name
  local -a pairs=()
  for name in "${SERVERS[@]}"; do pairs+=("$name=$DIR/$name/server.pid"); done
  stop_pids "${pairs[@]}"
  stop_pids "zookeeper=$DIR/zookeeper/pid"
}

do_start() {
  local name
  install_packages
  touch "$DIR/$MARKER"
  if [ ! -f "$DIR/ports" ]; then
    printf 'CH_HTTP_PORT=%d\nCH_TCP_PORT=%d\nCH_ISH_PORT=%d\nCH_ZK_PORT=%d\n' \
      "$CH_HTTP_PORT" "$CH_TCP_PORT" "$CH_ISH_PORT" "$CH_ZK_PORT" >"$DIR/ports"
  fi
  # On any failure below, stop what runs from DIR, so nothing is left half started.
  START_DONE=0
  trap '[ "$START_DONE" = 1 ] || { log "start failed: stopping what runs from $DIR"; stop_all; }' EXIT
  start_zk
  for name in "${SERVERS[@]}"; do start_server "$name"; done
  for name in "${SERVERS[@]}"; do wait_server "$name"; done
  sanity_check || die "sanity check failed"
  START_DONE=1
  log "ready: ZooKeeper and ${#SERVERS[@]} ClickHouse servers ($(sql single 'SELECT version()')) under $DIR"
  print_env
}

do_status() {
  local name d
  for name in "${SERVERS[@]}"; do
    d="$DIR/$name"
    if ours "$d/server.pid"; then
      echo "$name: running, pid $(pid_in "$d/server.pid"), http 127.0.0.1:$(http_port "$name")"
    else
      echo "$name: stopped"
    fi
  done
  if ours "$DIR/zookeeper/pid"; then
    echo "zookeeper: running, pid $(pid_in "$DIR/zookeeper/pid"), 127.0.0.1:$CH_ZK_PORT"
  else
    echo "zookeeper: stopped"
  fi
}

case "$CMD" in
  start) do_start ;;
  stop) stop_all ;;
  status) do_status ;;
  env) print_env ;;
  clean)
    stop_all
    # Only a directory this script laid out (or an empty one) is deleted.
    if [ -f "$DIR/$MARKER" ] || [ -z "$(ls -A "$DIR")" ]; then
      rm -rf "$DIR"
    else
      die "not deleting $DIR: it was not made by $0"
    fi
    ;;
esac
