#!/usr/bin/env bash
# make demo's auto-sync part: serve what Clever serves after cedar's newest night (a Clever-managed
# district) through the local stand-in Data API, pull it into the store as a snapshot of origin api, stop the stand-in,
# reconcile.
#
#   scripts/demo_api.sh ROSTERLAB STORE
#
# ROSTERLAB is the command (e.g. .venv/bin/rosterlab); the store already holds cedar's nights.
# DEMO_API_CONFIG (default notebooks/sample-api.toml) names the [api.standin] target and
# DEMO_API_PORT (default 8765) the port it points at. The token is ROSTERLAB_DEMO_TOKEN.
set -euo pipefail
rosterlab=$1
store=$2
config=${DEMO_API_CONFIG:-notebooks/sample-api.toml}
port=${DEMO_API_PORT:-8765}
district=cedar
export ROSTERLAB_DEMO_TOKEN=${ROSTERLAB_DEMO_TOKEN:-demo-token}

# cedar's nights are hand exports of a Clever-managed district: what its SIS held each night.
# Clever holds an auto sync's significant change as it holds an SFTP upload's (docs/api.md,
# "Holds on auto syncs"), so the stand-in serves Clever's live state (no --as-is): while the
# newest night is held, the newest night Clever applied before it.
# The newest night cedar exported (not an earlier pull: `make demo` may run again).
upload=$($rosterlab --store "$store" snapshots --district "$district" |
  awk '$1 ~ /^[0-9]+$/ && $6 != "api" { id = $1 } END { print id }')
if [ -z "$upload" ]; then
  echo "the store has no $district night to serve: ingest data/samples/$district first" >&2
  exit 1
fi

log=$(mktemp)
$rosterlab --store "$store" api serve --district "$district" --snapshot "$upload" \
  --port "$port" --token-env ROSTERLAB_DEMO_TOKEN >"$log" 2>&1 &
server=$!
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
}
trap stop EXIT

# Whether the stand-in answers an authorised request with 200 (plain bash: no client needed).
answers() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET /v3.1/districts HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n' \
    "$ROSTERLAB_DEMO_TOKEN" >&3
  local status=
  read -r -t 5 status <&3 || true
  exec 3<&- 3>&-
  [[ $status == HTTP/1.?" 200 "* ]]
}

# Wait until it answers (at most 30 s).
answered=
for _ in $(seq 300); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the stand-in did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  if (answers) 2>/dev/null; then
    answered=yes
    break
  fi
  sleep 0.1
done
if [ -z "$answered" ]; then
  echo "the stand-in on 127.0.0.1:$port did not answer within 30 s" >&2
  exit 1
fi
head -n 1 "$log"

$rosterlab --store "$store" --config "$config" api pull --target standin --district "$district"
stop
trap - EXIT
$rosterlab --store "$store" reconcile --district "$district"
