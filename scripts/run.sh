#!/usr/bin/env bash
# `make run`: migrate, load the demo project, then web + Celery worker + beat; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.dev}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRL_EXPERIMENTAL_SILENCE=1
PORT="${PORT:-8000}"
BIN=.venv/bin

$BIN/python manage.py migrate --noinput -v0
$BIN/python manage.py collectstatic --noinput -v0
$BIN/python manage.py demo

pids=()
stop_all() {
    trap - INT TERM EXIT
    echo "Stopping Prefloop..."
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

$BIN/celery -A config worker -Q default,gpu --concurrency 2 --loglevel INFO &
pids+=($!)
$BIN/celery -A config beat --schedule var/celerybeat-schedule --loglevel INFO &
pids+=($!)
# Ctrl-C reaches gunicorn twice (the terminal's INT, then stop_all's TERM). Now and then one gthread
# worker did not exit and gunicorn waited its default 30 s before killing it; 5 s is plenty for a
# demo's in-flight requests.
$BIN/gunicorn config.wsgi --bind "127.0.0.1:${PORT}" --workers 2 --threads 4 --graceful-timeout 5 \
    --access-logfile - &
pids+=($!)
echo "Prefloop is at http://127.0.0.1:${PORT}/  (Ctrl-C stops web, worker and beat)"
wait -n "${pids[@]}"
