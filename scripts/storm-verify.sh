#!/usr/bin/env bash
# One storm run (../shared/tools/storm.sh's steps) that keeps the storm file, then checks the
# session's attendance count against the distinct members in the part of the file wrk sent
# (completed requests, and with the C requests still in flight). Run after
# scripts/throughput.sh (it builds the release binary and the wechatpy venv).
# Usage: scripts/storm-verify.sh [CONNS=64] [MEMBERS=60000] [DURATION=10s]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-64}; members=${2:-60000}; duration=${3:-10s}
bin="${CARGO_TARGET_DIR:-/var/tmp/vanguard-target}/release/vanguard"
venv=${STORM_VENV:-/var/tmp/vg-storm-venv}
tools=$(readlink -f ../shared/tools)
port=18190; url="http://127.0.0.1:$port"; token=THROUGHPUTTOKEN
export VANGUARD__LIVE__BACKEND=redis VANGUARD__LIVE__REDIS_URL=redis://127.0.0.1:6379 VANGUARD__LOG__LEVEL=warn
export VANGUARD__WECHAT__TOKEN=$token VANGUARD__CHECKIN__SLOT_SECONDS=600 VANGUARD__SERVER__LISTEN="127.0.0.1:$port"
psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS vg_verify WITH (FORCE)" >/dev/null
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE vg_verify" >/dev/null
export VANGUARD__DATABASE__URL="postgres://postgres@127.0.0.1:5432/vg_verify?sslmode=disable"
export VANGUARD__LIVE__KEY_PREFIX="vgv:$RANDOM$RANDOM:"
w=$(mktemp -d)
"$bin" migrate >/dev/null 2>&1
"$bin" demo --members "$members" > "$w/demo.json" 2>/dev/null
"$bin" serve >> "$w/server.log" 2>&1 & server=$!
for _ in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
read session atoken < <($venv/bin/python3 -c "import json;d=json.load(open('$w/demo.json'));print(d['session_id'],d['admin_token'])")
scene=$(curl -fsS -H "Authorization: Bearer $atoken" "$url/api/v1/sessions/$session/qr" | $venv/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["scene"])')
$venv/bin/python3 "$tools/storm.py" "$token" x x "$scene" "$members" "$w/storm.txt" >/dev/null
STORM=$w/storm.txt wrk -t1 -c"$conns" -d"$duration" --latency -s "$tools/storm.lua" "$url" > "$w/wrk.txt"
sleep 2
counted=$(curl -fsS -H "Authorization: Bearer $atoken" "$url/api/v1/sessions/$session/attendance" | $venv/bin/python3 -c 'import json,sys;c=json.load(sys.stdin)["counts"];print(c.get("on_time",0)+c.get("late",0))')
kill $server; wait $server 2>/dev/null || true
rm -rf "$w/demo.json"
grep -E "Requests/sec|requests in|99%|Non-2xx" "$w/wrk.txt"
K=$(awk '/requests in/ {print $1}' "$w/wrk.txt")
$venv/bin/python3 - "$w/storm.txt" "$K" "$counted" "$conns" <<'PY'
import sys,re
lines=open(sys.argv[1]).read().splitlines(); k=int(sys.argv[2]); counted=int(sys.argv[3]); c=int(sys.argv[4])
def who(l):
    m=re.search(r'<FromUserName><!\[CDATA\[(.*?)\]\]>',l); return m.group(1) if m else None
def distinct(n): return len({who(l) for l in lines[:n]})
print(f"completed requests {k}; distinct members in the first {k} lines {distinct(k)}, in the first {k+c} (with the {c} in flight) {distinct(k+c)}; attendance counted {counted}")
PY
