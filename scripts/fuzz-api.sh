#!/usr/bin/env bash
# Fuzz the HTTP API with schemathesis against its own OpenAPI document (/api/openapi.json),
# once per staff role, each role on a fresh database seeded by `vanguard demo`.
# Checks: no 5xx, every status and content type the document declares, response bodies
# matching their schemas. Operations that end the caller's own login or freeze data
# (logout, password change/reset, account changes, year close) and the live stream
# (a never-ending response) are left out.
#
# Usage: scripts/fuzz-api.sh [sqlite|postgres] [EXAMPLES_PER_OPERATION=25]
#   short pass (CI):  scripts/fuzz-api.sh sqlite 20 ; scripts/fuzz-api.sh postgres 20
#   long pass:        scripts/fuzz-api.sh sqlite 500 ; scripts/fuzz-api.sh postgres 500
# Needs: python3 (a virtual environment with schemathesis is made under $FUZZ_VENV),
# the debug binary (built here), and for postgres a local server (user postgres, trust)
# plus Redis on 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:-sqlite}
examples=${2:-25}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/vanguard-target}"
venv=${FUZZ_VENV:-/var/tmp/vg-st-venv}
st_version=4.32.5

if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$st_version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$st_version"
fi

cargo build -q --bin vanguard
bin="$CARGO_TARGET_DIR/debug/vanguard"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# Tokens live for the whole run; cheap hashing; the sandbox plays WeChat.
export VANGUARD__AUTH__ACCESS_TTL_SECONDS=86400
export VANGUARD__LOG__LEVEL=error

# FUZZ_ROLES="secretary auditor" runs only those.
read -r -a roles <<< "${FUZZ_ROLES:-admin secretary auditor security_admin recorder}"
failed=0
for role in "${roles[@]}"; do
  case "$backend" in
    sqlite)
      export VANGUARD__DATABASE__URL="sqlite://$work/$role.db?mode=rwc"
      export VANGUARD__LIVE__BACKEND=memory
      ;;
    postgres)
      db="vg_fuzz_${role}_$$"
      psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null
      psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $db" >/dev/null
      export VANGUARD__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
      export VANGUARD__LIVE__BACKEND=redis
      export VANGUARD__LIVE__REDIS_URL=redis://127.0.0.1:6379
      export VANGUARD__LIVE__KEY_PREFIX="vgfuzz:$role:$$:"
      ;;
    *) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
  esac
  port=$(free_port)
  export VANGUARD__SERVER__LISTEN="127.0.0.1:$port"
  base="http://127.0.0.1:$port"

  "$bin" --config config/test.toml migrate >/dev/null
  "$bin" --config config/test.toml demo --members 30 > "$work/demo.json"
  if [ "$role" = admin ]; then
    token=$(python3 -c "import json;print(json.load(open('$work/demo.json'))['admin_token'])")
  else
    if ! out=$("$bin" --config config/test.toml admin create "fuzz-$role" --role "$role" --org DEMO 2>&1); then
      echo "== $role: no such role here, skipped ($out)"
      continue
    fi
    password=$(printf '%s\n' "$out" | sed -n 's/^initial password: //p')
    token=""
  fi

  "$bin" --config config/test.toml serve > "$work/server-$role.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

  if [ -z "$token" ]; then
    token=$(python3 scripts/fuzz_login.py "$base" "fuzz-$role" "$password")
  fi

  echo "== schemathesis: $role on $backend, $examples examples per operation"
  # Run from the scratch directory: schemathesis keeps a cache where it runs.
  if ! (cd "$work" && "$venv/bin/schemathesis" run "$base/api/openapi.json" \
      -H "Authorization: Bearer $token" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --exclude-path-regex '/auth/(logout|password)$|/accounts/\{account_id\}(/reset-password)?$|/years/\{year\}/close$|/live$' \
      --max-examples "$examples" --seed 20261204 --workers 1 \
      --suppress-health-check all --request-timeout 10 --no-color \
      --report junit --report-junit-path "$work/junit-$role.xml"); then
    failed=1
    echo "== $role: server log tail"; tail -n 20 "$work/server-$role.log"
  fi
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [ "$backend" = postgres ]; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS vg_fuzz_${role}_$$ WITH (FORCE)" >/dev/null || true
  fi
done
exit $failed
