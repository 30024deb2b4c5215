"""The faust App's fixes: a producer buffer flush that drains, and the transport that uses it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer

from pipeline.app import new_app
from pipeline.faust_app import _DrainingProducerBuffer
from pipeline.settings import Settings


class _SlowChannel:
    """A topic channel whose broker takes 0.25 s per message (a loaded broker)."""

    def __init__(self) -> None:
        self.published: list[int] = []

    async def publish_message(self, fut: SimpleNamespace, wait: bool = False) -> None:
        await asyncio.sleep(0.25)
        self.published.append(fut.number)


async def _flushed(buffer: ProducerBuffer, messages: int) -> list[int]:
    """Put ``messages`` table writes in the buffer, flush it, and return those sent when flush returned."""
    channel = _SlowChannel()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        for number in range(messages):
            buffer.put(SimpleNamespace(number=number, message=SimpleNamespace(channel=channel)))
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


async def test_the_apps_producer_uses_the_draining_buffer():
    app = new_app(Settings(), "copydesk-test", "memory://")
    assert isinstance(app.producer.buffer, _DrainingProducerBuffer)
