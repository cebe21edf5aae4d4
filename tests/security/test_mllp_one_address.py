"""One address holds at most 8 of the MLLP listener's places (64 by default): before, one host
could open all of them, and every other sending system was closed as it connected."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.adapters.hl7.listening import (
    adt,
    closed,
    closed_by_peer,
    exchange,
    framed,
    holding,
    listening,
    msa,
)


async def test_a_ninth_connection_from_one_address_is_closed_and_other_addresses_are_served(
    tmp_path: Path,
) -> None:
    async with listening(tmp_path) as (listener, _):  # the default limits
        held = [await asyncio.open_connection("127.0.0.1", listener.port) for _ in range(8)]
        await holding(listener, 8)
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        assert await closed_by_peer(reader, within=5), "the ninth is closed as it opens"
        writer.close()
        assert closed(listener, "over_address_cap") == 1 and closed(listener, "over_cap") == 0

        # Another sending system is served, and so are the first address's eight.
        (reply,) = await exchange(listener.port, adt("ELSEWHERE"), source="127.0.0.2")
        assert msa(reply) == ("AA", "ELSEWHERE")
        first_reader, first_writer = held[0]
        first_writer.write(framed(adt("HELD")))
        reply = await asyncio.wait_for(first_reader.readuntil(b"\x1c\r"), 10)
        assert msa(reply[1:-2]) == ("AA", "HELD")

        # A place given back is the address's again.
        first_writer.close()
        await holding(listener, 7)
        (reply,) = await exchange(listener.port, adt("AGAIN"))
        assert msa(reply) == ("AA", "AGAIN")
        assert closed(listener, "over_address_cap") == 1
        for _, other in held[1:]:
            other.close()
