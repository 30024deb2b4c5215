"""The faust App's fixes: a producer buffer flush that drains, and the transport that uses it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer

from pipeline.app import new_app
from pipeline.faust_app import _DrainingProducerBuffer
from pipeline.settings import Settings


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
