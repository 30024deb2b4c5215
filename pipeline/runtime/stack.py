"""A whole copydesk on one machine: broker (embedded unless configured), topics, worker and sink processes.

``copydesk run``, ``copydesk chaos`` and ``copydesk bench`` drive it. Completion is judged by what reached
the sink (never by offsets: the embedded broker's end offsets are unreliable).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from pipeline.app import raw_topic, topic_partitions
from pipeline.runtime.broker import EmbeddedBroker, client_config, create_topics, free_port
from pipeline.runtime.seeder import Seeder
from pipeline.settings import Settings
from pipeline.sink import SinkStore
from schemas import RawArticle

__all__ = ["LocalStack", "StackError"]

# The embedded broker (tansu) holds each consumer-group join for half the session timeout; short timeouts
# make a worker join in ~3 s instead of 30 s. Real Kafka keeps faust's defaults.
EMBEDDED_SESSION_TIMEOUT_S = 6.0
EMBEDDED_HEARTBEAT_S = 1.0
# tansu answers a fetch only after about half its max wait, even when records arrive meanwhile. Measured on
# a 4-partition topic (random send times): faust's fixed 1.5 s gave a median 387 ms (max 691) per hop, 50 ms
# gives 10 ms (max 26), for about 20 idle fetches/s per consumer. 20 ms, against 50 in `copydesk bench
# gva_dev.jsonl --articles 200` (one run each): median hops normalize 18 -> 16 ms, dedupe 32 -> 19, stories
# 19 -> 17, sink 27 -> 22; p50 215 -> 188 ms, p99 578 -> 545 ms; about 50 idle fetches/s per consumer.
EMBEDDED_FETCH_MAX_WAIT_MS = 20


class StackError(RuntimeError):
    """A process of the stack died, or work did not reach the sink in time."""


def _tail_of(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


class LocalStack:
    """Broker, topics, worker and sink for one run; a context manager that stops everything it started.

    The sink writes SQLite under ``out_dir``; worker state lives in a fresh temporary folder, because an
    embedded broker starts empty and old local tables would remember another run's articles.
    ``start("worker", index=1)`` starts a second worker beside the first (process ``worker-1``).
    """

    def __init__(self, settings: Settings, out_dir: Path, feed: str = "seeds") -> None:
        self.settings = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"feeds": [feed]})}
        )
        self.feed = feed
        self.out_dir = out_dir
        self.logs = out_dir / "logs"
        self.broker: EmbeddedBroker | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports: dict[str, int] = {}  # extra workers' ports, kept across restarts
        self._stack = contextlib.ExitStack()
        self._seeder: Seeder | None = None
        self._store: SinkStore | None = None
        self._starts = 0

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        for name in ("copydesk.db", "copydesk.db-wal", "copydesk.db-shm", "enriched.jsonl", "stories.jsonl",
                     "deadletter.jsonl"):  # fmt: skip
            (self.out_dir / name).unlink(missing_ok=True)
        try:
            if not self.settings.kafka.bootstrap_servers:
                self.broker = self._stack.enter_context(EmbeddedBroker(log_path=self.logs / "broker.log"))
                self.settings = self.settings.model_copy(
                    update={
                        "kafka": self.settings.kafka.model_copy(
                            update={
                                "bootstrap_servers": self.broker.bootstrap_servers,
                                "session_timeout_s": EMBEDDED_SESSION_TIMEOUT_S,
                                "heartbeat_interval_s": EMBEDDED_HEARTBEAT_S,
                                # tansu's end offsets fall short of a batch of many records.
                                "probe_end_offsets": True,
                                "fetch_max_wait_ms": EMBEDDED_FETCH_MAX_WAIT_MS,
                            }
                        )
                    }
                )
            self.data_dir = Path(
                self._stack.enter_context(tempfile.TemporaryDirectory(prefix="copydesk-state-"))
            )
            create_topics(self.settings.kafka, topic_partitions(self.settings))
            self.env = self._child_env()
            self._stack.callback(self._stop_processes)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._seeder is not None:
            self._seeder.close()
        if self._store is not None:
            self._store.close()
        self._stack.close()

    def _child_env(self) -> dict[str, str]:
        kafka = self.settings.kafka
        env = {key: value for key, value in os.environ.items() if not key.startswith("COPYDESK_KAFKA__")}
        env.update({
            "COPYDESK_KAFKA__BOOTSTRAP_SERVERS": kafka.servers(),
            "COPYDESK_KAFKA__FEEDS": json.dumps(kafka.feeds),
            "COPYDESK_DATA_DIR": str(self.data_dir),
            "COPYDESK_SINK__OUT_DIR": str(self.out_dir),
            # Free ports, so a run never collides with a worker already serving metrics on this machine.
            "COPYDESK_METRICS__WORKER_PORT": str(free_port()),
            "COPYDESK_METRICS__SINK_PORT": str(free_port()),
        })  # fmt: skip
        optional = {
            "COPYDESK_KAFKA__SESSION_TIMEOUT_S": kafka.session_timeout_s,
            "COPYDESK_KAFKA__HEARTBEAT_INTERVAL_S": kafka.heartbeat_interval_s,
            "COPYDESK_KAFKA__PRODUCER_MAX_BATCH_BYTES": kafka.producer_max_batch_bytes,
            "COPYDESK_KAFKA__PROBE_END_OFFSETS": kafka.probe_end_offsets or None,
            "COPYDESK_KAFKA__FETCH_MAX_WAIT_MS": kafka.fetch_max_wait_ms,
            "COPYDESK_KAFKA__SECURITY_PROTOCOL": kafka.security_protocol,
            "COPYDESK_KAFKA__SASL_MECHANISM": kafka.sasl_mechanism,
            "COPYDESK_KAFKA__SASL_USERNAME": kafka.sasl_username,
            "COPYDESK_KAFKA__SASL_PASSWORD": kafka.sasl_password.get_secret_value()
            if kafka.sasl_password
            else None,
        }
        env.update({name: str(value) for name, value in optional.items() if value is not None})
        return env

    # --- processes ------------------------------------------------------------------------------

    def start(self, name: str, index: int = 0) -> subprocess.Popen[bytes]:
        """Start ``copydesk worker`` or ``copydesk sink`` (``name``) as a process of its own.

        ``index`` > 0 starts one more of them, as process ``<name>-<index>`` (for ``kill`` and ``processes``),
        with a state folder and metrics port of its own: N workers share the work by partitions.
        """
        if not index and "-" in name:  # a key from ``processes``, as a supervisor restarting it passes it
            name, index = name.split("-")[0], int(name.split("-")[1])
        key = f"{name}-{index}" if index else name
        env = self.env
        if index:
            port = self.metrics_ports.setdefault(key, free_port())
            env = {**env, "COPYDESK_DATA_DIR": str(self.data_dir / key),
                   "COPYDESK_METRICS__WORKER_PORT": str(port), "COPYDESK_METRICS__SINK_PORT": str(port)}  # fmt: skip
        self._starts += 1
        with (self.logs / f"{key}.log").open("ab") as log:
            log.write(f"--- start {self._starts}\n".encode())
            log.flush()
            process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[key] = process
        return process

    def metrics_port(self, key: str) -> int:
        """Return the metrics port of process ``key`` ("worker", "worker-1", "sink", ...)."""
        if key in self.metrics_ports:
            return self.metrics_ports[key]
        name = "SINK" if key == "sink" else "WORKER"
        return int(self.env[f"COPYDESK_METRICS__{name}_PORT"])

    def kill(self, name: str) -> None:
        """SIGKILL a process, as a machine failure would: no shutdown, no final commit."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def _stop_processes(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def check_alive(self) -> None:
        """Raise StackError with the log's tail when a started process exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StackError(
                    f"the {name} exited with code {process.returncode}; its log ends:\n"
                    f"{_tail_of(self.logs / f'{name}.log')}"
                )

    # --- data -----------------------------------------------------------------------------------

    @property
    def store(self) -> SinkStore:
        if self._store is None:
            self._store = SinkStore(self.out_dir / "copydesk.db")
        return self._store

    def seeder(self) -> Seeder:
        if self._seeder is None:
            self._seeder = Seeder(client_config(self.settings.kafka), self.settings.kafka.max_message_bytes)
        return self._seeder

    def publish(self, articles: Iterable[RawArticle], rate: float | None = None, on_sent=None) -> list[str]:
        """Publish raw articles to the stack's feed topic; return their ids."""
        return self.seeder().publish(articles, raw_topic, rate, on_sent=on_sent)

    def wait_for_sink(self, expected: set[str], timeout: float, poll: float = 0.2) -> None:
        """Return once every expected article is settled in the sink; raise StackError on a timeout or crash."""
        deadline = time.monotonic() + timeout
        while True:
            missing = expected - self.store.settled_ids()
            if not missing:
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise StackError(
                    f"{len(missing)} articles did not reach the sink within {timeout:.0f}s: {sorted(missing)[:10]}"
                )
            time.sleep(poll)
