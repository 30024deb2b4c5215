"""The embedded broker's end offsets, and the probe that reads the true ones for faust's changelog recovery."""

from __future__ import annotations

from pathlib import Path

import pytest
from faust.types import TP
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from pipeline.runtime.broker import EmbeddedBroker, true_end_offsets
from pipeline.runtime.faust_app import new_app
from pipeline.settings import KafkaSettings, Settings
from tests.conftest import close_consumer_loop

pytestmark = pytest.mark.e2e


def _write(servers: str, sends: list[tuple[int, int]]) -> None:
    """Create topic ``t`` (3 partitions) and write ``count`` records to partition ``p`` per (p, count), each
    group in one batch."""
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics([NewTopic("t", 3, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=500, batch_size=1 << 20)
    for partition, count in sends:
        for number in range(count):
            producer.send("t", partition=partition, value=b"%d" % number)
        producer.flush()
    producer.close()


def _reported(servers: str) -> dict[tuple[str, int], int]:
    consumer = KafkaConsumer(bootstrap_servers=servers)
    try:
        ends = consumer.end_offsets([TopicPartition("t", partition) for partition in range(3)])
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): end for tp, end in ends.items()}


def test_the_probe_reads_the_end_the_broker_reports_short(broker: EmbeddedBroker):
    # Partition 0: batches of 10, 10 and 10 records; 1: one record; 2: nothing.
    _write(broker.bootstrap_servers, [(0, 10), (0, 10), (0, 10), (1, 1)])
    reported = _reported(broker.bootstrap_servers)
    # Why the probe exists: tansu's end is one past the first record of the newest batch.
    assert reported == {("t", 0): 21, ("t", 1): 1, ("t", 2): 0}
    ends = true_end_offsets({"bootstrap_servers": [broker.bootstrap_servers]}, reported)
    assert ends == {("t", 0): 30, ("t", 1): 1, ("t", 2): 0}


def test_the_probe_keeps_an_end_it_cannot_read(broker: EmbeddedBroker):
    _write(broker.bootstrap_servers, [(1, 1)])
    # An end past the partition's records (as if they were deleted): nothing comes back, the answer stands.
    ends = true_end_offsets({"bootstrap_servers": [broker.bootstrap_servers]}, {("t", 1): 5}, timeout=1.0)
    assert ends == {("t", 1): 5}


async def test_the_worker_apps_recovery_reads_true_ends_only_when_asked(
    broker: EmbeddedBroker, tmp_path: Path
):
    _write(broker.bootstrap_servers, [(0, 10), (0, 10)])
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    settings = Settings(kafka=kafka, data_dir=tmp_path)
    probed = Settings(kafka=kafka.model_copy(update={"probe_end_offsets": True}), data_dir=tmp_path)

    async def highwaters(settings: Settings) -> dict[TP, int]:
        app = new_app(settings, "offsets-test", "memory://")
        consumer = app.consumer
        await consumer._thread.start()
        try:
            return dict(await consumer.highwaters(TP("t", 0), TP("t", 1)))
        finally:
            await consumer._thread.stop()
            close_consumer_loop(app)

    assert await highwaters(settings) == {TP("t", 0): 11, TP("t", 1): 0}
    assert await highwaters(probed) == {TP("t", 0): 20, TP("t", 1): 0}
