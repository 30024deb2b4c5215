"""The faust App's fixes: a draining producer buffer flush, guarded acks, and fetches in offset order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka.structs import ConsumerRecord
from faust.transport.producer import ProducerBuffer
from faust.types import TP, Message

from pipeline.runtime.faust_app import REWINDS_BEFORE_GAP, _DrainingProducerBuffer, new_app
from pipeline.settings import Settings
from tests.conftest import close_consumer_loop


class _SlowChannel:
    """A topic channel whose client takes 0.25 s per message (a loaded worker), or only for the first."""

    def __init__(self, only_first_slow: bool = False) -> None:
        self.only_first_slow = only_first_slow
        self.published: list[int] = []

    async def publish_message(self, fut: SimpleNamespace, wait: bool = False) -> None:
        await asyncio.sleep(0.25 if fut.number == 0 or not self.only_first_slow else 0.01)
        self.published.append(fut.number)


async def _flushed(buffer: ProducerBuffer, messages: int, first_in_flight: bool = False) -> list[int]:
    """Put ``messages`` table writes in the buffer, flush it, and return those sent when flush returned
    (``first_in_flight``: the background task is sending the first one when the others come)."""
    channel = _SlowChannel(only_first_slow=first_in_flight)
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        for number in range(messages):
            buffer.put(SimpleNamespace(number=number, message=SimpleNamespace(channel=channel)))
            if first_in_flight and number == 0:
                await asyncio.sleep(0.05)
        await buffer.flush()
        return list(channel.published)
    finally:
        for _ in range(50):  # let the rest go out: stopping a buffer with messages in it raises
            if len(channel.published) == messages:
                break
            await asyncio.sleep(0.1)
        await buffer.stop()


async def test_faust_buffer_flush_returns_with_table_writes_unsent():
    # Why copydesk replaces it: faust flushes this buffer before committing offsets, and it gives up after
    # 0.1 s without a message sent, so a commit could cover records whose changelog writes were still here.
    assert len(await _flushed(ProducerBuffer(), 4)) < 4


async def test_draining_buffer_flush_returns_only_when_every_write_was_sent():
    assert await _flushed(_DrainingProducerBuffer(), 4) == [0, 1, 2, 3]


async def test_draining_buffer_keeps_the_buffer_order_behind_a_message_in_flight():
    # The background task is sending write 0 when flush sends 1-3 itself: 0 still reaches the client first.
    assert await _flushed(_DrainingProducerBuffer(), 4, first_in_flight=True) == [0, 1, 2, 3]


async def test_the_apps_producer_uses_the_draining_buffer():
    app = new_app(Settings(), "copydesk-test", "memory://")
    assert isinstance(app.producer.buffer, _DrainingProducerBuffer)


# -- acks: an offset is committed only behind a finished handler, in the current consumer generation --

DEDUPED = TP("copydesk.deduped", 0)


@pytest.fixture
def apps() -> Iterator[list[faust.App]]:
    """A list the test puts its apps in, whose consumer threads' loops are closed afterwards."""
    made: list[faust.App] = []
    yield made
    for app in made:
        close_consumer_loop(app)


@pytest.fixture
def app(apps: list[faust.App]) -> faust.App:
    apps.append(new_app(Settings(), "copydesk-test", "memory://"))
    return apps[-1]


def _consumer_at(app: faust.App, committed: int, generation: int) -> Any:
    """The app's consumer (not started) with ``copydesk.deduped`` committed up to ``committed``."""
    app.topic(DEDUPED.topic)
    app.topics.acking_topics.add(DEDUPED.topic)
    app.consumer_generation_id = generation
    consumer = app.consumer
    consumer._committed_offset[DEDUPED] = committed
    return consumer


def _message(offset: int, generation: int) -> Message:
    return Message(
        DEDUPED.topic,
        DEDUPED.partition,
        offset,
        0.0,
        0,
        [],
        b"key",
        b"{}",
        None,
        tp=DEDUPED,
        generation_id=generation,
    )


def test_faust_commits_past_a_message_fetched_before_a_rebalance(apps):
    # Why copydesk guards acks: a message prefetched in generation 1 and delivered after the rebalance to
    # generation 2 is skipped and acked, and faust then commits the offset after it, although the new
    # generation may not have handled offset 10 again yet (or at all, if the commit lands first).
    apps.append(faust.App("plain-faust", broker="kafka://localhost:1"))
    consumer = _consumer_at(apps[-1], committed=10, generation=2)
    consumer.ack(_message(10, generation=1))
    assert consumer._new_offset(DEDUPED) == 11


def test_a_message_fetched_before_a_rebalance_is_released_not_committed(app):
    consumer = _consumer_at(app, committed=10, generation=2)
    stale, fresh = _message(11, generation=1), _message(10, generation=2)
    consumer.ack(stale)
    assert stale.acked and consumer._new_offset(DEDUPED) is None
    with app.handling(SimpleNamespace(message=fresh)):
        pass
    consumer.ack(fresh)  # the new generation's 10: committed, and the stale 11 stops the commit after it
    assert consumer._new_offset(DEDUPED) == 11
    assert consumer._new_offset(DEDUPED) is None


def test_a_handler_that_raised_does_not_commit_its_message(app):
    consumer = _consumer_at(app, committed=10, generation=2)
    failed, handled = _message(10, generation=2), _message(11, generation=2)
    with pytest.raises(asyncio.CancelledError), app.handling(SimpleNamespace(message=failed)):
        raise asyncio.CancelledError  # the stream acks its event in a finally, after this
    consumer.ack(failed)
    with app.handling(SimpleNamespace(message=handled)):
        pass
    consumer.ack(handled)
    # 11's ack must not move the commit past 10 (faust's own check lets a gap of one offset through)...
    assert consumer._new_offset(DEDUPED) is None
    assert consumer.unsafe_ack(failed) == "handler did not finish"
    # ...until 10 is read again (after the restart or rebalance that follows) and handled.
    again = _message(10, generation=2)
    with app.handling(SimpleNamespace(message=again)):
        pass
    consumer.ack(again)
    assert consumer._new_offset(DEDUPED) == 12


def test_during_a_rebalance_only_messages_a_handler_took_are_committed(app):
    consumer = _consumer_at(app, committed=10, generation=2)
    in_flight, queued = _message(10, generation=2), _message(11, generation=2)
    app.flow_control.suspend()  # faust's on_partitions_revoked, waiting for in-flight handlers
    with app.handling(SimpleNamespace(message=in_flight)):
        pass
    consumer.ack(in_flight)
    consumer.ack(queued)  # still in a queue when the flow stopped: the stream skips and acks it
    assert consumer._new_offset(DEDUPED) == 11


# -- fetches: each stream partition delivers its records in offset order from its last seek --


def _fetching(consumer: Any, fetches: list[list[int]]) -> list[int]:
    """Make ``consumer`` fetch ``copydesk.deduped`` records at these offsets, one list per fetch, and
    record its seeks; return the list the seeks go to."""
    batches = iter(fetches)
    seeks: list[int] = []

    async def next_records(timeout: float) -> Any:
        offsets = next(batches, [])
        records = [
            ConsumerRecord(DEDUPED.topic, 0, offset, 0, 0, b"key", b"{}", None, 3, 2, [])
            for offset in offsets
        ]
        return {DEDUPED: records}, {DEDUPED}

    async def seek(tp: TP, offset: int) -> None:
        seeks.append(offset)

    consumer._wait_next_records = next_records
    consumer._seek = seek
    consumer.highwater = lambda tp: 100
    consumer.flow_active = True
    return seeks


async def _delivered(consumer: Any, fetches: int) -> list[int]:
    delivered = []
    for _ in range(fetches):
        delivered += [message.offset async for _tp, message in consumer.getmany(timeout=0.1)]
    return delivered


async def test_faust_delivers_a_record_fetched_before_the_seek_and_drops_the_ones_sought(apps):
    # Why copydesk orders fetches: the partition was sought back to 11 (its committed offset) while a fetch
    # from the old position (13) was under way. faust delivers 13, then drops 11 and 12 as old.
    apps.append(faust.App("plain-faust", broker="kafka://localhost:1"))
    consumer = _consumer_at(apps[-1], committed=11, generation=1)
    _fetching(consumer, [[13], [11, 12, 13, 14]])
    await consumer.seek(DEDUPED, 11)
    delivered = []
    async for tp, message in consumer.getmany(timeout=0.1):  # faust's drain loop, in short
        delivered.append(message.offset)
        consumer._read_offset[tp] = message.offset
    async for tp, message in consumer.getmany(timeout=0.1):
        if message.offset >= consumer._read_offset[tp]:
            delivered.append(message.offset)
            consumer._read_offset[tp] = message.offset
    assert 11 not in delivered and 12 not in delivered


async def test_a_record_ahead_of_the_partitions_offset_is_dropped_and_the_partition_sought_back(app):
    consumer = _consumer_at(app, committed=11, generation=1)
    seeks = _fetching(consumer, [[13, 14], [11, 12, 13, 14]])
    await consumer.seek(DEDUPED, 11)
    assert await _delivered(consumer, 2) == [11, 12, 13, 14]
    assert seeks == [11, 11]  # the committed offset, then the seek back


async def test_records_delivered_since_the_seek_are_not_delivered_again(app):
    consumer = _consumer_at(app, committed=11, generation=1)
    _fetching(consumer, [[11, 12], [11, 12, 13]])  # a fetch may return a whole batch again
    await consumer.seek(DEDUPED, 11)
    assert await _delivered(consumer, 2) == [11, 12, 13]


async def test_offsets_missing_from_the_log_itself_are_passed_after_a_few_seeks(app):
    consumer = _consumer_at(app, committed=11, generation=1)
    seeks = _fetching(consumer, [[13, 14]] * (REWINDS_BEFORE_GAP + 1))
    await consumer.seek(DEDUPED, 11)
    assert await _delivered(consumer, REWINDS_BEFORE_GAP + 1) == [13, 14]
    assert seeks == [11] * (REWINDS_BEFORE_GAP + 1)
    for offset in (13, 14):  # the missing offsets do not hold the commit back
        message = _message(offset, generation=1)
        with app.handling(SimpleNamespace(message=message)):
            pass
        consumer.ack(message)
    assert consumer._new_offset(DEDUPED) == 15


def _committed_at(consumer: Any, monkeypatch: pytest.MonkeyPatch, offset: int | None) -> None:
    """Make the consumer's seek to committed offsets find ``offset`` committed for ``copydesk.deduped``."""

    async def seek_to_committed() -> dict[TP, int | None]:
        return {DEDUPED: offset}

    monkeypatch.setattr(consumer._thread, "seek_to_committed", seek_to_committed)


async def test_records_fetched_before_the_partition_is_sought_are_read_again_from_the_seek(app, monkeypatch):
    # faust resumes a rebalanced partition, then seeks it: what comes before the seek is not delivered.
    consumer = _consumer_at(app, committed=4, generation=1)
    seeks = _fetching(consumer, [[6, 7], [4, 5, 6, 7]])
    _committed_at(consumer, monkeypatch, 4)
    assert await _delivered(consumer, 1) == []
    await consumer.perform_seek()
    assert await _delivered(consumer, 1) == [4, 5, 6, 7]
    assert seeks == [4]  # sought again: the dropped records may have come from the committed offset


async def test_a_partition_with_no_committed_offset_is_read_from_its_first_record_dropped(app, monkeypatch):
    consumer = _consumer_at(app, committed=0, generation=1)
    seeks = _fetching(consumer, [[0, 1], [0, 1, 2]])
    _committed_at(consumer, monkeypatch, None)  # aiokafka leaves such a partition where it is
    assert await _delivered(consumer, 1) == []
    await consumer.perform_seek()
    assert await _delivered(consumer, 1) == [0, 1, 2]
    assert seeks == [0]


async def test_faust_drops_the_records_sought_when_a_handler_ran_across_the_seek(apps):
    # Why faust's read offsets are blind to stream partitions: its drain loop sets a partition's read offset
    # after the record's handler returns. A handler of offset 13 that ran across the seek back to 11 puts
    # 13 back, and faust drops the 11 and 12 the seek fetched again.
    apps.append(faust.App("plain-faust", broker="kafka://localhost:1"))
    consumer = _consumer_at(apps[-1], committed=11, generation=1)
    assert await _drained_across_a_seek(consumer) == [13, 13]  # 11 and 12: never


async def test_a_handler_running_across_a_seek_does_not_hide_the_records_sought(app):
    consumer = _consumer_at(app, committed=11, generation=1)
    assert await _drained_across_a_seek(consumer) == [13, 11, 12, 13]


async def _drained_across_a_seek(consumer: Any) -> list[int]:
    """faust's drain loop, in short, over a fetch of 13, a seek back to 11 while 13 is handled, and a fetch
    from 11; return the offsets the loop hands to a handler."""
    _fetching(consumer, [[13], [11, 12, 13]])
    await consumer.seek(DEDUPED, 13)
    handled = []
    for _ in range(2):
        async for tp, message in consumer.getmany(timeout=0.1):
            read = consumer._read_offset[tp]
            if read is None or message.offset >= read:
                handled.append(message.offset)
                if message.offset == 13 and len(handled) == 1:
                    await consumer.seek(DEDUPED, 11)  # the rebalance's seek, while 13's handler runs
                consumer._read_offset[tp] = message.offset
    return handled


async def test_seeks_run_in_the_consumer_thread(app):
    # aiokafka is not thread-safe: a seek from the app's thread raced a fetch in the consumer thread.
    consumer = _consumer_at(app, committed=11, generation=1)
    calls = []

    async def call_thread(fun: Any, *args: Any) -> None:
        calls.append((fun, args))

    consumer._thread.call_thread = call_thread
    await consumer.seek(DEDUPED, 11)
    assert calls == [(consumer._thread.seek, (DEDUPED, 11))]
