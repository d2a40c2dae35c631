#!/usr/bin/env bash
# Start the oidc-provider test OAuth2 server in the background.
#
# Env passed through to server.mjs: PORT (default 0 = any free port),
# TOKEN_TTL (client_credentials access-token lifetime in seconds, default 8).
# START_TIMEOUT: seconds to wait for readiness (default 30).
#
# On success prints exactly one line on stdout:
#   OAUTH_SERVER_URL=http://127.0.0.1:<port>
# and writes the same line to url.txt next to this script, so a harness can do
#   eval "$(tests/oauth-server/start.sh)"; export OAUTH_SERVER_URL
# The server log goes to server.log, its pid to server.pid; stop with stop.sh.
# Exits non-zero (printing the log to stderr) if the server does not come up.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

LOG=server.log
PIDFILE=server.pid
URLFILE=url.txt
timeout_s="${START_TIMEOUT:-30}"

if ! command -v node >/dev/null 2>&1; then
  echo "start.sh: node is not installed" >&2
  exit 1
fi

if [ ! -d node_modules/oidc-provider ]; then
  echo "start.sh: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

# A stale instance from an earlier run would hold its pid file: stop it.
if [ -f "$PIDFILE" ]; then
  ./stop.sh >&2 || true
fi
rm -f "$URLFILE"

# NODE_ENV is deliberately left unset/development: this is a loopback-only,
# plain-http test server with an in-memory store (see README.md).
if [ "${NODE_ENV:-}" = "production" ]; then
  unset NODE_ENV
fi

nohup node server.mjs >"$LOG" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$PIDFILE"

deadline=$(( $(date +%s) + timeout_s ))
url=""
while :; do
  url="$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$LOG" | head -n1)"
  if [ -n "$url" ]; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start.sh: oauth server exited before it was ready; log:" >&2
    cat "$LOG" >&2
    rm -f "$PIDFILE"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "start.sh: oauth server not ready after ${timeout_s}s; log:" >&2
    cat "$LOG" >&2
    kill "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
    exit 1
  fi
  sleep 0.1
done

echo "OAUTH_SERVER_URL=$url" >"$URLFILE"
echo "start.sh: oauth server pid $pid, token endpoint $url/token, log $(pwd)/$LOG" >&2
echo "OAUTH_SERVER_URL=$url"
