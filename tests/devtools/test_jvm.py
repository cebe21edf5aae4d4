"""The local broker's class archive: written by a broker that exits cleanly, kept for the next
start, never kept from a broker that was killed (its file may be half-written)."""

from __future__ import annotations

from pathlib import Path

from flowsight.devtools.local.jvm import IGNORE_UNKNOWN, ClassArchive


def written_by_the_jvm(options: list[str]) -> Path:
    """The file a JVM given `options` writes its classes to as it exits; written here."""
    (dump,) = [o.split("=", 1)[1] for o in options if o.startswith("-XX:ArchiveClassesAtExit=")]
    Path(dump).write_bytes(b"classes")
    return Path(dump)


def test_the_archive_a_clean_exit_wrote_is_mapped_by_the_next_start(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path, tmp_path / "data" / "kafka.jsa-part")
    archive.record.parent.mkdir()
    written_by_the_jvm(archive.options())
    archive.keep(exited_cleanly=True)
    assert archive.path.read_bytes() == b"classes"
    assert archive.options() == [IGNORE_UNKNOWN, f"-XX:SharedArchiveFile={archive.path}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["data", archive.path.name])


def test_a_killed_broker_leaves_no_archive(tmp_path: Path) -> None:
    archive = ClassArchive(tmp_path, tmp_path / "kafka.jsa-part")
    dump = written_by_the_jvm(archive.options())
    archive.keep(exited_cleanly=False)
    assert not dump.exists() and not archive.path.exists()
    assert any(o.startswith("-XX:ArchiveClassesAtExit=") for o in archive.options())


def test_brokers_writing_at_once_write_files_of_their_own(tmp_path: Path) -> None:
    first = ClassArchive(tmp_path, tmp_path / "one.jsa-part")
    second = ClassArchive(tmp_path, tmp_path / "two.jsa-part")
    assert written_by_the_jvm(first.options()) != written_by_the_jvm(second.options())
    second.keep(exited_cleanly=True)
    first.keep(exited_cleanly=True)
    assert archive_files(tmp_path) == [first.path.name]


def archive_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())
