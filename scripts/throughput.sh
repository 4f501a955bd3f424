#!/usr/bin/env bash
# Check-in throughput of one instance on PostgreSQL + Redis (the shared local servers, a
# database and key prefix of its own), measured by two clients: the independent storm
# (../shared/tools/storm.sh: wrk replaying pre-signed plaintext pushes) and `vanguard
# loadtest`, at each connection count, RUNS times each, on a fresh database every run.
# Prints each run's rate, p99 and the CPU per callback of the service, PostgreSQL and
# Redis (pidstat, from Debian's sysstat).
#
# Usage: scripts/throughput.sh [RUNS=3] [CONNS="64 128"] [MEMBERS=60000] [DURATION=10s]
# Needs: wrk and sysstat (apt-get install wrk sysstat), python3 (a virtual environment with
# wechatpy is made under $STORM_VENV), the release binary (built here).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-3}
conns=${2:-"64 128"}
members=${3:-60000}
duration=${4:-10s}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vanguard-target}"
venv=${STORM_VENV:-/var/tmp/vg-storm-venv}
storm=${STORM:-../shared/tools/storm.sh}
port=18090
url="http://127.0.0.1:$port"
token=THROUGHPUTTOKEN

if [ ! -x "$venv/bin/python3" ] || ! "$venv/bin/python3" -c 'import wechatpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q wechatpy cryptography
fi
[ -n "${THROUGHPUT_NO_BUILD:-}" ] || cargo build -q --release --bin vanguard
bin="$CARGO_TARGET_DIR/release/vanguard"
work=$(mktemp -d)
# The load generator under another name, so pidstat tells it from the service.
cp "$bin" "$work/vg-client"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export VANGUARD__LIVE__BACKEND=redis
export VANGUARD__LIVE__REDIS_URL=redis://127.0.0.1:6379
export VANGUARD__LOG__LEVEL=warn
export VANGUARD__WECHAT__TOKEN=$token
export VANGUARD__CHECKIN__SLOT_SECONDS=600
export VANGUARD__SERVER__LISTEN="127.0.0.1:$port"

# CPU seconds per command name over the pidstat samples in $1, per callback ($2).
cpu_per_callback() {
  awk -v n="$2" '
    $1 ~ /^[0-9]/ && $NF ~ /^(vanguard|postgres|redis-server)$/ { cpu[$NF] += $(NF-2) }
    END { for (c in cpu) printf "%s %.3f ms  ", c, cpu[c] / 100 * 1000 / (n > 0 ? n : 1); print "" }' "$1"
}

fresh() {
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS vg_throughput WITH (FORCE)" >/dev/null
  psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE vg_throughput" >/dev/null
  export VANGUARD__DATABASE__URL="postgres://postgres@127.0.0.1:5432/vg_throughput?sslmode=disable"
  export VANGUARD__LIVE__KEY_PREFIX="vgtp:$RANDOM$RANDOM:"
  "$bin" migrate >/dev/null 2>&1
  "$bin" demo --members "$members" > "$work/demo.json" 2>/dev/null
  "$bin" serve >> "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

for c in $conns; do
  for r in $(seq 1 "$runs"); do
    fresh
    pidstat -u -C 'vanguard|postgres|redis-server' 1 > "$work/pidstat.txt" 2>/dev/null &
    ps_pid=$!
    out=$(PYTHON="$venv/bin/python3" "$storm" "$token" "$work/demo.json" "$members" "$c" "$duration" "$url" 2>&1)
    kill "$ps_pid"; wait "$ps_pid" 2>/dev/null || true
    rate=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
    counted=$(printf '%s\n' "$out" | awk '/^counted/ {print $2}')
    secs=${duration%s}
    n=$(awk -v r="$rate" -v s="$secs" 'BEGIN { printf "%d", r * s }')
    echo "storm.sh   c=$c run $r: $rate callbacks/s  p99 $p99  counted $counted  cpu/callback: $(cpu_per_callback "$work/pidstat.txt" "$n")"
    stop
  done
  for r in $(seq 1 "$runs"); do
    fresh
    pidstat -u -C 'vanguard|postgres|redis-server' 1 > "$work/pidstat.txt" 2>/dev/null &
    ps_pid=$!
    "$work/vg-client" loadtest --demo "$work/demo.json" --members "$members" --concurrency "$c" \
      --url "$url" --json > "$work/loadtest.json" 2>/dev/null || true
    kill "$ps_pid"; wait "$ps_pid" 2>/dev/null || true
    read -r rate p99 reqs ok < <(python3 -c "import json;d=json.load(open('$work/loadtest.json'));print(round(d['requests_per_second']), d['latency_ms']['p99'], d['requests'], d['lost']==0 and d['duplicated']==0)")
    echo "loadtest   c=$c run $r: $rate callbacks/s  p99 ${p99}ms  none lost or twice: $ok  cpu/callback: $(cpu_per_callback "$work/pidstat.txt" "$reqs")"
    stop
  done
done
