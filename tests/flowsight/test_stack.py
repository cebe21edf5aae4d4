"""`flowsight up` says why a part it started ended: the end of that part's log, which is not on
the screen (each part logs to its own file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from flowsight.adapters.catalogue import load_catalogue
from flowsight.settings import Settings
from flowsight.stack import Stack


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
