"""Dead-letter records: what a stage could not accept, with where it came from and the original payload."""

from __future__ import annotations

from datetime import UTC, datetime

from faust.types import EventT

from schemas import DeadLetter

__all__ = ["DEADLETTER_PAYLOAD_BYTES", "dead_letter"]

# Dead letters keep the original message, cut to this size (the full message may be what broke things).
DEADLETTER_PAYLOAD_BYTES = 64 * 1024


def dead_letter(stage: str, error: str, event: EventT | None, payload: bytes | None = None) -> DeadLetter:
    """Return the dead letter of a message a stage could not accept."""
    message = event.message if event is not None else None
    raw = payload if payload is not None else (message.value if message is not None else b"")
    raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    key = message.key if message is not None else None
    return DeadLetter(
        stage=stage,
        error=error,
        topic=message.topic if message is not None else None,
        partition=message.partition if message is not None else None,
        offset=message.offset if message is not None else None,
        key=key.decode("utf-8", "replace") if isinstance(key, bytes) else key,
        payload=raw[:DEADLETTER_PAYLOAD_BYTES].decode("utf-8", "replace"),
        payload_bytes=len(raw),
        payload_truncated=len(raw) > DEADLETTER_PAYLOAD_BYTES,
        failed_at=datetime.now(UTC),
    )
