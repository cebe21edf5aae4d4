#!/usr/bin/env bash
# The test command: static checks, then every test. Integration tests start a real Kafka broker
# and a real PostgreSQL through fixtures and fail (never skip) when they cannot.
# pytest runs in parallel processes (pytest-xdist), each with its own broker: 2 on CI (its 2
# cores), else one per core up to 4 (each has a broker of 512 MB heap); PYTEST_WORKERS or a later `-n`
# in the arguments overrides it (`-n 0`: one process). Arguments go to pytest (`-k`, paths...).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
# The suite starts some 450 Python processes (workers, APIs, their children, CLIs): each would
# compile flowsight's modules again without the bytecode cache an environment may switch off.
# The caches go in __pycache__ folders, which git ignores.
unset PYTHONDONTWRITEBYTECODE

echo "== ruff"
"$BIN/ruff" check . && "$BIN/ruff" format --check . || exit 1
# mypy and bandit each use one core for half a minute: they run beside the tests, whose first
# minutes wait on brokers and workers starting, and report once the tests are done.
static=$(mktemp -d)
trap 'rm -rf "$static"' EXIT
( "$BIN/mypy" >"$static/mypy" 2>&1; echo $? >"$static/mypy.status" ) &
( "$BIN/bandit" -q -c pyproject.toml -r . >"$static/bandit" 2>&1; echo $? >"$static/bandit.status" ) &
echo "== pytest (mypy --strict and bandit beside it)"
if [ -n "${CI:-}" ]; then default_workers=2; else default_workers=$(( $(nproc) < 4 ? $(nproc) : 4 )); fi
workers=${PYTEST_WORKERS:-$default_workers}
# loadfile: each module (and the fault campaign's modules together: tests/conftest.py) runs whole in
# one process, in conftest's order (slow ones first) rather than xdist's reordering by size.
"$BIN/pytest" --durations=15 -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
code=$?
wait
echo "== mypy --strict (the whole flowsight namespace)"
cat "$static/mypy"
echo "== bandit"
cat "$static/bandit"
if [ "$(cat "$static/mypy.status")" != 0 ] || [ "$(cat "$static/bandit.status")" != 0 ]; then
  echo "the static checks failed (above)" >&2
  exit 1
fi
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$code"
