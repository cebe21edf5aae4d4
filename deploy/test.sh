#!/usr/bin/env bash
# The test command: static checks, then every test. Integration tests start a real Kafka broker
# and a real PostgreSQL through fixtures and fail (never skip) when they cannot.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin

echo "== ruff"
"$BIN/ruff" check . && "$BIN/ruff" format --check . || exit 1
echo "== mypy --strict (the whole flowsight namespace)"
"$BIN/mypy" || exit 1
echo "== bandit"
"$BIN/bandit" -q -c pyproject.toml -r . || exit 1
echo "== pytest"
"$BIN/pytest" --durations=15 "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$code"
