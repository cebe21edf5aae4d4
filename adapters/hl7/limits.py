"""What an MLLP listener lets in: who may connect, how many at once, for how long, over TLS.

The defaults need no settings: any address, 64 connections, 300 s without a whole message, no
TLS. A connection refused or closed by a limit is counted by why (`CLOSED_WHY`); nothing here
does I/O but reading the certificate files named.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Why a connection was refused or closed: its address is not allowed, the listener already
#: holds `max_connections`, its TLS handshake failed, no whole message came for `idle_timeout`
#: seconds (idle, or trickling bytes), or it did not read its ACKs for that long.
CLOSED_WHY = ("not_allowed", "over_cap", "tls_failed", "idle", "slow_reader")

#: Connections the kernel completes and queues for the listener to accept (asyncio's default is
#: 100). Beyond its queue the kernel drops a connect's SYN, and the sender waits 1, 3, 7 s for
#: its retries: in a flood of connections, or while the listener is busy, a sender's reconnect
#: would wait seconds, and the listener could not close the connections over its cap at once.
ACCEPT_BACKLOG = 1024


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The listener's connection limits; `allow` empty means any address."""

    idle_timeout: float = 300.0
    max_connections: int = 64
    allow: tuple[Network, ...] = ()
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.idle_timeout <= 0 or self.max_connections < 1:
            raise ValueError("the idle timeout must be positive and the cap at least 1")

    def permits(self, host: str) -> bool:
        """Whether a peer at `host` may connect (an IPv4-mapped IPv6 address as its IPv4)."""
        if not self.allow:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allow)


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
