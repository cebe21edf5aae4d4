"""The local broker's classes loaded from a class-data-sharing archive (the JDK's dynamic CDS).

A broker start parses and verifies some thousands of classes from Kafka's jars; mapped from an
archive instead, a start takes under half the CPU (docs/benchmarks.md, twenty-ninth round), and
a test session starts a dozen brokers on two cores. The archive is made by the first broker that
stops cleanly without one (the JVM writes the classes it loaded as it exits) and kept in the
Kafka cache, one per Java installation. A JVM the archive does not fit (jars or Java changed)
says so in its output and starts without it; a Java without these options ignores them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

#: Java 11 knows neither archive option and would refuse to start.
IGNORE_UNKNOWN = "-XX:+IgnoreUnrecognizedVMOptions"


class ClassArchive:
    """The archive of the brokers run from one Kafka cache (`directory`), and what a broker of
    one data dir is writing (`record`, so that `stop` from another process keeps it too)."""

    def __init__(self, directory: Path, record: Path) -> None:
        self.path = directory / f"broker-{_java_identity()}.jsa"
        self.record = record

    def mapped(self) -> list[str]:
        """The JVM options that map the archive; none while there is no archive."""
        return [IGNORE_UNKNOWN, f"-XX:SharedArchiveFile={self.path}"] if self.path.is_file() else []

    def options(self) -> list[str]:
        """The JVM options of a broker's start: map the archive, or write one as it exits."""
        if mapping := self.mapped():
            self.record.unlink(missing_ok=True)
            return mapping
        # A name of its own: brokers of other data dirs may be writing theirs at the same time.
        part = self.path.with_name(f"{self.path.stem}.{uuid.uuid4().hex[:12]}.part")
        self.record.write_text(f"{part}\n")
        return [IGNORE_UNKNOWN, f"-XX:ArchiveClassesAtExit={part}"]

    def keep(self, *, exited_cleanly: bool) -> None:
        """After the broker is gone: the archive it wrote becomes the one later starts map, unless
        it was killed (a file it may have left half-written is removed)."""
        try:
            part = Path(self.record.read_text().strip())
        except OSError:
            return
        self.record.unlink(missing_ok=True)
        if exited_cleanly and part.is_file() and part.stat().st_size > 0:
            os.replace(part, self.path)  # atomic: a start never maps a file being written
        else:
            part.unlink(missing_ok=True)


def _java_identity() -> str:
    """A short name for the `java` on PATH: an archive fits only the JVM that wrote it."""
    java = shutil.which("java")
    if java is None:
        return "none"
    real = Path(java).resolve()
    stat = real.stat()
    return hashlib.sha256(f"{real}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
