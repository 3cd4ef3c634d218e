#!/usr/bin/env bash
# Tests the Debian package for real:
#
#   scripts/package-test.sh [--binary PATH]
#
# builds it (scripts/package.sh, from PATH; default: target/debug/dnsledger, built first with
# `cargo build --locked -p dnsledger`, so CI needs no release build), installs it with apt-get,
# checks what it installed (program, man pages, completions, configuration, user, units), runs the
# packaged server and a live sensor the way the units do (as the dnsledger user, the server
# without capabilities, the sensor with CAP_NET_RAW alone, under strace to check that every
# system call and socket family they use is one the units allow), ingests, captures and looks up
# records, stops both with SIGTERM, then purges the package and checks that nothing is left.
#
# Needs root (or password-less sudo): it installs a package and creates a system user. A copy
# left by an earlier run is purged first; the servers it starts are stopped however it exits.
# Traffic stays on loopback. Stops at the first failure, with what failed, and leaves the
# package installed then, for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."

installed=0
fail() {
  echo "package-test: FAIL: $*" >&2
  if [ "$installed" = 1 ]; then
    echo "package-test: dnsledger stays installed for inspection; the next run (or apt-get purge dnsledger) removes it" >&2
  fi
  exit 1
}
passed=0
ok() {
  passed=$((passed + 1))
  echo "package-test: ok: $*"
}
step() { echo "== package-test: $*"; }

binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || fail "--binary needs a path"; binary=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument '$1' (usage: scripts/package-test.sh [--binary PATH])" ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null \
    || fail "installing a package needs root: run as root or with password-less sudo"
  SUDO="sudo -n"
fi

# tools: install the missing ones from Debian (all are on a standard Debian machine)
need=()
for t in apt-get:apt dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev strip:binutils curl:curl \
  python3:python3 setpriv:util-linux strace:strace systemd-analyze:systemd man:man-db; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 \
    || fail "could not install ${need[*]}"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dnsledger-package-test.XXXXXX")
chmod 0755 "$work"
pids=()
# descendants PID: the processes under PID, the deepest first
descendants() {
  local c
  for c in $(pgrep -P "$1" || true); do
    descendants "$c"
    echo "$c"
  done
}
cleanup() {
  local p c all=()
  for p in "${pids[@]}"; do
    # the server or sensor (under strace, under sudo when not root) before strace itself
    for c in $(descendants "$p") "$p"; do
      all+=("$c")
      $SUDO kill -KILL "$c" 2>/dev/null || true
    done
    { wait "$p"; } 2>/dev/null || true
  done
  for c in "${all[@]}"; do
    for _ in $(seq 50); do
      [ -d "/proc/$c" ] || break
      sleep 0.1
    done
  done
  $SUDO rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$binary" ]; then
  ROCKSDB_LIB_DIR=${ROCKSDB_LIB_DIR:-$(scripts/deps.sh)}
  export ROCKSDB_LIB_DIR
  step "cargo build --locked -p dnsledger"
  cargo build --locked -p dnsledger
  binary="${CARGO_TARGET_DIR:-target}/debug/dnsledger"
fi
[ -x "$binary" ] || fail "$binary is not an executable file"
version=$("$binary" --version)
version=${version#dnsledger }

# --- a leftover install ---------------------------------------------------------------------
if dpkg-query -W -f='${db:Status-Status}' dnsledger 2>/dev/null | grep -qv '^not-installed$'; then
  step "purging the dnsledger package left by an earlier run"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q dnsledger >"$work/leftover.log" 2>&1 \
    || { cat "$work/leftover.log" >&2; fail "could not purge the installed dnsledger package"; }
fi

# --- build and install --------------------------------------------------------------------------
step "building the package from $binary"
deb=$(scripts/package.sh --binary "$binary" --out "$work/out") || fail "scripts/package.sh failed"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
ok "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -f "$deb" Depends | grep -q 'librocksdb' || fail "Depends lacks librocksdb: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -f "$deb" Depends | grep -q 'libpcap' || fail "Depends lacks libpcap: $(dpkg-deb -f "$deb" Depends)"
ok "Depends: $(dpkg-deb -f "$deb" Depends)"

step "apt-get install $deb"
installed=1
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
  >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "apt-get install failed"; }
[ "$(dpkg-query -W -f='${db:Status-Status} ${Version}' dnsledger)" = "installed $version" ] \
  || fail "dpkg does not list dnsledger $version as installed"
ok "installed dnsledger $version"

# --- what it installed --------------------------------------------------------------------------
[ "$(command -v dnsledger)" = /usr/bin/dnsledger ] || fail "dnsledger is not /usr/bin/dnsledger on PATH"
[ "$(/usr/bin/dnsledger --version)" = "dnsledger $version" ] || fail "/usr/bin/dnsledger --version"
ok "/usr/bin/dnsledger --version: dnsledger $version"

for page in dnsledger dnsledger-serve dnsledger-sensor; do
  [ -f "/usr/share/man/man1/$page.1.gz" ] || fail "/usr/share/man/man1/$page.1.gz is missing"
  [ "$(man -w "$page")" = "/usr/share/man/man1/$page.1.gz" ] || fail "man -w $page: $(man -w "$page" 2>&1)"
done
ok "man pages: $(find /usr/share/man/man1 -name 'dnsledger*.1.gz' | wc -l), found by man -w"

bash -c 'source /usr/share/bash-completion/completions/dnsledger && complete -p dnsledger' \
  | grep -q -- '-F _dnsledger dnsledger' || fail "the bash completion does not load"
grep -q '#compdef dnsledger' /usr/share/zsh/vendor-completions/_dnsledger || fail "zsh completion"
grep -q 'complete -c dnsledger' /usr/share/fish/vendor_completions.d/dnsledger.fish || fail "fish completion"
ok "bash completion loads; zsh and fish completions in place"

dpkg-query -W -f='${Conffiles}' dnsledger | grep -q ' /etc/dnsledger/dnsledger.toml ' \
  || fail "/etc/dnsledger/dnsledger.toml is not a conffile"
/usr/bin/dnsledger config check /etc/dnsledger/dnsledger.toml >"$work/config-check.log" 2>&1 \
  || { cat "$work/config-check.log" >&2; fail "dnsledger config check /etc/dnsledger/dnsledger.toml"; }
ok "/etc/dnsledger/dnsledger.toml is a conffile and passes dnsledger config check"

IFS=: read -r _ _ uid _ _ home shell < <(getent passwd dnsledger) || fail "no dnsledger user"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/dnsledger ] && [ "$shell" = /usr/sbin/nologin ] \
  || fail "dnsledger user: uid $uid, home $home, shell $shell"
getent group dnsledger >/dev/null || fail "no dnsledger group"
[ "$(stat -c '%U:%G %a' /var/lib/dnsledger)" = "dnsledger:dnsledger 750" ] \
  || fail "/var/lib/dnsledger is $(stat -c '%U:%G %a' /var/lib/dnsledger)"
ok "system user dnsledger (uid $uid, nologin), /var/lib/dnsledger dnsledger:dnsledger 0750"

# --- units --------------------------------------------------------------------------------------
serve_unit=/lib/systemd/system/dnsledger.service
sensor_unit=/lib/systemd/system/dnsledger-sensor@.service
(cd / && systemd-analyze verify dnsledger.service dnsledger-sensor@eth0.service) >"$work/verify.log" 2>&1 \
  || { cat "$work/verify.log" >&2; fail "systemd-analyze verify"; }
! grep -i dnsledger "$work/verify.log" >&2 || fail "systemd-analyze verify warned about the units"
ok "systemd-analyze verify: dnsledger.service, dnsledger-sensor@eth0.service"
for unit in dnsledger.service dnsledger-sensor@eth0.service; do
  (cd / && systemd-analyze security --offline=true --threshold=20 "$unit") >"$work/security.log" 2>&1 \
    || { cat "$work/security.log" >&2; fail "systemd-analyze security $unit: exposure above 2.0"; }
  ok "systemd-analyze security $unit: $(grep -o 'exposure level for .*' "$work/security.log")"
done

# the names of the system calls in a SystemCallFilter group, recursively
expand_group() {
  if [[ $1 != @* ]]; then
    echo "$1"
    return
  fi
  local e
  systemd-analyze syscall-filter "$1" | sed -n '2,$p' | sed -E 's/^ +//' | grep -vE '^(#|$)' \
    | while read -r e; do expand_group "$e"; done
}
# check_trace LOG UNIT: every system call dnsledger made (from its execve on) is in the unit's
# SystemCallFilter, every socket it opened has a family of RestrictAddressFamilies, and it made
# no writable+executable mapping (MemoryDenyWriteExecute)
check_trace() {
  local log=$1 unit=$2 used allowed denied bad families
  awk '/execve\("\/usr\/bin\/dnsledger"/ { on = 1 } on' "$log" | sed -E 's/^[0-9]+ +//' >"$log.own"
  used=$(grep -oE '^[a-z_0-9]+\(' "$log.own" | tr -d '(' | sort -u)
  [ -n "$used" ] || fail "$log: no system calls traced"
  allowed=$(for g in $(sed -n 's/^SystemCallFilter=\([^~]\)/\1/p' "$unit"); do expand_group "$g"; done | sort -u)
  denied=$(for g in $(sed -n 's/^SystemCallFilter=~//p' "$unit"); do expand_group "$g"; done | sort -u)
  bad=$(comm -23 <(echo "$used") <(echo "$allowed"); comm -12 <(echo "$used") <(echo "$denied"))
  [ -z "$bad" ] || fail "$(basename "$unit") forbids system calls dnsledger made: $(tr '\n' ' ' <<<"$bad")"
  families=$(grep -oE '^socket\(AF_[A-Z0-9]+' "$log.own" | sed 's/^socket(//' | sort -u)
  for f in $families; do
    grep -qE "^RestrictAddressFamilies=.*\<$f\>" "$unit" \
      || fail "$(basename "$unit") forbids $f sockets, which dnsledger opened"
  done
  if grep -E '^(mprotect|pkey_mprotect)\([^)]*PROT_EXEC|^mmap\([^)]*(PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE)' "$log.own"; then
    fail "dnsledger made an executable mapping that MemoryDenyWriteExecute forbids"
  fi
  ok "$(basename "$unit") allows all $(wc -w <<<"$used") system calls and the socket families ($(paste -sd' ' <<<"$families")) dnsledger used"
}

# --- the server, as dnsledger.service runs it ---------------------------------------------------
free_port() {
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
port=$(free_port SOCK_STREAM)
url="http://127.0.0.1:$port"
# as_dnsledger DIR CAPS COMMAND...: COMMAND in DIR as the dnsledger user with only the
# capabilities CAPS (-all, or -all,+net_raw), no new privileges and the units' umask
setpriv_args() {
  asuser=(setpriv --reuid dnsledger --regid dnsledger --clear-groups --inh-caps="$2"
    --ambient-caps="$2" --bounding-set="$2" --no-new-privs --
    sh -c 'cd "$1" && umask 027 && shift && exec "$@"' sh "$1")
}
as_dnsledger() {
  setpriv_args "$1" "$2"
  shift 2
  $SUDO "${asuser[@]}" "$@"
}
# start LOG OUT DIR CAPS COMMAND...: as_dnsledger in the background under strace -f (into LOG),
# output into OUT. Sets $job (our child: strace, or sudo above it) and $pid (dnsledger itself).
start() {
  local log=$1 out=$2 c
  setpriv_args "$3" "$4"
  shift 4
  $SUDO strace -f -qq -o "$log" "${asuser[@]}" "$@" >"$out" 2>&1 &
  job=$!
  pids+=("$job")
  pid=""
  for _ in $(seq 100); do
    for c in $(descendants "$job"); do
      if [ "$(ps -o comm= -p "$c" 2>/dev/null)" = dnsledger ]; then
        pid=$c
      fi
    done
    [ -n "$pid" ] && return 0
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out" >&2
  fail "$* did not start"
}
wait_healthy() {
  for _ in $(seq 300); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$job" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# stop PID JOB SECONDS: SIGTERM to PID; JOB must end with status 0 within SECONDS
stop() {
  $SUDO kill -TERM "$1"
  for _ in $(seq "$(($3 * 10))"); do
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  ! kill -0 "$2" 2>/dev/null || fail "pid $1 did not stop within $3 s of SIGTERM"
  local rc=0
  wait "$2" || rc=$?
  [ "$rc" = 0 ] || fail "pid $1 exited with status $rc after SIGTERM"
}

step "dnsledger serve as user dnsledger, no capabilities, on $url"
start "$work/serve.strace" "$work/serve.log" / -all \
  /usr/bin/dnsledger serve --config /etc/dnsledger/dnsledger.toml --listen "127.0.0.1:$port"
serve_job=$job serve_pid=$pid
wait_healthy || { cat "$work/serve.log" >&2; fail "the server did not answer $url/healthz"; }
[ "$(stat -c %U /var/lib/dnsledger/store)" = dnsledger ] || fail "the store is not owned by dnsledger"
ok "the packaged server answers $url/healthz; its store is /var/lib/dnsledger/store"

/usr/lib/dnsledger/healthcheck "127.0.0.1:$port" || fail "the container healthcheck failed on a healthy server"
if /usr/lib/dnsledger/healthcheck "127.0.0.1:$(free_port SOCK_STREAM)" 2>/dev/null; then
  fail "the container healthcheck passed on a port nobody listens on"
fi
ok "/usr/lib/dnsledger/healthcheck: 0 on the server, non-zero on a closed port"

line='{"rrname":"pkgtest.example.","rrtype":"A","rdata":["192.0.2.77"],"time":1704067200,"count":2}'
answer=$(printf '%s\n' "$line" | curl -fsS --data-binary @- "$url/api/v1/observations?format=ndjson&sensor=pkgtest") \
  || fail "POST /api/v1/observations failed"
grep -q '"records":1' <<<"$answer" || fail "ingest answered $answer"
# lookup NAME [CURL OPTIONS]: the native RRset lookup of NAME
lookup() {
  curl -fsS "${@:2}" "$url/api/v1/lookup/rrset/name/$1"
}
answer=$(lookup pkgtest.example.) || fail "the lookup failed"
grep -q '"rdata":\["192.0.2.77"\]' <<<"$answer" && grep -q '"count":2' <<<"$answer" \
  || fail "the lookup answered $answer"
ok "ingested an observation over HTTP and looked it up"

$SUDO kill -HUP "$serve_pid"
sleep 0.5
kill -0 "$serve_job" 2>/dev/null && curl -fsS "$url/healthz" >/dev/null \
  || fail "the server did not survive SIGHUP (the unit's ExecReload sends it to reload the keys)"
ok "SIGHUP (systemctl reload) leaves the server running"

# --- a live sensor, as dnsledger-sensor@lo.service runs it --------------------------------------
dns_port=$(free_port SOCK_DGRAM)
sensor_dir=/var/lib/dnsledger/sensor-lo
$SUDO install -d -o dnsledger -g dnsledger -m 0750 "$sensor_dir"
sensor_args=(/usr/bin/dnsledger sensor --config /etc/dnsledger/dnsledger.toml -i lo --port "$dns_port"
  --server "$url" --sensor pkgtest-lo --flush-secs 1 --stats-secs 3600)
step "dnsledger sensor -i lo as user dnsledger, without capabilities: must be refused"
if as_dnsledger "$sensor_dir" -all "${sensor_args[@]}" >"$work/nocap.log" 2>&1; then
  fail "the sensor captured without CAP_NET_RAW: the capability test proves nothing here"
fi
grep -q 'CAP_NET_RAW' "$work/nocap.log" || { cat "$work/nocap.log" >&2; fail "no CAP_NET_RAW error"; }
ok "without capabilities live capture is refused: $(tail -1 "$work/nocap.log")"

step "dnsledger sensor -i lo as user dnsledger with CAP_NET_RAW only, shipping to $url"
start "$work/sensor.strace" "$work/sensor.log" "$sensor_dir" -all,+net_raw "${sensor_args[@]}"
sensor_job=$job sensor_pid=$pid
for _ in $(seq 100); do
  grep -q 'capturing on lo' "$work/sensor.log" && break
  kill -0 "$sensor_job" 2>/dev/null || { cat "$work/sensor.log" >&2; fail "the sensor exited"; }
  sleep 0.1
done
grep -q 'capturing on lo' "$work/sensor.log" || { cat "$work/sensor.log" >&2; fail "the sensor did not start capturing"; }
# one DNS exchange on loopback: a query for pkgtest-sensor.example and its A answer
python3 - "$dns_port" <<'EOF' || fail "the DNS exchange on loopback failed"
import socket, struct, sys
port = int(sys.argv[1])
question = b"\x0epkgtest-sensor\x07example\x00" + struct.pack("!HH", 1, 1)
query = struct.pack("!6H", 0x4242, 0x0100, 1, 0, 0, 0) + question
answer = (struct.pack("!6H", 0x4242, 0x8180, 1, 1, 0, 0) + question
          + struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("192.0.2.99"))
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", port))
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.settimeout(5)
server.settimeout(5)
client.sendto(query, ("127.0.0.1", port))
_, peer = server.recvfrom(512)
server.sendto(answer, peer)
client.recvfrom(512)
EOF
sleep 1
stop "$sensor_pid" "$sensor_job" 30
answer=$(lookup pkgtest-sensor.example.) || fail "the lookup failed"
grep -q '"rdata":\["192.0.2.99"\]' <<<"$answer" && grep -q '"sensor_id":"pkgtest-lo"' <<<"$answer" \
  || { cat "$work/sensor.log" >&2; fail "the captured answer is not on the server: $answer"; }
ok "the sensor captured a DNS answer on lo (promiscuous, CAP_NET_RAW only) and shipped it to the server"
check_trace "$work/sensor.strace" "$sensor_unit"

stop "$serve_pid" "$serve_job" 60
grep -q 'stopped' "$work/serve.log" || { cat "$work/serve.log" >&2; fail "the server did not report a clean stop"; }
ok "SIGTERM stops the server cleanly"
check_trace "$work/serve.strace" "$serve_unit"

# --- API keys where the configuration and the container put them --------------------------------
keys=/var/lib/dnsledger/keys.toml
step "the container's command line without its key file: must refuse to start"
if as_dnsledger / -all env DNSLEDGER_KEYS_FILE="$keys" /usr/bin/dnsledger serve \
  --config /etc/dnsledger/dnsledger.toml --listen 0.0.0.0:8053 >"$work/nokeys.log" 2>&1; then
  fail "the server started on 0.0.0.0 without a key file"
fi
grep -q "$keys" "$work/nokeys.log" || { cat "$work/nokeys.log" >&2; fail "the refusal does not name $keys"; }
ok "without $keys the container's command refuses to start: $(tail -1 "$work/nokeys.log")"

token=$(as_dnsledger /var/lib/dnsledger -all /usr/bin/dnsledger key add pkgtest --keys-file "$keys" 2>"$work/key.log") \
  || { cat "$work/key.log" >&2; fail "dnsledger key add as the dnsledger user"; }
[ -n "$token" ] || fail "dnsledger key add printed no token"

step "the server again, on the same store, with $keys"
start "$work/serve2.strace" "$work/serve2.log" / -all /usr/bin/dnsledger serve \
  --config /etc/dnsledger/dnsledger.toml --listen "127.0.0.1:$port" --keys-file "$keys"
serve_job=$job serve_pid=$pid
wait_healthy || { cat "$work/serve2.log" >&2; fail "the server did not restart"; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/lookup/rrset/name/pkgtest.example.")
[ "$code" = 401 ] || [ "$code" = 403 ] || fail "a lookup without a key answered $code, not 401 or 403"
lookup pkgtest.example. -H "X-API-Key: $token" | grep -q '"rdata":\["192.0.2.77"\]' \
  || fail "the ingested record did not survive a restart"
lookup pkgtest-sensor.example. -H "X-API-Key: $token" | grep -q '"rdata":\["192.0.2.99"\]' \
  || fail "the captured record did not survive a restart"
ok "both records survive a restart; with the key file a lookup without a key is refused ($code)"
token2=$(as_dnsledger /var/lib/dnsledger -all /usr/bin/dnsledger key add pkgtest2 --keys-file "$keys" 2>"$work/key.log") \
  || { cat "$work/key.log" >&2; fail "dnsledger key add pkgtest2"; }
$SUDO kill -HUP "$serve_pid"
code=000
for _ in $(seq 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $token2" "$url/api/v1/lookup/rrset/name/pkgtest.example.")
  [ "$code" = 200 ] && break
  sleep 0.1
done
[ "$code" = 200 ] || fail "a key added before SIGHUP was still refused ($code) 2 s after it"
ok "SIGHUP (systemctl reload) makes a new key valid at once"
stop "$serve_pid" "$serve_job" 60
$SUDO test -s "$keys.usage" || fail "the server did not save the key usage to $keys.usage"
ok "the server reads $keys and saves its usage counters beside it"
others=$($SUDO find /var/lib/dnsledger ! -user dnsledger)
[ -z "$others" ] || fail "files in /var/lib/dnsledger not owned by dnsledger: $others"
ok "everything in /var/lib/dnsledger belongs to dnsledger"

# --- purge --------------------------------------------------------------------------------------
# enablement links as `systemctl enable` makes them (on files only, whether or not systemd runs)
$SUDO systemctl --root=/ --quiet enable dnsledger.service dnsledger-sensor@lo.service \
  || fail "systemctl --root=/ enable dnsledger.service dnsledger-sensor@lo.service"
[ -L /etc/systemd/system/multi-user.target.wants/dnsledger-sensor@lo.service ] \
  || fail "systemctl enable made no link for dnsledger-sensor@lo.service"

step "apt-get purge dnsledger"
installed=0
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q dnsledger >"$work/purge.log" 2>&1 \
  || { cat "$work/purge.log" >&2; fail "apt-get purge failed"; }
grep -q 'purge: deleting /var/lib/dnsledger' "$work/purge.log" || fail "purge did not say it deletes the data"
[ "$(dpkg-query -W -f='${db:Status-Status}' dnsledger 2>/dev/null || echo not-installed)" = not-installed ] \
  || fail "dpkg still knows dnsledger"
for f in /usr/bin/dnsledger /etc/dnsledger /var/lib/dnsledger /lib/systemd/system/dnsledger.service \
  /lib/systemd/system/dnsledger-sensor@.service /usr/share/man/man1/dnsledger.1.gz /usr/share/doc/dnsledger \
  /usr/share/bash-completion/completions/dnsledger /usr/lib/dnsledger; do
  [ ! -e "$f" ] || fail "$f is still there after purge"
done
links=$(find /etc/systemd/system -name 'dnsledger*')
[ -z "$links" ] || fail "purge left $links"
! getent passwd dnsledger >/dev/null || fail "the dnsledger user is still there after purge"
! getent group dnsledger >/dev/null || fail "the dnsledger group is still there after purge"
ok "purged: files, data, enablement links, user and group are gone"

echo "package-test: $passed passed, 0 failed"
