"""copydesk's faust App: faust's aiokafka transport with two fixes, one for correctness and one for latency.

- **Offsets are committed only after the table writes are sent.** faust flushes its producer before it
  commits offsets, but the buffer that holds table changelog writes (``ProducerBuffer``, fed by
  ``send_soon``) returns from ``flush`` once 0.1 s pass without a message leaving it, messages still
  inside. Under load (the worker logs "producer buffer full") a commit could then cover records whose
  table writes were never sent, and a ``kill -9`` lost them: the 2,000-article chaos run lost the stories
  stage's reorder-buffer writes of 200 consecutive records that way. ``_DrainingProducerBuffer.flush``
  sends the buffered messages and returns only when every one was handed to the Kafka client, whose own
  flush then waits for the broker's acknowledgement.
- **The consumer's fetch wait is a setting** (``KafkaSettings.fetch_max_wait_ms``): faust passes a fixed
  1.5 s to aiokafka, and the embedded broker holds a fetch for about half its max wait even when records
  arrive meanwhile, which put up to 0.75 s on every hop of the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer

__all__ = ["App"]


class _DrainingProducerBuffer(ProducerBuffer):
    """faust's producer buffer, whose ``flush`` sends what is buffered and returns when none is left.

    faust's background task hands the buffered messages to the Kafka client one per turn of the event loop,
    and the worker's agents make those turns long (spaCy runs in the loop), so the buffer drains at a few
    messages a second under load. ``flush`` therefore sends the buffered messages itself, in a row. One lane
    (a FIFO lock) keeps the messages in buffer order whoever sends them: the order of a table's changelog
    writes is what makes a crash leave a prefix of them.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._lane = asyncio.Lock()
        self._in_flight = 0  # taken off the queue, not yet handed to the Kafka client

    async def _send_pending(self, fut: Any) -> None:
        self._in_flight += 1
        try:
            async with self._lane:
                await super()._send_pending(fut)
        finally:
            self._in_flight -= 1

    async def flush(self) -> None:
        """Return once every message buffered before the call was handed to the Kafka client (which the caller
        flushes next)."""
        for _ in range(self.size):
            try:
                fut = self.pending.get_nowait()
            except asyncio.QueueEmpty:
                break
            await self._send_pending(fut)
            self.message_sent.set()
        while self._in_flight:  # the background task's message, taken before ours
            if self.state != "running":
                raise RuntimeError("Cannot flush: Producer not Running")
            self.message_sent.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)


class _Producer(faust_aiokafka.Producer):
    def __init__(self, transport: Any, loop: Any = None, **kwargs: Any) -> None:
        super().__init__(transport, loop=loop, **kwargs)
        if not self.app.conf.producer_threaded:  # the threaded producer has a queue of its own
            self.buffer = _DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
            self.buffer.app = self.app


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(self.app, "fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = wait  # read by aiokafka when the consumer starts
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer


class App(faust.App):
    """A faust App on ``kafka://`` brokers with the fixes above; ``fetch_max_wait_ms`` None keeps faust's 1.5 s."""

    fetch_max_wait_ms: int | None = None

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        return _Transport(self.conf.broker_producer, self)
