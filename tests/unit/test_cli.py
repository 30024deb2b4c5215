"""The command line's faust workers: logging set up without faust's spinner."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from pipeline.cli import faust_worker


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Restore the root logger's level and handlers, which a worker's logging set-up replaces."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _debug_on_after_setup(worker: faust.Worker) -> bool:
    worker._setup_logging()  # what the worker does when it starts
    return logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)


def test_fausts_own_worker_lowers_the_root_logger_to_debug(root_logging):
    app = faust.App("plain-faust", broker="kafka://localhost:1")
    assert _debug_on_after_setup(faust.Worker(app, loglevel="warning", quiet=True))


def test_the_cli_worker_keeps_the_root_logger_at_its_level(root_logging):
    app = faust.App("copydesk-cli", broker="kafka://localhost:1")
    worker = faust_worker(app, "warning")
    assert not _debug_on_after_setup(worker)
    assert logging.getLogger().getEffectiveLevel() == logging.WARNING
    assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.INFO)
