#!/usr/bin/env bash
# Validate docker-compose.yml without a Docker engine, two ways:
#  1. Compose's own loader (`docker compose config`, else Debian's docker-compose 1.29, installed
#     with apt-get when missing and we are root): interpolation, merge keys, references, options.
#  2. The current Compose Specification JSON schema, the one Compose v2 validates against, with
#     check-jsonschema in a throwaway venv outside the project's.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# Placeholders for the secrets the file requires (${VAR:?}); validation never needs real ones.
export FLOWSIGHT_PSEUDONYM_KEY="${FLOWSIGHT_PSEUDONYM_KEY:-validation-only-placeholder-0123456789abcdef}"
export FLOWSIGHT_POSTGRES_PASSWORD="${FLOWSIGHT_POSTGRES_PASSWORD:-validation-only}"
export FLOWSIGHT_API_KEYS="${FLOWSIGHT_API_KEYS:-validation-only:viewer:0000}"

if docker compose version > /dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose > /dev/null; then
    compose=(docker-compose)
elif [[ $EUID -eq 0 ]] && command -v apt-get > /dev/null; then
    echo "installing Debian's docker-compose to validate with" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose > /dev/null
    compose=(docker-compose)
else
    echo "no compose tool: install the docker compose plugin or run: sudo apt-get install docker-compose" >&2
    exit 2
fi
echo "== ${compose[*]} config ($("${compose[@]}" version --short 2>/dev/null || echo '?'))"
"${compose[@]}" -f docker-compose.yml config -q
echo "ok: services $("${compose[@]}" -f docker-compose.yml config --services | paste -sd ' ')"

venv="${CHECK_COMPOSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/flowsight/check-compose-venv}"
if [[ ! -x "$venv/bin/check-jsonschema" ]]; then
    python3 -m venv "$venv" || { echo "python3 -m venv failed: apt-get install python3-venv" >&2; exit 2; }
    "$venv/bin/pip" install -q --disable-pip-version-check 'check-jsonschema>=0.28'
fi
echo "== check-jsonschema $("$venv/bin/check-jsonschema" --version | awk '{print $NF}') --builtin-schema vendor.compose-spec"
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
