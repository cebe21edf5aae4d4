"""Loaded by a worker started with this directory on PYTHONPATH and DROP_FETCHED_RECORDS=1: at
the end of each recovery, once the flow is stopped, it takes what aiokafka has fetched for the
stream partitions and drops it, as faust's fetcher does with a fetch that returns while its flow
is stopped (`Consumer.getmany`). It prints how many records it dropped, per partition."""

import os

if os.environ.get("DROP_FETCHED_RECORDS"):
    from flowsight.streams import recovery

    _completed = recovery.HeldFlowRecovery.on_recovery_completed

    async def _dropping(self, generation_id=0):
        consumer = self.app.consumer
        consumer.stop_flow()
        client = consumer._thread._ensure_consumer()
        streams = [tp for tp in client.assignment() if not consumer._is_changelog_tp(tp)]
        fetched = await consumer._thread.call_thread(client.getmany, *streams, timeout_ms=3000)
        dropped = {f"{tp.topic}[{tp.partition}]": len(records) for tp, records in fetched.items()}
        print(f"DROPPED {sum(dropped.values())} fetched records: {dropped}", flush=True)
        await _completed(self, generation_id)

    recovery.HeldFlowRecovery.on_recovery_completed = _dropping
