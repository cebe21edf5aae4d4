"""`flowsight up` says why a part it started ended: the end of that part's log, which is not on
the screen (each part logs to its own file). A part that ends once everything runs is started
again, as a service manager would; one that keeps ending stops everything."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from flowsight.adapters.catalogue import load_catalogue
from flowsight.settings import Settings
from flowsight.stack import RESTARTS, Stack


def test_a_part_that_exits_is_named_with_the_end_of_its_log(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, environment="local", data_dir=tmp_path)  # type: ignore[call-arg]
    stack = Stack(settings, Console(file=None), load_catalogue(settings.catalogue_path))
    log = tmp_path / "logs" / "api.log"
    log.parent.mkdir()
    log.write_text("starting\nERROR: [Errno 98] error while attempting to bind on address\n")
    stack.children["api"] = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    stack.children["api"].wait()

    with pytest.raises(RuntimeError) as ended:
        stack._check_children()

    said = str(ended.value)
    assert "`flowsight api` exited with status 3" in said
    assert str(log) in said and "[Errno 98]" in said  # it said "see its log above": nothing was


def exited(code: int) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    child.wait()
    return child


def test_a_part_that_exits_while_running_is_started_again_until_it_keeps_exiting(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, environment="local", data_dir=tmp_path)  # type: ignore[call-arg]
    screen = io.StringIO()
    stack = Stack(
        settings, Console(file=screen, width=200), load_catalogue(settings.catalogue_path)
    )
    stack.env = {"FLOWSIGHT_ENVIRONMENT": "local"}
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "worker.log").write_text("KafkaConnectionError: connection reset\n")
    stack.children["api"] = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started: list[tuple[str, dict[str, str]]] = []

    def spawn(name: str, env: dict[str, str]) -> None:
        started.append((name, env))
        stack.children[name] = exited(1)  # and it ends again

    stack._spawn = spawn  # type: ignore[method-assign]
    stack.children["worker"] = exited(1)
    try:
        for _ in range(RESTARTS):
            stack._tend()
        assert started == [("worker", stack.env)] * RESTARTS  # the API, running, left alone
        said = screen.getvalue()
        assert "`flowsight worker` exited with status 1" in said
        assert "connection reset" in said and f"starting worker again (1 of {RESTARTS}" in said

        with pytest.raises(RuntimeError) as ended:
            stack._tend()
        assert f"started again {RESTARTS} times" in str(ended.value)
        assert len(started) == RESTARTS
    finally:
        stack.children["api"].kill()
        stack.children["api"].wait()
