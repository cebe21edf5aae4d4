#!/usr/bin/env bash
# Installs what flowsight needs on a fresh Debian-like machine: Python 3.11 in a virtualenv with
# the project, and Java 17 + Maven for the local Kafka broker. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "flowsight needs: $*; install them (e.g. sudo apt-get install -y $*) and run again" >&2
    exit 1
  fi
  echo "installing $* with apt-get…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

# The interpreter: $PYTHON when set; else the distribution's own Python 3.11 first, then python3.11
# or python3 on PATH. Debian and Ubuntu build theirs with profile-guided optimisation: flowsight's
# domain core runs about 45 % faster on it than on a build from source without it, as pyenv makes
# by default, and each process starts with about 20 % less CPU (docs/benchmarks.md).
python=""
for candidate in ${PYTHON:-/usr/bin/python3.11 python3.11 python3}; do
  if command -v "$candidate" >/dev/null \
    && [ "$("$candidate" -c 'import sys, ensurepip; print(sys.version_info[:2] == (3, 11))' 2>/dev/null)" = True ]; then
    python=$(command -v "$candidate"); break
  fi
done
if [ -n "${PYTHON:-}" ] && [ -z "$python" ]; then
  echo "PYTHON=$PYTHON is not a Python 3.11 with venv (ensurepip)" >&2
  exit 1
fi
if [ -z "$python" ]; then
  apt_install python3.11 python3.11-venv
  python=$(command -v python3.11)
fi

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV with $python"
  "$python" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --progress-bar off -e ".[dev]"
echo "installed: $("$VENV/bin/flowsight" --help >/dev/null && echo flowsight CLI ok)"
