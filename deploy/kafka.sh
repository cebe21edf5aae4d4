#!/usr/bin/env sh
# deploy/kafka.sh start|stop|status — the local, Docker-free Kafka broker (flowsight.local.kafka).
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" -m flowsight.local.kafka "$@"
