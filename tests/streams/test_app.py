"""create_app wires the agents to their topics and tables; nothing connects until it runs."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from rocksdict import Options, Rdict

from flowsight.adapters.kafka.producer import key_partitioner
from flowsight.adapters.readmodel.database import create_engine
from flowsight.services.validation import ValidationContext
from flowsight.settings import Settings
from flowsight.streams.app import FlowApp, create_app
from flowsight.streams.metrics import WorkerMetrics
from flowsight.streams.sink import ReadModelSink
from flowsight.streams.store import OldChangelogKeys
from tests.streams.conftest import CATALOGUE


def _flow(settings: Settings, context: ValidationContext) -> FlowApp:
    metrics = WorkerMetrics()
    sink = ReadModelSink(create_engine("sqlite+aiosqlite:///:memory:"), CATALOGUE, metrics)
    return create_app(settings, context, sink, metrics)


def test_each_agent_reads_its_topics_one_event_at_a_time(
    settings: Settings, context: ValidationContext
) -> None:
    flow = _flow(settings, context)

    assert set(flow.validator.channel.topics) == {
        settings.ingest_topic(code) for code in CATALOGUE.organisation_codes
    }
    assert list(flow.tracker.channel.topics) == [settings.events_topic]
    # One actor per agent: a patient's events are folded in the order they were read.
    assert (flow.validator.concurrency, flow.tracker.concurrency) == (1, 1)
    assert (flow.journeys.name, flow.capacity.name) == ("journeys", "capacity")
    assert flow.journeys.use_partitioner and flow.capacity.use_partitioner
    # The tables' changelogs are partitioned as the events topic, by the same partitioner.
    assert flow.app.conf.producer_partitioner is key_partitioner


def test_the_worker_joins_its_group_as_a_static_member_named_by_its_settings(
    settings: Settings, context: ValidationContext
) -> None:
    named = settings.model_copy(update={"worker_id": "flowsight-worker-0"})

    flow = _flow(named, context)

    # A restarted member with the same id takes its partitions back without a rebalance.
    assert flow.app.conf.consumer_group_instance_id == "flowsight-worker-0"


def test_a_patient_s_table_rows_are_keyed_as_their_events_so_share_their_partition(
    settings: Settings, context: ValidationContext
) -> None:
    flow = _flow(settings, context)
    pseudonym = "3f2a9c"  # the events topic's key is the pseudonym's bytes (the validator's)

    for table in (flow.journeys, flow.capacity):
        key = flow.app.serializers.dumps_key(str, pseudonym, serializer=table.key_serializer)
        assert key == pseudonym.encode()


async def test_a_changelog_written_with_json_keys_stops_the_worker_with_the_remedy(
    settings: Settings, context: ValidationContext
) -> None:
    flow = _flow(settings, context)
    old = SimpleNamespace(message=SimpleNamespace(key=b'"3f2a9c"', value=b"[]", partition=0))

    with pytest.raises(OldChangelogKeys, match="flowsight rebuild"):
        flow.journeys.apply_changelog_batch([old])
    await flow.journeys.crashing  # faust's recovery would only log it and try again

    assert isinstance(flow.app.crash_reason, OldChangelogKeys)


def test_a_local_store_written_with_json_keys_stops_the_worker_with_the_remedy(
    settings: Settings, context: ValidationContext, tmp_path: Path
) -> None:
    on_disk = settings.model_copy(update={"state_store": "rocksdb://", "data_dir": tmp_path})
    store = _flow(on_disk, context).journeys.data
    path = store.partition_path(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    earlier = Rdict(str(path), Options(raw_mode=True))  # a store an earlier flowsight wrote
    earlier[b'"3f2a9c"'] = b"[]"
    earlier.close()

    with pytest.raises(OldChangelogKeys, match="journeys partition 0 on disk"):
        store._db_for_partition(0)


def test_the_worker_s_tables_folder_on_a_new_data_folder_is_its_owner_s_alone(
    settings: Settings, context: ValidationContext, tmp_path: Path
) -> None:
    # RocksDB writes the tables (pseudonyms, episodes, dates) readable by anyone: the folders
    # above them must not be.
    data = tmp_path / "var"
    flow = _flow(settings.model_copy(update={"data_dir": data}), context)
    folder = Path(flow.app.conf.datadir)
    assert folder.is_dir()
    while folder != tmp_path:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        folder = folder.parent
