#!/usr/bin/env bash
# Faults mid-storm: two instances on their own PostgreSQL (initdb in a temporary directory,
# port 55432) and Redis (port 56379), never the shared ones, take a scan storm of N distinct
# members with resends and double scans while Redis is stopped and started, then while
# PostgreSQL is restarted, then while the second instance is killed with SIGKILL. The load
# generator retries as WeChat does (3 times, 5 s apart; after "系统繁忙" the member scans
# again), then checks: every member told "checked in" has exactly one check-in and its
# ledger posting, nobody has two, and a member stored without hearing so is confirmed by a
# resend. It prints each count and exits 1 when one is off.
#
# Usage: scripts/chaos.sh [MEMBERS=100000] [postgres|sqlite]   (about 3 minutes; not in .ci/run)
# On sqlite both instances share one database file, each with its in-process live store
# (so de-duplication across them rests on the database's unique keys alone); the one
# fault that applies there is the SIGKILL.
# Needs: Debian's PostgreSQL server binaries and redis-server (both on this machine).
set -euo pipefail
cd "$(dirname "$0")/.."

members=${1:-100000}
backend=${2:-postgres}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vanguard-target}"
pg_port=55432
redis_port=56379
port_a=18080
port_b=18081

profile=${CHAOS_PROFILE:-release}   # CHAOS_PROFILE=debug reuses the test build
if [ -z "${CHAOS_NO_BUILD:-}" ]; then
  if [ "$profile" = release ]; then cargo build -q --release --bin vanguard; else cargo build -q --bin vanguard; fi
fi
bin="$CARGO_TARGET_DIR/$profile/vanguard"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
work=$(mktemp -d /var/tmp/vg-chaos.XXXXXX)
chmod 755 "$work"
pids=()

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_ctl() { as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" "$@"; }
redis_start() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
}
redis_stop() { redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$backend" = postgres ]; then
    redis_stop
    pg_ctl stop -m immediate >/dev/null 2>&1 || true
  fi
  if [ -n "${CHAOS_KEEP:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
stamp() { echo "[$(date +%H:%M:%S)] $*"; }

if [ "$backend" = postgres ]; then
  mkdir -p "$work/pg"
  # PostgreSQL runs as postgres: its data, log and socket live here.
  [ "$(id -u)" = 0 ] && chown -R postgres "$work"
  as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
  pg_ctl -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200" -w start >/dev/null
  as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres vanguard
  redis_start
  export VANGUARD__DATABASE__URL="postgres://postgres@127.0.0.1:$pg_port/vanguard?sslmode=disable"
  export VANGUARD__LIVE__BACKEND=redis
  export VANGUARD__LIVE__REDIS_URL="redis://127.0.0.1:$redis_port"
else
  export VANGUARD__DATABASE__URL="sqlite://$work/vanguard.db?mode=rwc"
  export VANGUARD__LIVE__BACKEND=memory
fi
"$bin" migrate >/dev/null
stamp "seeding $members demo members"
"$bin" demo --members "$members" > "$work/demo.json"

serve() { VANGUARD__SERVER__LISTEN="127.0.0.1:$1" "$bin" serve >> "$work/instance-$1.log" 2>&1 & pids+=($!); }
serve "$port_a"; pid_a=${pids[-1]}
serve "$port_b"; pid_b=${pids[-1]}
for p in "$port_a" "$port_b"; do
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
done

stamp "storm: $members members over :$port_a and :$port_b, 128 in flight, WeChat retries"
"$bin" loadtest --demo "$work/demo.json" --members "$members" --concurrency 128 \
  --retries 3 --retry-delay-seconds 5 \
  --url "http://127.0.0.1:$port_a" --url "http://127.0.0.1:$port_b" > "$work/loadtest.out" &
storm=$!

if [ "$backend" = postgres ]; then
  sleep 5;  stamp "fault: Redis stopped";          redis_stop
  sleep 8;  stamp "fault over: Redis started";     redis_start
  sleep 5;  stamp "fault: PostgreSQL restarting";  pg_ctl -m fast -w restart >/dev/null; stamp "PostgreSQL back"
fi
sleep 5;  stamp "fault: instance :$port_b killed (SIGKILL)"; kill -9 "$pid_b" || true
sleep 10; stamp "instance :$port_b restarted";   serve "$port_b"

status=0
wait "$storm" || status=$?
stamp "storm ended (exit $status)"
cat "$work/loadtest.out"
echo "instance log lines at error level: $(cat "$work"/instance-*.log | grep -c '"level":"ERROR"' || true)"
exit "$status"
