#!/usr/bin/env bash
# Folio scaled out on one machine, all on 127.0.0.1: nginx in front of TWO gunicorn instances (each with
# gunicorn.conf.py), an RQ worker for mail + payments, one for reports + imports, one scheduler (rq cron), on
# the PostgreSQL and Redis named by DATABASE_URL and REDIS_URL. Migrations run once, before the instances.
#
#   deploy/topology.sh start|stop|status        (make topology = start)
#
# Settings (environment): DATABASE_URL, REDIS_URL (required); TOPOLOGY_PORT (nginx, default 8080);
# TOPOLOGY_APP_PORTS (one gunicorn instance per port, default "8001 8002"); TOPOLOGY_DIR (pids, logs, the
# generated nginx.conf; default instance/topology); FOLIO_CONFIG (default development: the offline payment
# gateway, http on loopback); SECRET_KEY (default: one generated once into the run directory, the SAME for
# every instance, so a session cookie from one is good on the other); FOLIO_WEB_WORKERS per instance.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${TOPOLOGY_DIR:-$ROOT/instance/topology}"
PORT="${TOPOLOGY_PORT:-8080}"
APP_PORTS="${TOPOLOGY_APP_PORTS:-8001 8002}"
BIN="${FOLIO_BIN:-$ROOT/.venv/bin}"
NGINX="${NGINX:-/usr/sbin/nginx}"

say() { echo "topology: $*" >&2; }

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# Every process here is started in a session of its own (setsid): its pid is its process group, so stopping
# it stops its children too (a gunicorn master and its workers).
launch() {
  local name=$1; shift
  setsid "$@" >>"$RUN/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
}

names() {
  local i=1
  for _ in $APP_PORTS; do echo "web$i"; i=$((i + 1)); done
  echo worker-mail-payments worker-reports-imports scheduler
}

check_settings() {
  [ -n "${DATABASE_URL:-}" ] || { say "set DATABASE_URL (PostgreSQL)"; exit 2; }
  # SQLite is refused: the point is several processes writing at once (two app servers, workers), which a
  # SQLite file serialises (and answers "database is locked" under a checkout rush). `make run` is the
  # single-process demo on SQLite.
  case "$DATABASE_URL" in
    postgres://*|postgresql://*|postgresql+psycopg://*) ;;
    *) say "DATABASE_URL must be PostgreSQL (several app servers and workers write at once; SQLite cannot" \
           "serve that). For a one-process demo on SQLite use \`make run\`."; exit 2 ;;
  esac
  [ -n "${REDIS_URL:-}" ] || { say "set REDIS_URL (a Redis every process shares: queues, rate limits)"; exit 2; }
  [ -x "$NGINX" ] || { say "no nginx at $NGINX (apt-get install nginx)"; exit 2; }
}

wait_http() {  # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { say "$1 did not answer within $2 s (logs in $RUN)"; return 1; }
    sleep 0.2
  done
}

start() {
  check_settings
  mkdir -p "$RUN/nginx-tmp"
  for name in $(names) nginx; do
    if alive "$name"; then say "$name is already running (deploy/topology.sh stop first)"; exit 1; fi
  done
  if [ -z "${SECRET_KEY:-}" ]; then
    [ -s "$RUN/secret_key" ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$RUN/secret_key"
    SECRET_KEY="$(cat "$RUN/secret_key")"
  fi
  export SECRET_KEY DATABASE_URL REDIS_URL
  export FOLIO_CONFIG="${FOLIO_CONFIG:-development}"
  export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$PORT}"
  export TRUSTED_PROXIES=1  # nginx is the one hop whose X-Forwarded-For / -Proto the app believes
  export PATH="$BIN:$PATH"
  cd "$ROOT"

  say "migrations (once, before any instance starts)"
  "$BIN/flask" --app wsgi db upgrade >>"$RUN/release.log" 2>&1 || { say "migrations failed: $RUN/release.log"; exit 1; }

  local i=1 upstreams=""
  for port in $APP_PORTS; do
    FOLIO_BIND="127.0.0.1:$port" launch "web$i" "$BIN/gunicorn" -c "$ROOT/gunicorn.conf.py" wsgi:app
    upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
    i=$((i + 1))
  done
  launch worker-mail-payments "$BIN/flask" --app wsgi worker email default
  launch worker-reports-imports "$BIN/flask" --app wsgi worker reports
  launch scheduler "$BIN/rq" cron --url "$REDIS_URL" --path . jobs/cron.py

  sed -e "s|@RUN@|$RUN|g" -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$PORT|g" "$ROOT/deploy/topology.nginx.conf" \
    | awk -v up="$upstreams" '{ if ($0 == "@UPSTREAMS@") printf "%s", up; else print }' >"$RUN/nginx.conf"
  "$NGINX" -t -q -p "$RUN" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf"
  "$NGINX" -p "$RUN" -e "$RUN/nginx-error.log" -c "$RUN/nginx.conf"  # daemonizes; pid in $RUN/nginx.pid

  for port in $APP_PORTS; do wait_http "http://127.0.0.1:$port/healthz" 60; done
  wait_http "http://127.0.0.1:$PORT/healthz" 10
  say "Folio on http://127.0.0.1:$PORT (nginx) -> gunicorn on $APP_PORTS; workers, scheduler; logs in $RUN"
}

stop() {
  if [ -f "$RUN/nginx.pid" ]; then
    kill -QUIT "$(cat "$RUN/nginx.pid")" 2>/dev/null || true
  fi
  for name in $(names); do
    if alive "$name"; then kill -TERM -- "-$(cat "$RUN/$name.pid")" 2>/dev/null || true; fi
  done
  local deadline=$((SECONDS + 35))  # gunicorn's graceful_timeout is 30 s
  for name in $(names) nginx; do
    while alive "$name" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if alive "$name"; then kill -KILL -- "-$(cat "$RUN/$name.pid")" 2>/dev/null || kill -KILL "$(cat "$RUN/$name.pid")" || true; fi
    rm -f "$RUN/$name.pid"
  done
  say "stopped"
}

status() {
  local down=0
  for name in nginx $(names); do
    if alive "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; down=1; fi
  done
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then
    echo "http://127.0.0.1:$PORT/healthz: ok"
  else
    echo "http://127.0.0.1:$PORT/healthz: no answer"; down=1
  fi
  return $down
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
