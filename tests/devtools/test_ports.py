"""The stages' ports: one handed out is not handed out again while a server may yet bind it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowsight.devtools.bench import harness


def test_a_port_chosen_again_before_its_server_binds_is_passed_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "_CLAIMS", tmp_path)
    first, second = _unbound(2)
    draws: Iterator[int] = iter([first, first, first, second])
    monkeypatch.setattr(harness.secrets, "randbelow", lambda _: next(draws))

    api = harness.free_port()  # a stage's API port: chosen now, bound when the API starts
    listener = harness.free_port()  # then its MLLP listener's, the same draw twice more

    assert (api, listener) == (harness.PORTS.start + first, harness.PORTS.start + second)


def test_a_claim_older_than_any_stage_is_taken_over(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(harness, "_CLAIMS", tmp_path)
    (draw,) = _unbound(1)
    monkeypatch.setattr(harness.secrets, "randbelow", lambda _: draw)
    port = harness.PORTS.start + draw
    (tmp_path / str(port)).touch()
    old = harness.time.time() - harness.CLAIM_SECONDS - 1
    os.utime(tmp_path / str(port), (old, old))

    assert harness.free_port() == port


def _unbound(count: int) -> list[int]:
    """`count` draws whose ports nothing is bound to now (other stages run meanwhile)."""
    found: list[int] = []
    for draw in range(len(harness.PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", harness.PORTS.start + draw))
            except OSError:
                continue
        found.append(draw)
        if len(found) == count:
            return found
    raise RuntimeError("no unbound port")
