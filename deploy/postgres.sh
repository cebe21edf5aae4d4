#!/usr/bin/env bash
# Local PostgreSQL from Debian's packages, no Docker: deploy/postgres.sh start|stop|status [--port N ...]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Prefer the project's venv so asyncpg and flowsight import without activating anything.
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python=python3
cd "$repo"
exec "$python" -m flowsight.local.postgres "$@"
