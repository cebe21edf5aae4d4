"""An HL7 v2 sender as a trust's integration engine behaves: it sends an ADT message over MLLP,
reads the ACK and sends the same message again until the listener accepts it. It asks for an
accept acknowledgement only (MSH-15 AL, MSH-16 NE: enhanced mode), so the listener answers CA once
Kafka has the message and CE or CR when it could not take it (docs/integration-hl7.md)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from flowsight.schemas.events import PatientIdentity
from flowsight.services.pseudonym import pseudonymise
from flowsight.settings import Settings

START, END = b"\x0b", b"\x1c\x0d"
#: An answer that the message is stored (original mode AA; enhanced mode's commit accept CA),
#: and the answers that it is not and must be sent again.
ACCEPTED, REFUSED = ("AA", "CA"), ("AE", "AR", "CE", "CR")
#: A valid NHS number (Modulus 11) outside the simulated city's.
NHS_NUMBER = "9434765919"


def _hl7_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def admission(at: datetime, control: str) -> bytes:
    """An ADT^A01 (admission) as a PAS sends it."""
    segments = [
        f"MSH|^~\\&|PAS|RR8|FLOWSIGHT|LEEDS|{_hl7_time(at)}||ADT^A01^ADT_A01|{control}|P|2.5"
        "|||AL|NE|GBR|UNICODE UTF-8",
        f"EVN|A01|{_hl7_time(at)}|||CLERK^Clerk^Anne|{_hl7_time(at)}",
        f"PID|1||RR8FAULT1^^^RR8^MR~{NHS_NUMBER}^^^NHS^NH||Fault^Test||19450312|F",
        f"PV1|1|I|WARD7^BAY2^BED3^RR8|E|||C1234567^Jones^Sarah^^^Dr|||GMED||||19|||"
        f"C1234567^Jones^Sarah^^^Dr||FAULT-{control}^^^RR8^VN",
    ]
    return START + ("\r".join(segments) + "\r").encode() + END


class MllpSender:
    """One admission, sent until accepted; the codes of every answer kept."""

    def __init__(self, port: int, settings: Settings) -> None:
        self.port = port
        self.message = admission(datetime.now(UTC) - timedelta(minutes=1), "FAULT0001")
        self.pseudonym = pseudonymise(
            PatientIdentity(nhs_number=NHS_NUMBER), settings.pseudonym_secret
        )
        self.answers: list[str] = []

    async def send(self) -> str:
        """Send the message once; the ACK's code (CA, CE, CR), or the connection's failure."""
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as error:
            return type(error).__name__
        try:
            writer.write(self.message)
            await writer.drain()
            raw = await asyncio.wait_for(reader.readuntil(END), 60)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            return type(error).__name__
        finally:
            writer.close()
        for segment in raw.strip(START + END).decode(errors="replace").split("\r"):
            if segment.startswith("MSA|"):
                return segment.split("|")[1]
        return "no MSA"

    async def send_while(self, until: float) -> list[str]:
        """Send again and again until the monotonic clock reaches `until`; the answers."""
        answers = []
        while time.monotonic() < until:
            answers.append(await self.send())
            await asyncio.sleep(1.0)
        self.answers.extend(answers)
        return answers

    async def until_accepted(self, within: float) -> None:
        """Send until the listener accepts it, as the sender's engine retries."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            answer = await self.send()
            self.answers.append(answer)
            if answer in ACCEPTED:
                return
            await asyncio.sleep(2.0)
        raise TimeoutError(f"the MLLP listener did not accept within {within:.0f}s")
