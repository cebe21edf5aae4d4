"""The MLLP listener's limits (issue 13, items 4 and 6): an idle timeout that trickled bytes do
not reset, a connection cap, an address allowlist, TLS with optional client certificates, known
character sets only, and refusal logs that never quote a field's value."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import select
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flowsight.adapters.hl7.limits import ConnectionLimits, networks, peer_address, server_tls
from tests.adapters.hl7.listening import (
    START,
    adt,
    closed,
    closed_by_peer,
    err,
    exchange,
    listening,
    msa,
)
from tests.adapters.notify.receivers import self_signed_certificate


async def test_an_idle_connection_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    async with listening(tmp_path, limits=ConnectionLimits(idle_timeout=0.5)) as (listener, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        assert await closed_by_peer(reader, within=5)
        writer.close()
        assert closed(listener, "idle") == 1


async def test_bytes_trickled_without_a_whole_message_do_not_keep_a_connection(
    tmp_path: Path,
) -> None:
    async with listening(tmp_path, limits=ConnectionLimits(idle_timeout=0.6)) as (listener, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(START)
        for byte in adt()[:30]:  # a byte every 0.1 s: never idle, never a message
            writer.write(bytes([byte]))
            await asyncio.sleep(0.1)
        assert await closed_by_peer(reader, within=2)
        writer.close()
        assert closed(listener, "idle") == 1
        # A sender that finishes its messages is served however long it stays.
        (reply,) = await exchange(listener.port, adt("OK"))
        assert msa(reply) == ("AA", "OK")


async def test_a_connection_over_the_cap_is_closed_at_once_and_counted(tmp_path: Path) -> None:
    async with listening(tmp_path, limits=ConnectionLimits(max_connections=2)) as (listener, _):
        held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(2)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        assert await closed_by_peer(reader, within=1)
        writer.close()
        assert closed(listener, "over_cap") == 1
        for _, other in held:
            other.close()
            await other.wait_closed()
        await asyncio.sleep(0.1)
        (reply,) = await exchange(listener.port, adt("AFTER"))
        assert msa(reply) == ("AA", "AFTER")


def _connected_within(port: int, connections: int, seconds: float) -> int:
    """Of `connections` connects to `port` started at once, how many completed in `seconds`."""
    sockets = [socket.socket() for _ in range(connections)]
    try:
        for each in sockets:
            each.setblocking(False)
            each.connect_ex(("127.0.0.1", port))
        deadline, done = time.monotonic() + seconds, set()
        while len(done) < connections and (left := deadline - time.monotonic()) > 0:
            _, ready, _ = select.select([], [s for s in sockets if s not in done], [], left)
            done.update(s for s in ready if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        return len(done)
    finally:
        for each in sockets:
            each.close()


async def test_a_flood_of_connects_while_the_listener_is_busy_all_complete_at_once(
    tmp_path: Path,
) -> None:
    """300 connects at once while the listener's loop is held: every one completes within 0.9 s,
    queued by the kernel for the listener (which then closes those over its cap at once). With
    asyncio's default queue of 100, 199 of them waited for their SYN to be sent again, a second
    after the first."""
    async with listening(tmp_path) as (listener, _):
        with ThreadPoolExecutor(1) as pool:
            flood = pool.submit(_connected_within, listener.port, 300, 0.9)
            time.sleep(1.5)  # noqa: ASYNC251 - the listener's loop held: it accepts nothing
            assert flood.result() == 300


async def test_an_address_outside_the_allowlist_is_refused(tmp_path: Path) -> None:
    elsewhere = ConnectionLimits(allow=networks(["10.0.0.0/8", "2001:db8::/32"]))
    async with listening(tmp_path, limits=elsewhere) as (listener, publisher):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"\x0b" + adt() + b"\x1c\r")
        assert await closed_by_peer(reader, within=1)
        writer.close()
        assert closed(listener, "not_allowed") == 1 and publisher.published == []
    loopback = ConnectionLimits(allow=networks(["127.0.0.0/8"]))
    async with listening(tmp_path, limits=loopback) as (listener, _):
        (reply,) = await exchange(listener.port, adt("IN"))
        assert msa(reply) == ("AA", "IN")


def test_allowlist_entries_are_cidr_blocks_or_addresses() -> None:
    assert networks(["10.1.2.3", "192.168.0.0/16"]) == (
        ipaddress.ip_network("10.1.2.3/32"),
        ipaddress.ip_network("192.168.0.0/16"),
    )
    limits = ConnectionLimits(allow=networks(["10.0.0.0/8"]))
    assert limits.permits("10.9.8.7") and limits.permits("::ffff:10.9.8.7")
    assert not limits.permits("11.0.0.1") and not limits.permits("not an address")
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33'")):
        networks(["10.0.0.0/33"])


def test_a_peer_counts_as_its_address_an_ipv4_mapped_one_as_its_ipv4() -> None:
    # What the cap per address counts by, as the allowlist reads it.
    ipv4 = ipaddress.ip_address("10.9.8.7")
    assert peer_address("10.9.8.7") == peer_address("::ffff:10.9.8.7") == ipv4
    assert peer_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert peer_address("not an address") is None
    assert ConnectionLimits().max_connections_per_address == 8
    with pytest.raises(ValueError, match="the cap per address must be at least 1"):
        ConnectionLimits(max_connections_per_address=0)


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """The listener's certificate and key, and a client's (self-signed: its own CA)."""
    (tmp_path / "server").mkdir()
    (tmp_path / "client").mkdir()
    return (
        *self_signed_certificate(tmp_path / "server"),
        *self_signed_certificate(tmp_path / "client"),
    )


async def test_over_tls_a_sender_is_served_and_a_plain_one_is_closed(
    tmp_path: Path, certificates: tuple[Path, Path, Path, Path]
) -> None:
    cert, key, _, _ = certificates
    limits = ConnectionLimits(tls=server_tls(cert, key), idle_timeout=2)
    async with listening(tmp_path, limits=limits) as (listener, _):
        client = ssl.create_default_context(cafile=cert)
        (reply,) = await exchange(listener.port, adt("TLS"), ssl=client)
        assert msa(reply) == ("AA", "TLS")
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"\x0b" + adt() + b"\x1c\r")
        assert await closed_by_peer(reader, within=5)
        writer.close()
        assert closed(listener, "tls_failed") == 1


async def test_with_a_client_ca_only_senders_with_its_certificate_are_served(
    tmp_path: Path, certificates: tuple[Path, Path, Path, Path]
) -> None:
    cert, key, client_cert, client_key = certificates
    limits = ConnectionLimits(tls=server_tls(cert, key, client_cert), idle_timeout=2)
    async with listening(tmp_path, limits=limits) as (listener, _):
        known = ssl.create_default_context(cafile=cert)
        known.load_cert_chain(client_cert, client_key)
        (reply,) = await exchange(listener.port, adt("KNOWN"), ssl=known)
        assert msa(reply) == ("AA", "KNOWN")
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await exchange(
                listener.port, adt("STRANGER"), ssl=ssl.create_default_context(cafile=cert)
            )
        await asyncio.sleep(0.1)
        assert closed(listener, "tls_failed") == 1


async def test_an_idna_message_is_refused_once_never_published(tmp_path: Path) -> None:
    # Before: IDNA published the event, then failed encoding the ACK and dead-lettered it too.
    async with listening(tmp_path) as (listener, publisher):
        punycode, idna, good = await exchange(
            listener.port, adt("P", charset="PUNYCODE"), adt("I", charset="IDNA"), adt("G")
        )
    assert [msa(punycode), msa(idna), msa(good)] == [("AR", "P"), ("AR", "I"), ("AA", "G")]
    assert err(idna, 2) == "MSH^1^18^1" and err(idna, 5) == "hl7_unsupported_character_set"
    assert [event["episode_id"] for event in publisher.published] == ["SPELL-G"]
    assert [headers["reason"] for _, headers in publisher.dead] == [
        "hl7_unsupported_character_set"
    ] * 2


async def test_refusal_logs_name_reason_field_and_control_id_never_a_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="flowsight.hl7")
    secret_time = "19450312PATIENTDOB"
    bad = re.sub(rb"EVN\|[^\r]*", f"EVN|A01||||x|{secret_time}".encode(), adt("BADTIME"))
    async with listening(tmp_path) as (listener, _):
        (reply,) = await exchange(listener.port, bad)
    assert msa(reply)[0] == "AE" and secret_time in err(reply, 8), "the sender is told"
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and "BADTIME" in refusals[0] and "EVN-6" in refusals[0]
    assert secret_time not in caplog.text


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key together"),
        (["--tls-client-ca", "ca.pem"], "--tls-cert and --tls-key together"),
        (["--tls-cert", "no.pem", "--tls-key", "no.key"], "cannot load the TLS certificate"),
        (["--allow", "10.0.0.0/33"], "'10.0.0.0/33' is not an address or CIDR block"),
        (["--max-connections", "0"], "the cap at least 1"),
        (["--max-connections-per-address", "0"], "the cap per address must be at least 1"),
        (["--idle-timeout", "0"], "idle timeout must be positive"),
    ],
)
def test_listen_refuses_bad_limits_before_it_starts(options: list[str], said: str) -> None:
    from typer.testing import CliRunner

    from flowsight.cli.hl7 import hl7_app

    result = CliRunner().invoke(hl7_app, ["listen", "--organisation", "RR8", *options])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])  # the network, not loopback
def test_listen_on_the_network_needs_an_allowlist_or_client_certificates(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It took unauthenticated messages from anyone: a forged A03 emptied a ward's list.
    from typer.testing import CliRunner

    from flowsight.cli.hl7 import hl7_app

    monkeypatch.setenv("FLOWSIGHT_ENVIRONMENT", "local")
    options = ["listen", "--organisation", "RR8", "--service", "lth-wards", "--host", host]
    result = CliRunner().invoke(hl7_app, options)
    assert result.exit_code == 2, result.output
    assert "would take messages from anyone" in " ".join(result.output.split())


async def test_time_spent_handling_a_message_does_not_count_as_idle(tmp_path: Path) -> None:
    async with listening(tmp_path, limits=ConnectionLimits(idle_timeout=0.5)) as (listener, kafka):
        slow_publish = kafka.publish

        async def slowly(organisation: str, events: Any) -> None:
            await asyncio.sleep(0.8)  # a slow broker: longer than the idle timeout
            await slow_publish(organisation, events)

        kafka.publish = slowly  # type: ignore[method-assign]
        replies = await exchange(listener.port, adt("S1"), adt("S2"))
    assert [msa(reply) for reply in replies] == [("AA", "S1"), ("AA", "S2")]
    assert closed(listener, "idle") == 0


async def test_a_message_published_with_a_default_is_logged_with_its_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No admission type in PV1-4: admitted as an emergency, which an operator should see.
    message = adt("W1").replace(b"^BED3^RR8|E|", b"^BED3^RR8||")
    with caplog.at_level("INFO", logger="flowsight.hl7"):
        async with listening(tmp_path) as (listener, publisher):
            (reply,) = await exchange(listener.port, message)

    assert msa(reply) == ("AA", "W1")
    assert [event["admission_method"] for event in publisher.published] == ["emergency"]
    [line] = [r for r in caplog.records if "published as admission" in r.getMessage()]
    assert line.levelname == "WARNING"
    assert "PV1-4: no admission type; taken as 'emergency'" in line.getMessage()
    assert "9434765919" not in caplog.text
