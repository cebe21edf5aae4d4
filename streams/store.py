"""The tables' on-disk store: faust's RocksDB store, each write filed under its changelog partition.

faust 0.15's RocksDB store files a table write under the partition of the event being processed
(`Store._set` reads `current_event()`). The tracker writes its tables once per batch, outside any
one event (`stream.take_events`): there is no current event, and every write raised
AssertionError, crashing the agent after the read model was written. An event's partition would
be wrong anyway for our tables: they are keyed by the producer's partitioner on the serialised
key (`use_partitioner`), and a key's changelog records, hence its restore after a rebalance or a
restart, are in that partition. Here a write goes where its changelog record goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import faust
from faust.stores.rocksdb import Store


class ChangelogPartitionedStore(Store):
    """faust's RocksDB store whose writes are filed under the key's changelog partition."""

    def _open_for_partition(self, partition: int) -> Any:
        db = super()._open_for_partition(partition)
        # Keys sort bytewise and a JSON key starts with a quote, before any pseudonym or service
        # id: a store written before the keys were raw shows it in its first key.
        first = next(iter(db.keys()), b"")
        if first[:1] == b'"':
            db.close()
            raise OldChangelogKeys(_old_keys(f"{self.table.name} partition {partition} on disk"))
        return db

    def _set(self, key: bytes, value: bytes | None) -> None:
        topic = self.table.changelog_topic.get_topic_name()
        partition = self.app.producer.key_partition(topic, key).partition
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)


class OldChangelogKeys(RuntimeError):
    """A table's changelog or local store holds keys written before they were raw: a rebuild
    is needed."""


def _old_keys(where: str) -> str:
    return (
        f"{where} holds keys written as JSON by an earlier flowsight: their partitions are not "
        "the events topic's. Rebuild the state under a new app id (`flowsight rebuild`, "
        "docs/operations.md)."
    )


class StateTable(faust.Table[Any, Any]):
    """A faust table keyed as the events topic (the raw key bytes), whose data is kept in
    `ChangelogPartitionedStore` on `rocksdb://`.

    faust serialises a `str` key as JSON (`"<pseudonym>"`, quotes included) while the events
    topic's key is the raw pseudonym, so a patient's changelog partition was not their events
    partition, and faust restores a worker's tables from the changelog partitions numbered like
    its events partitions: with several workers, one restarted or on a new host lacked the
    patients whose rows another worker's partition held. Raw keys hash as the events topic's.
    """

    def _serializer_from_type(self, typ: Any) -> Any:
        if typ is str:
            return "raw"
        return super()._serializer_from_type(typ)

    def apply_changelog_batch(self, batch: Iterable[Any]) -> None:
        records = list(batch)
        for record in records:
            if (record.message.key or b"")[:1] == b'"':  # no pseudonym or service id starts so
                error = OldChangelogKeys(_old_keys(self.changelog_topic.get_topic_name()))
                # faust's recovery logs an error in a batch and tries it again, for ever: the
                # worker is stopped instead, with the remedy.
                self.crashing = asyncio.ensure_future(self.app.crash(error))
                raise error
        super().apply_changelog_batch(records)

    def _new_store_by_url(self, url: Any) -> Any:
        if not str(url).startswith("rocksdb:"):
            return super()._new_store_by_url(url)
        return ChangelogPartitionedStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )
