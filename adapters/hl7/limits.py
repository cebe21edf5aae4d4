"""What an MLLP listener lets in: who may connect, how many at once, for how long, over TLS.

The defaults need no settings: any address, 64 connections and 8 from one address, 300 s without
a whole message, no TLS. A connection refused or closed by a limit is counted by why
(`CLOSED_WHY`); nothing here does I/O but reading the certificate files named.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Why a connection was refused or closed: its address is not allowed, the listener already
#: holds `max_connections`, or `max_connections_per_address` from its address, its TLS handshake
#: failed, no whole message came for `idle_timeout` seconds (idle, trickling bytes, or frames
#: holding no message), or it did not read its ACKs for that long.
CLOSED_WHY = ("not_allowed", "over_cap", "over_address_cap", "tls_failed", "idle", "slow_reader")

#: Connections the kernel completes and queues for the listener to accept (asyncio's default is
#: 100). Beyond its queue the kernel drops a connect's SYN, and the sender waits 1, 3, 7 s for
#: its retries: in a flood of connections, or while the listener is busy, a sender's reconnect
#: would wait seconds, and the listener could not close the connections over its cap at once.
ACCEPT_BACKLOG = 1024


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The listener's connection limits; `allow` empty means any address.

    `max_connections_per_address` keeps one address from taking every place (why 8:
    docs/decisions.md); above `max_connections` it changes nothing.
    """

    idle_timeout: float = 300.0
    max_connections: int = 64
    allow: tuple[Network, ...] = ()
    tls: ssl.SSLContext | None = None
    max_connections_per_address: int = 8

    def __post_init__(self) -> None:
        if self.idle_timeout <= 0 or self.max_connections < 1:
            raise ValueError("the idle timeout must be positive and the cap at least 1")
        if self.max_connections_per_address < 1:
            raise ValueError("the cap per address must be at least 1")

    @property
    def clients_certified(self) -> bool:
        """Whether only clients with a certificate the client CA signed may connect."""
        return self.tls is not None and self.tls.verify_mode == ssl.CERT_REQUIRED

    def permits(self, host: str) -> bool:
        """Whether a peer at `host` may connect (an IPv4-mapped IPv6 address as its IPv4)."""
        if not self.allow:
            return True
        address = peer_address(host)
        return address is not None and any(address in network for network in self.allow)


def peer_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a peer's `host` names, without an IPv6 zone; an IPv4-mapped IPv6 address
    (`::ffff:10.1.2.3`, how a dual-stack socket shows an IPv4 peer) as its IPv4. None if `host`
    is not an address."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def networks(given: Iterable[str]) -> tuple[Network, ...]:
    """CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`, or one address); ValueError names a bad one."""
    found = []
    for block in given:
        try:
            found.append(ipaddress.ip_network(block.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{block!r} is not an address or CIDR block") from None
    return tuple(found)


def server_tls(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context; with `client_ca`, clients must present a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
