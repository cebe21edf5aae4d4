"""The worker builds no HTTP API: it starts without FastAPI's import (a quarter of a second of
CPU each start; a test run starts some 90 workers)."""

from __future__ import annotations

import subprocess
import sys


def test_the_worker_starts_without_importing_the_api_framework() -> None:
    probe = "import sys, flowsight.worker; print(sorted(m for m in ('fastapi', 'starlette') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
