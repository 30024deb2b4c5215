"""End-to-end fixtures: a real tansu broker process per test, and copydesk processes against it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.runtime.broker import EmbeddedBroker, free_port

pytestmark = pytest.mark.e2e


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, alive: Processes | None = None
) -> None:
    """Return once ``condition()`` is true; fail after ``timeout`` seconds or when a process of ``alive`` died."""
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None:
            alive.assert_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh broker per test: copydesk's topic names are fixed, so tests must not share one."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as running:
        yield running


@pytest.fixture
def copydesk_env(broker: EmbeddedBroker, tmp_path: Path) -> dict[str, str]:
    """Environment for copydesk processes against the test's broker, with state and output in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYDESK_")}
    env.update(
        {
            "COPYDESK_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "COPYDESK_KAFKA__FEEDS": json.dumps(["seeds"]),
            "COPYDESK_KAFKA__SESSION_TIMEOUT_S": "6",
            "COPYDESK_KAFKA__HEARTBEAT_INTERVAL_S": "1",
            "COPYDESK_KAFKA__PROBE_END_OFFSETS": "true",
            "COPYDESK_DATA_DIR": str(tmp_path / "state"),
            "COPYDESK_SINK__OUT_DIR": str(tmp_path / "out"),
            "COPYDESK_METRICS__WORKER_PORT": str(free_port()),
            "COPYDESK_METRICS__SINK_PORT": str(free_port()),
        }
    )
    return env


class Processes:
    """Starts copydesk subcommands as real processes and stops them all at teardown."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{args[0]}-{len(self.running)}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.running.append(process)
        return process

    def call(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    def assert_alive(self) -> None:
        """Fail the test with the log's tail when a started process exited."""
        for number, process in enumerate(self.running):
            if process.poll() is not None and not getattr(process, "killed_on_purpose", False):
                logs = sorted(self.logs.glob(f"*-{number}.log"))
                tail = logs[0].read_text(errors="replace")[-3000:] if logs else ""
                pytest.fail(f"process {process.args[3:]} exited with {process.returncode}:\n{tail}")

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a process: no clean shutdown, as when a machine dies."""
        process.killed_on_purpose = True  # type: ignore[attr-defined]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(copydesk_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    started = Processes(copydesk_env, tmp_path)
    yield started
    started.stop_all()
