"""The faults around the worker: the broker stopped, the read model unavailable, the API restarted
under connected `/v1/stream` clients. Each stage publishes half the events, injects the fault while
the other half streams, and is compared with the uninterrupted run once it has caught up."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from flowsight.api.auth import new_api_key
from flowsight.devtools.bench.harness import Flowsight, free_port, local_kafka
from flowsight.devtools.bench.replay import wait_figures
from flowsight.devtools.faults.inject import locked_sqlite
from flowsight.devtools.faults.mllp import REFUSED, MllpSender
from flowsight.devtools.faults.outcome import Outcome
from flowsight.devtools.faults.stage import Campaign, halves, parts
from flowsight.devtools.faults.stream import (
    Known,
    StreamClient,
    alerts,
    current_scores,
    scores,
)

BROKER = "the broker stopped mid-stream, then restarted"
DATABASE = "the read-model database unavailable mid-stream"
API_RESTART = "the API restarted while `/v1/stream` clients are connected"
PROBLEM_JSON = "application/problem+json"

#: Holds the read model unavailable while entered (an SQLite lock, a stopped cluster).
Outage = Callable[[Path], AbstractContextManager[None]]


def sqlite_outage(directory: Path) -> AbstractContextManager[None]:
    return locked_sqlite(directory / "read-model.db")


@asynccontextmanager
async def own_broker(directory: Path) -> AsyncIterator[Any]:
    """A broker of this fault's own on free ports (stopping the shared one would break others)."""
    kafka = local_kafka(directory, heap="512m")
    await asyncio.to_thread(kafka.start, 180)
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.stop)


async def _probe_while(
    until: float, probe: Callable[[httpx.AsyncClient], Any], statuses: Counter[str]
) -> None:
    """Call `probe` again and again until the monotonic clock reaches `until`; count answers.

    Each call on a new connection: a kept-alive one can be closed by the server's idle timeout
    just as the next call is sent (a reset no server can prevent), which would count here as
    the API failing."""
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30, limits=no_reuse) as client:
        while time.monotonic() < until:
            try:
                response = await probe(client)
                kind = response.headers.get("content-type", "").split(";")[0]
                statuses[f"{response.status_code} {kind}"] += 1
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1
            await asyncio.sleep(1.0)


def _no_500(
    outcome: Outcome, statuses: Counter[str], what: str, refusal: str, *, refused: bool = True
) -> None:
    """Every answer while the fault lasted was a success or a `refusal` problem, never a 500;
    with `refused`, at least one was the refusal."""
    outcome.notes.append(f"{what} answered " + ", ".join(f"{n} x {s}" for s, n in statuses.items()))
    outcome.check(
        all(s.startswith(("2", refusal)) for s in statuses), f"{what} answered other than 2xx/503"
    )
    outcome.check(
        all(s.endswith(PROBLEM_JSON) for s in statuses if s.startswith(refusal)),
        f"a {refusal} of {what} was not problem details",
    )
    if refused:
        outcome.check(
            any(s.startswith(refusal) for s in statuses), f"{what} never answered {refusal}"
        )


async def broker_outage(campaign: Campaign) -> Outcome:
    """Stop the stage's own broker for `plan.broker_outage_seconds` while the producers keep
    sending; the gateway must answer 503 problem details and the MLLP listener CE/CR (the sender
    asks for accept acknowledgements)."""
    outcome = Outcome(BROKER)
    first, second = halves(campaign.events)
    directory = campaign.directory / "broker"
    directory.mkdir(parents=True, exist_ok=True)
    async with own_broker(directory) as kafka:
        catalogue_codes = _organisations(campaign)
        publisher_key, publisher_entry = new_api_key(
            "fault-publisher", [f"publisher:{code}" for code in catalogue_codes]
        )
        async with campaign.stage(
            "broker", bootstrap=kafka.bootstrap, FLOWSIGHT_API_KEYS=publisher_entry
        ) as flowsight:
            mllp_port = free_port()
            flowsight.start("worker")
            flowsight.start("api")
            flowsight.start(
                f"hl7 listen --organisation RR8 --port {mllp_port} --service lth-wards",
                "mllp",
            )
            await flowsight.wait_api()
            sender = MllpSender(mllp_port, flowsight.settings)
            await campaign.stream(flowsight, first)
            headers = {"Authorization": f"Bearer {publisher_key}"}
            sample = first[-1]

            async def post(client: httpx.AsyncClient) -> httpx.Response:
                # An event already published: accepted again, it is absorbed by its event id.
                return await client.post(
                    f"{flowsight.api_url}/v1/events", json=sample, headers=headers
                )

            # Half of the rest streams as the broker stops, the other half after it stopped
            # (each step retried until the broker is back): publishing spans the outage.
            stopping, away = halves(second)
            feed = asyncio.ensure_future(campaign.stream(flowsight, stopping))
            await asyncio.to_thread(kafka.stop)
            campaign.injected(outcome)
            stopped = time.monotonic()

            async def then_the_rest() -> None:
                await feed  # in order, as one source sends them
                await campaign.stream(flowsight, away)

            later = asyncio.ensure_future(then_the_rest())
            statuses: Counter[str] = Counter()
            until = stopped + campaign.plan.broker_outage_seconds
            acks = await asyncio.gather(
                _probe_while(until, post, statuses), sender.send_while(until)
            )
            await asyncio.to_thread(kafka.start, 180)
            outcome.notes.append(f"broker away {time.monotonic() - stopped:.0f} s")
            _no_500(outcome, statuses, "POST /v1/events", "503")
            refused = acks[1]
            outcome.notes.append(
                "MLLP answered " + ", ".join(f"{n} x {c}" for c, n in Counter(refused).items())
            )
            outcome.check(
                bool(refused) and all(code in REFUSED for code in refused),
                "the MLLP listener did not refuse (CE/CR) while Kafka was away",
            )
            await later
            await sender.until_accepted(within=120)
            await campaign.finish("broker", flowsight, outcome)
            _exclude_mllp_patient(campaign, outcome, sender.pseudonym)
    return outcome


def _organisations(campaign: Campaign) -> list[str]:
    return sorted({str(event["source"]).split("/")[0] for event in campaign.events})


def _exclude_mllp_patient(campaign: Campaign, outcome: Outcome, pseudonym: str) -> None:
    """The MLLP sender's patient is not one of the city's: their rows must be there (nothing
    the listener acknowledged was lost), and are left out of the comparison."""
    content = campaign.contents["broker"]
    theirs = sum(1 for rows in content.values() for row in rows if repr(pseudonym) in row)
    outcome.check(theirs > 0, "the event the MLLP listener acknowledged after the outage is lost")
    campaign.contents["broker"] = {
        table: [row for row in rows if repr(pseudonym) not in row]
        for table, rows in content.items()
    }


async def database_outage(
    campaign: Campaign, outage: Outage = sqlite_outage, *, readers_refused: bool = False
) -> Outcome:
    """Hold the read model unavailable for `plan.database_outage_seconds` while events stream:
    the sink must retry and catch up; the API answer 503 problem details, never 500.

    An SQLite lock stops writers only (WAL readers go on), so there the API may answer from the
    last committed state; a stopped PostgreSQL (`readers_refused`) must be answered with 503s.
    The outage outlasts SQLite's 30 s busy timeout, so the sink's writes fail and are retried
    rather than merely wait."""
    outcome = Outcome(DATABASE)
    first, second = halves(campaign.events)
    async with campaign.stage("database") as flowsight:
        flowsight.start("worker")
        flowsight.start("api")
        await flowsight.wait_api()
        await campaign.stream(flowsight, first)
        feed = asyncio.ensure_future(campaign.stream(flowsight, second))
        statuses: Counter[str] = Counter()
        seconds = campaign.plan.database_outage_seconds

        async def get(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get(f"{flowsight.api_url}/v1/services", headers=flowsight.headers)

        def hold() -> None:
            with outage(flowsight.directory):
                time.sleep(seconds)

        held = asyncio.ensure_future(asyncio.to_thread(hold))
        campaign.injected(outcome)
        await asyncio.sleep(1.0)
        await _probe_while(time.monotonic() + seconds - 2, get, statuses)
        await held
        outcome.notes.append(f"database away {seconds:.0f} s")
        _no_500(outcome, statuses, "GET /v1/services", "503", refused=readers_refused)
        await feed
        await campaign.finish("database", flowsight, outcome)
        retries = _sink_retries(flowsight)
        outcome.notes.append(f"sink log: {retries} retried write(s)")
        outcome.check(retries > 0, "the sink never retried a write during the outage")
    return outcome


def _sink_retries(flowsight: Flowsight) -> int:
    return flowsight.log_tail("worker", 10_000_000).count("read-model write failed")


async def api_restart(campaign: Campaign) -> Outcome:
    """Restart the API while clients follow `/v1/stream`, each restart once every client has
    been told of a change; events published while the API is away change scores. Each client
    reconnects with `Last-Event-ID` and must end knowing what the API says, having seen no
    change twice, as must a fresh client resuming after the first change a client saw."""
    outcome = Outcome(API_RESTART)
    plan = campaign.plan
    chunks = parts(campaign.events, plan.api_restarts + 1)
    async with campaign.stage("stream") as flowsight:
        flowsight.start("worker")
        flowsight.start("api")
        await flowsight.wait_api()
        url = f"{flowsight.api_url}/v1/stream"
        clients = [StreamClient(url, flowsight.headers) for _ in range(plan.stream_clients)]
        stop = asyncio.Event()
        following = [asyncio.ensure_future(client.follow(stop)) for client in clients]
        await campaign.stream(flowsight, chunks[0])
        for chunk in chunks[1:]:
            await _each_told_of_a_change(clients, within=60.0)
            # In a thread: the API waits for its stream clients to go, and they must be read.
            await asyncio.to_thread(flowsight.stop, "api")
            await campaign.stream(flowsight, chunk)
            # Scored and published while no API follows the topics.
            await flowsight.wait_caught_up(0, plan.settle_within)
            await wait_figures(flowsight, plan.settle_within)
            flowsight.start("api")
            await flowsight.wait_api()
            campaign.injected(outcome, len(clients))
        await campaign.finish("stream", flowsight, outcome)
        # The last changes reach the clients.
        truth = await _each_knows(clients, url, flowsight.headers, within=15.0)
        stop.set()
        await asyncio.gather(*following)
        fresh = await asyncio.gather(
            *(_fresh_after_first_change(client, url, flowsight.headers) for client in clients)
        )
        for client, resumed in zip(clients, fresh, strict=True):
            _resumed_completely(client, resumed, truth, outcome)
    return outcome


async def _pressure(url: str, headers: dict[str, str]) -> dict[str, Known]:
    """Each scope's pressure as `GET /v1/pressure` says it now."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url.removesuffix("/stream") + "/pressure", headers=headers)
    return current_scores(answer.json())


async def _each_knows(
    clients: list[StreamClient], url: str, headers: dict[str, str], within: float
) -> dict[str, Known]:
    """What `GET /v1/pressure` says, once every client knows it (or `within` passed: the checks
    then tell). Asked again each time: a refresh may move a score while the clients catch up."""
    deadline = time.monotonic() + within
    while True:
        truth = await _pressure(url, headers)
        known = [scores(client.received) for client in clients]
        told = all(k.get(scope) == score for k in known for scope, score in truth.items())
        if told or time.monotonic() > deadline:
            return truth
        await asyncio.sleep(0.2)  # the clients' lists are polled: nothing signals them


async def _each_told_of_a_change(clients: list[StreamClient], within: float) -> None:
    """Wait until every client has been told of one more change (or `within` passed)."""
    told = [len(client.changes) for client in clients]
    deadline = time.monotonic() + within
    for client, before in zip(clients, told, strict=True):
        while len(client.changes) <= before and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # the clients' lists are polled: nothing signals them


async def _fresh_after_first_change(
    client: StreamClient, url: str, headers: dict[str, str]
) -> StreamClient | None:
    """A fresh client resuming after `client`'s first change, read until quiet (None when the
    client saw no change)."""
    if not client.changes:
        return None
    fresh = StreamClient(url, headers, last_id=client.changes[0].id)
    await fresh.read_until_quiet(quiet=3.0, within=30.0)
    return fresh


def _resumed_completely(
    client: StreamClient,
    fresh: StreamClient | None,
    truth: dict[str, Known],
    outcome: Outcome,
) -> None:
    """What a client knows at the end must be what the API says now (`truth`), and a fresh
    client resuming after the client's first change must come to know the same, with every alert
    the client was told of after that change. Compared as what each knows, not as lists of
    events: a resumed stream sends a score only when it differs from what its client knew."""
    changes = client.changes
    outcome.notes.append(
        f"a client: {client.connections} connection(s), {len(client.received)} event(s), "
        f"{len(changes)} with an id"
    )
    known = scores(client.received)
    stale = sorted(scope for scope in truth if known.get(scope) != truth[scope])
    outcome.lost += len(stale)
    outcome.check(not stale, f"a client ended knowing an old score of {', '.join(stale)}")
    ids = [change.id for change in changes]
    twice = sum(count - 1 for count in Counter(ids).values())
    outcome.applied_twice += twice
    outcome.check(not twice, f"a client got {twice} change(s) twice across the restart")
    if fresh is None:
        outcome.notes.append("no change happened after the client's snapshot: nothing to resume")
        return
    first = client.received.index(changes[0])
    outcome.notes.append(
        f"a fresh client resuming after its first change: {len(fresh.received)} event(s), "
        f"{len(fresh.changes)} with an id" + (f", refused {fresh.refused}" if fresh.refused else "")
    )
    resumed = scores([*client.received[: first + 1], *fresh.received])
    differs = sorted(scope for scope in truth if resumed.get(scope) != truth[scope])
    told = alerts(client.received[first + 1 :])
    missed = [alert for alert in told if alert not in alerts(fresh.received)]
    outcome.lost += len(differs) + len(missed)
    outcome.check(
        not differs, f"resuming after the first change left {', '.join(differs)} out of date"
    )
    outcome.check(not missed, f"resuming after the first change missed {len(missed)} alert(s)")
