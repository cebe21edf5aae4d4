# One image for every flowsight process: `flowsight api` by default; the same image runs
# `flowsight worker`, `flowsight db upgrade` and `flowsight simulate` given as the command.

FROM python:3.11-slim AS build
# A compiler in this stage only: faust-streaming ships no wheels for arm64, so its C extensions
# build from source there; the runtime image copies the finished venv and no build tools.
# Unpinned on purpose (DL3008): pinned Debian versions vanish from the mirror at each point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/venv/bin/pip install -r requirements.txt
COPY . .
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/flowsight --help > /dev/null

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
COPY --from=build /opt/venv /opt/venv
# The settings look for the catalogue beside the source tree, which a wheel install does not
# have, so the image keeps deploy/ at /app/deploy and points the settings at it.
WORKDIR /app
COPY deploy/ /app/deploy/
RUN groupadd --system --gid 10001 flowsight \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/flowsight flowsight \
    && install -d -m 0700 -o flowsight -g flowsight /var/lib/flowsight
# Production unless told otherwise: the image refuses to start without API keys (or an OIDC
# issuer) and a pseudonym key, and never serves anonymous callers.
ENV FLOWSIGHT_ENVIRONMENT=production \
    FLOWSIGHT_CATALOGUE_PATH=/app/deploy/catalogue/leeds.yaml \
    FLOWSIGHT_DATA_DIR=/var/lib/flowsight \
    FLOWSIGHT_API_HOST=0.0.0.0 \
    FLOWSIGHT_WORKER_METRICS_HOST=0.0.0.0 \
    FLOWSIGHT_LOG_FORMAT=json
# Numeric, so an orchestrator can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
# 8000: the API and its /metrics; 6067: the worker's Prometheus metrics.
EXPOSE 8000 6067
CMD ["flowsight", "api"]
