#!/usr/bin/env bash
# Runs the whole suite against real PostgreSQL and Redis (DATABASE_URL, REDIS_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/15}"
export DJANGO_SETTINGS_MODULE=config.settings.test
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRL_EXPERIMENTAL_SILENCE=1
./scripts/ensure_system_packages.sh
./scripts/ensure_chromium.sh
.venv/bin/python scripts/check_services.py
# The whole suite (no arguments) also runs the web UI's unit tests (Vitest).
if [ $# -eq 0 ] && [ -f frontend/package.json ]; then
    (cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && npm test --silent)
fi
exec .venv/bin/python -m pytest "$@"
