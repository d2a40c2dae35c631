#!/usr/bin/env bash
# Stop the test OAuth2 server started by start.sh (by its pid file).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PIDFILE=server.pid
if [ ! -f "$PIDFILE" ]; then
  echo "stop.sh: no $PIDFILE, nothing to stop" >&2
  exit 0
fi

pid="$(cat "$PIDFILE")"
rm -f "$PIDFILE" url.txt
case "$pid" in
  ''|*[!0-9]*) echo "stop.sh: bad pid '$pid' in $PIDFILE" >&2; exit 1 ;;
esac

# Only signal the process if it is still our node server.
if ! kill -0 "$pid" 2>/dev/null; then
  echo "stop.sh: process $pid already gone" >&2
  exit 0
fi
if ! grep -q 'server.mjs' "/proc/$pid/cmdline" 2>/dev/null; then
  echo "stop.sh: pid $pid is not the oauth server, not killing it" >&2
  exit 0
fi

kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do
  kill -0 "$pid" 2>/dev/null || { echo "stop.sh: stopped $pid" >&2; exit 0; }
  sleep 0.1
done
kill -KILL "$pid" 2>/dev/null || true
echo "stop.sh: killed $pid" >&2
