"""copydesk's faust App: faust's aiokafka transport with five fixes, four for correctness and one for latency.

- **Offsets are committed only after the table writes are sent.** faust flushes its producer before it
  commits offsets, but the buffer that holds table changelog writes (``ProducerBuffer``, fed by
  ``send_soon``) returns from ``flush`` once 0.1 s pass without a message leaving it, messages still
  inside. Under load (the worker logs "producer buffer full") a commit could then cover records whose
  table writes were never sent, and a ``kill -9`` would lose those writes. ``_DrainingProducerBuffer.flush``
  sends the buffered messages and returns only when every one was handed to the Kafka client, whose own
  flush then waits for the broker's acknowledgement.
- **An offset is committed only for a message whose handler finished, in the current consumer generation.**
  faust acks (marks committable) some messages no agent handled: a message fetched before a rebalance and
  delivered after it is skipped and acked (the broker's offset then passes a record the new generation may
  not have read again yet), so is one skipped while the consumer's flow is stopped for a rebalance, and so is
  the message of a handler that was cancelled (the stream acks its event in a ``finally``).
  ``_Consumer.ack`` withholds those acks (the message is read again from the committed offset); the worker's
  agents report which messages they started and finished through ``App.handling``.
- **Each stream partition's records are delivered in offset order from its last seek** (``_Consumer.getmany``):
  faust resumes a rebalanced partition's fetching before seeking it, and a record fetched from the old
  position would make it skip and commit the records in between, never handled.
  Records fetched before a partition's first seek are not delivered at all, and faust's own read offsets,
  which a handler running across a seek sets back to the offset from before it, do not judge stream
  partitions (``_ReadOffsets``): with the guard above, that race would stall a partition instead of losing it.
- **The consumer's fetch wait is a setting** (``KafkaSettings.fetch_max_wait_ms``): faust passes a fixed
  1.5 s to aiokafka, and the embedded broker holds a fetch for about half its max wait even when records
  arrive meanwhile, which would put up to 0.75 s on every hop of the pipeline.
- **Changelog recovery reads to the true end of each partition** (``App.end_offset_probe``): the embedded
  broker reports a partition's end as one past the first record of its newest batch, so recovery would stop
  inside that batch and the table lose the batch's later writes. The probe reads the reported end's batch
  back (``pipeline.runtime.broker.true_end_offsets``), so the producer may batch table writes.

``new_app`` returns such an App configured from the settings (``faust_config``), for the worker and the sink.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import ssl
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types import EventT, Message
from faust.types.tuples import ack_lock
from mode.supervisors import CrashingSupervisor
from mode.utils.futures import notify

from pipeline import metrics
from pipeline.runtime.broker import client_config, true_end_offsets
from pipeline.settings import KafkaSettings, Settings

__all__ = ["App", "faust_config", "new_app"]

log = logging.getLogger(__name__)

# Fetches after a seek back that still start ahead of the sought offset, before the offsets in between are
# taken to be missing from the log (compaction, transaction markers) rather than fetched before the seek.
REWINDS_BEFORE_GAP = 3


class _Handling:
    """Which messages the app's agents started and finished handling (weakly held: faust drops them)."""

    def __init__(self) -> None:
        self.started: weakref.WeakSet[Message] = weakref.WeakSet()
        self.finished: weakref.WeakSet[Message] = weakref.WeakSet()

    @contextlib.contextmanager
    def __call__(self, event: EventT) -> Iterator[None]:
        """Mark ``event``'s message started, and finished if the block returns (not if it raises)."""
        message = event.message
        self.started.add(message)
        yield
        self.finished.add(message)

    def unfinished(self, message: Message) -> bool:
        return message in self.started and message not in self.finished

    def started_here(self, message: Message) -> bool:
        return message in self.started


class _ReadOffsets(collections.defaultdict):  # type: ignore[type-arg]
    """faust's read offsets (the last offset its drain loop handed to a stream, by partition), which read as
    None for the partitions of acking (stream) topics.

    faust drops a record older than its partition's read offset, and counts the offsets between the read
    offset and a newer record as a gap in the log (committable). Its drain loop sets the read offset after
    the record's handler returns, so a handler that ran across a seek puts back the offset from before the
    seek, and the records the seek fetches again are dropped: never handled, never committed, the partition
    stalls. ``_Consumer.getmany`` orders stream partitions
    itself, by the seeks it sees, and marks the log's own gaps.
    """

    def __init__(self, acks_enabled_for: Callable[[str], bool]) -> None:
        super().__init__(lambda: None)
        self._acks_enabled_for = acks_enabled_for

    def __getitem__(self, tp: Any) -> int | None:
        if self._acks_enabled_for(tp.topic):
            return None
        return super().__getitem__(tp)


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

    async def _highwaters(self, partitions: Any) -> Any:
        ends = await super()._highwaters(partitions)
        probe = getattr(self.app, "end_offset_probe", None)
        if probe is None or not ends:
            return ends
        reported = {(tp.topic, tp.partition): end for tp, end in ends.items()}
        true_ends = await asyncio.to_thread(true_end_offsets, probe, reported)
        return {tp: true_ends[(tp.topic, tp.partition)] for tp in ends}


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Offsets released without being marked committable, by partition: no commit passes the lowest
        # until a finished handler acks it (after the seek back to the committed offset that follows).
        self._withheld: dict[Any, set[int]] = {}
        # The next offset each stream partition must deliver (set by seeks, advanced by deliveries), and the
        # offset a partition was sought back to with the fetches that came ahead of it since.
        self._next_offset: dict[Any, int] = {}
        self._rewound: dict[Any, tuple[int, int]] = {}
        # Stream partitions sought since they were assigned, and the lowest offset of each one not sought
        # yet whose records were dropped (the seek that follows must fetch them again).
        self._sought: set[Any] = set()
        self._dropped_unsought: dict[Any, int] = {}
        # faust's own read offsets are blind to stream partitions: getmany orders those (see _ReadOffsets).
        self._read_offset = _ReadOffsets(self.app.topics.acks_enabled_for)

    async def seek_to_committed(self) -> Any:
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            known = offset is not None and offset >= 0
            if known:
                self._next_offset[tp] = offset
            else:
                self._next_offset.pop(tp, None)
            self._sought.add(tp)
            dropped = self._dropped_unsought.pop(tp, None)
            if dropped is not None:
                # Records dropped while the seek was under way may have come from the sought position.
                await self.seek(tp, offset if known else dropped)
        return committed

    async def _seek(self, partition: Any, offset: int) -> None:
        # In the consumer thread's loop, like faust's other calls into aiokafka, which is not thread-safe:
        # faust seeks from the app's thread, where a seek back from getmany could race a fetch (aiokafka's
        # fetcher then loses the partition's records under it: a KeyError that crashes the worker).
        thread = self._thread
        await thread.call_thread(thread.seek, partition, offset)

    async def seek(self, partition: Any, offset: int) -> None:
        await super().seek(partition, offset)
        self._next_offset[partition] = offset
        self._sought.add(partition)

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        for tp in revoked:
            self._next_offset.pop(tp, None)
            self._rewound.pop(tp, None)
            self._sought.discard(tp)
            self._dropped_unsought.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Message]]:
        """faust's records, each stream partition's in offset order from its last seek: a record ahead of
        the partition's next offset is dropped and the partition sought back to that offset.

        faust resumes a rebalanced partition's fetching before it seeks the partition to its committed
        offset, so records fetched from the old position can come after the seek. faust delivers such a
        record, counts the offsets it jumped over as a gap in the log (committable), and then drops the
        records the seek fetches again, as older than the last one delivered: never handled, their offsets
        committed. A partition's records fetched before its first seek
        since the assignment are dropped; the seek then reads them again from where it puts the partition.
        """
        fetched: set[Any] = set()
        acks_enabled_for = self.app.topics.acks_enabled_for
        async for tp, message in super().getmany(timeout):
            offset = message.offset
            if tp not in self._sought and acks_enabled_for(tp.topic):
                # faust resumes the partition before it seeks it: the seek decides where reading starts.
                self._dropped_unsought[tp] = min(offset, self._dropped_unsought.get(tp, offset))
                continue
            first_of_fetch = tp not in fetched
            fetched.add(tp)
            expected = self._next_offset.get(tp)
            if expected is None or offset == expected or not acks_enabled_for(tp.topic):
                self._next_offset[tp] = offset + 1
                self._rewound.pop(tp, None)
                yield tp, message
            elif offset < expected or not first_of_fetch:
                continue  # delivered already since the last seek, or the rest of a fetch that came ahead
            else:
                sought, seeks = self._rewound.get(tp, (expected, 0))
                seeks = seeks if sought == expected else 0
                # Fetches from the offset itself still start later: a gap in the log.
                if seeks >= REWINDS_BEFORE_GAP:
                    log.warning(
                        "%s: offsets %s-%s are missing from the log; going on", tp, expected, offset - 1
                    )
                    await self._add_gap(tp, expected, offset - 1)  # committable without a handler
                    self._next_offset[tp] = offset + 1
                    self._rewound.pop(tp, None)
                    yield tp, message
                    continue
                self._rewound[tp] = (expected, seeks + 1)
                metrics.FETCH_REWINDS.inc()
                (log.warning if seeks == 0 else log.debug)(
                    "%s: offset %s came before %s (fetched before a seek); seeking back to it", tp, offset, expected
                )  # fmt: skip
                await self.seek(tp, expected)

    def ack(self, message: Message) -> bool:
        """Mark the message's offset committable, unless no finished handler stands behind it (then the
        message is only released, and no commit passes its offset until it is read and handled again)."""
        reason = self.unsafe_ack(message)
        if reason is None:
            self._withheld.get(message.tp, set()).discard(message.offset)
            return super().ack(message)
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            self._unacked_messages.discard(message)
            withheld = self._withheld.setdefault(message.tp, set())
            first = not withheld
            withheld.add(message.offset)
            notify(self._waiting_for_ack)
        metrics.ACKS_WITHHELD.labels(reason).inc()
        # One line per incident (a rebalance can release a whole prefetched queue), the rest at debug.
        (log.warning if first else log.debug)(
            "%s offset %s not committed (%s): read again from the committed offset",
            message.tp, message.offset, reason,
        )  # fmt: skip
        return False

    def _new_offset(self, tp: Any) -> int | None:
        # faust's answer, over the acked offsets below the lowest withheld one only (faust lets a gap of one
        # offset through, for the log's own gaps, so withheld offsets cannot be left to its gap check).
        withheld = self._withheld.get(tp)
        committed = self._committed_offset[tp]
        if withheld and committed is not None:
            withheld.difference_update([offset for offset in withheld if offset < committed])
        if not withheld:
            return super()._new_offset(tp)
        hold = min(withheld)
        acked = self._acked[tp]
        above = [offset for offset in acked if offset >= hold]
        acked[:] = [offset for offset in acked if offset < hold]
        try:
            return super()._new_offset(tp)
        finally:
            self._acked[tp].extend(above)

    def unsafe_ack(self, message: Message) -> str | None:
        """Return why acking ``message`` could commit an offset whose record was not handled, or None."""
        app = self.app
        if message.generation_id is not None and message.generation_id != app.consumer_generation_id:
            return "fetched before a rebalance"
        handling = app.handling
        if handling.unfinished(message):
            return "handler did not finish"
        if not app.flow_control.is_active() and not handling.started_here(message):
            return "skipped during a rebalance"
        return None


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer


class App(faust.App):
    """A faust App on ``kafka://`` brokers with the fixes above; ``fetch_max_wait_ms`` None keeps faust's 1.5 s."""

    fetch_max_wait_ms: int | None = None
    #: kafka-python connection settings to read true end offsets with (``true_end_offsets``); None trusts
    #: the broker's end offsets, as Apache Kafka's are exact.
    end_offset_probe: dict[str, object] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``with app.handling(event):`` around an agent's work on an event (see ``_Consumer.ack``)
        self.handling = _Handling()

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        return _Transport(self.conf.broker_producer, self)


def new_app(settings: Settings, app_id: str, store: str) -> App:
    """Return a faust app of copydesk (the worker's or the sink's) configured from the settings."""
    app = App(app_id, **faust_config(settings, app_id, store))
    app.fetch_max_wait_ms = settings.kafka.fetch_max_wait_ms
    if settings.kafka.probe_end_offsets:
        app.end_offset_probe = client_config(settings.kafka)
    return app


def faust_config(settings: Settings, app_id: str, store: str) -> dict[str, Any]:
    """Return faust App settings shared by the worker and the sink."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        "broker": ";".join(f"kafka://{server}" for server in kafka.servers().split(",")),
        "broker_credentials": _credentials(kafka),
        "store": store,
        "datadir": str(settings.data_dir / app_id),
        "topic_partitions": 1,
        "topic_replication_factor": kafka.replication_factor,
        "consumer_auto_offset_reset": "earliest",
        "producer_max_request_size": kafka.max_message_bytes,
        "web_enabled": False,
        "autodiscover": False,
        # An agent that raises is a bug: stop the worker, so its supervisor restarts it and it resumes from
        # the committed offsets, rather than leave a live process that no longer processes anything.
        "agent_supervisor": CrashingSupervisor,
    }
    if kafka.session_timeout_s is not None:
        config["broker_session_timeout"] = kafka.session_timeout_s
    if kafka.heartbeat_interval_s is not None:
        config["broker_heartbeat_interval"] = kafka.heartbeat_interval_s
    if kafka.producer_max_batch_bytes is not None:
        config["producer_max_batch_size"] = kafka.producer_max_batch_bytes
    return config


def _credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """Return faust's credentials for the settings' security protocol (None for PLAINTEXT)."""
    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
        if kafka.ssl_certfile:
            context.load_cert_chain(
                str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
            )
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context else None
