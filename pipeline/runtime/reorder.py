"""Reorder: hand records on in dedupe's sequence order (1, 2, 3, ...) after a parallel stage shuffled them.

Facts runs on several partitions at once, so its records reach the stories stage out of order. The stories
stage decides by arrival order, so it holds each record that comes early until every number before it was
handled. Per record, the caller does::

    if buffer.offer(seq, record, now):          # in order, a redelivery, or unsequenced: handle it now
        handle(record); buffer.done(seq)
    gap = buffer.skip_gap(now)                  # a number waited on too long: give up on it (log, count)
    while (held := buffer.take()) is not None:  # the records that were waiting for it, in order
        handle(held[1]); buffer.done(held[0])

Held records and the next expected number live in ``store``, a mapping the caller provides (a dict in tests,
a changelog-backed table in the worker), under keys starting with ``reorder:``; everything else in it is
left alone. ``done`` writes the next number before it deletes the held record, so any prefix of the writes
(a crash) leaves a consistent buffer: a held record below the next number is stale and ``restore`` drops it.
A number given up on is never lost: when its record comes after all, ``offer`` says to handle it at once,
out of order.
"""

from __future__ import annotations

import bisect
from collections.abc import MutableMapping
from typing import Any

__all__ = ["PREFIX", "ReorderBuffer", "is_reorder_key"]

PREFIX = "reorder:"
_NEXT = f"{PREFIX}next"
_HELD = f"{PREFIX}seq:"


def is_reorder_key(key: object) -> bool:
    """Return True when a store key belongs to the reorder buffer."""
    return isinstance(key, str) and key.startswith(PREFIX)


def _held_key(seq: int) -> str:
    return f"{_HELD}{seq:012d}"


class ReorderBuffer:
    """Release records by gap-free sequence number; hold early ones in ``store``; bounded, with a gap timeout.

    Sequence numbers start at 1; 0 means unsequenced (handled at once). A missing number is skipped once
    ``max_pending`` later records wait, or ``gap_timeout_s`` after the first of them came.
    """

    def __init__(self, store: MutableMapping[str, Any], max_pending: int, gap_timeout_s: float) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}; try 10000")
        if gap_timeout_s <= 0:
            raise ValueError(f"gap_timeout_s must be > 0, got {gap_timeout_s}; try 300")
        self.store = store
        self.max_pending = max_pending
        self.gap_timeout_s = gap_timeout_s
        self._held: list[int] = []  # sorted; the records themselves stay in the store
        self._next = 1
        self._gap_since: float | None = None

    def __len__(self) -> int:
        return len(self._held)

    @property
    def next_seq(self) -> int:
        """The sequence number handled next."""
        return self._next

    def restore(self) -> None:
        """Rebuild the buffer from ``store`` (after a restart or rebalance); drop held records already handled."""
        self._next = int(self.store.get(_NEXT, 1))
        held = sorted(int(key[len(_HELD) :]) for key in list(self.store.keys()) if key.startswith(_HELD))
        for seq in held:
            if seq < self._next:
                self.store.pop(_held_key(seq), None)
        self._held = [seq for seq in held if seq >= self._next]
        self._gap_since = None

    def offer(self, seq: int, record: Any, now: float) -> bool:
        """Return True when the caller should handle ``record`` now (then call ``done``); else hold it.

        Now: the next number, an unsequenced record (0), or one below the next number (a redelivery, or a
        number given up on that came after all). A record above the next number is held in the store.
        """
        if seq < 0:
            raise ValueError(f"sequence numbers are >= 0, got {seq}")
        if seq <= self._next:
            return True
        index = bisect.bisect_left(self._held, seq)
        if index == len(self._held) or self._held[index] != seq:
            self._held.insert(index, seq)
        self.store[_held_key(seq)] = record  # again on redelivery: the same record
        if self._gap_since is None:
            self._gap_since = now
        return False

    def waiting_s(self, now: float) -> float:
        """Return how long records have been held behind the missing next number (0 when none are).

        The wait starts when a record is held, or, after the number before it was handled, at the first call.
        """
        if not self._held or self._held[0] <= self._next:
            self._gap_since = None
            return 0.0
        if self._gap_since is None:
            self._gap_since = now
        return now - self._gap_since

    def skip_gap(self, now: float) -> range:
        """Give up on the missing numbers before the first held record when the buffer is full or the wait
        timed out; return the numbers given up on (empty when none)."""
        waited = self.waiting_s(now)
        if not self._held or self._held[0] <= self._next:
            return range(0)
        if len(self._held) < self.max_pending and waited < self.gap_timeout_s:
            return range(0)
        skipped = range(self._next, self._held[0])
        self._next = self._held[0]
        self.store[_NEXT] = self._next
        return skipped

    def take(self) -> tuple[int, Any] | None:
        """Return the held record with the next number, ``(seq, record)``, or None (call ``done`` after it)."""
        while self._held and self._held[0] < self._next:  # handled meanwhile as a redelivery
            self.store.pop(_held_key(self._held.pop(0)), None)
        if self._held and self._held[0] == self._next:
            return self._next, self.store[_held_key(self._next)]
        return None

    def ready(self, limit: int) -> list[tuple[int, Any]]:
        """Return the held records whose turn has come without a gap, from the next number on: up to ``limit``.

        ``take`` gives the first; a caller that hands records back through a queue (the worker sends them to
        its own input topic, to handle each as its own event) sends the whole run at once, so a run of held
        records costs one trip through the queue, not one trip each.
        """
        first = self.take()
        if first is None:
            return []
        run = [first]
        for seq in self._held[1:limit]:
            if seq != run[-1][0] + 1:
                break
            run.append((seq, self.store[_held_key(seq)]))
        return run

    def done(self, seq: int) -> None:
        """Record that the caller handled ``seq``: the next number follows it (no-op for older numbers)."""
        if seq != self._next:
            return
        self._next = seq + 1
        self.store[_NEXT] = (
            self._next
        )  # before the delete: a crash between leaves a stale, not a lost, record
        if self._held and self._held[0] == seq:
            self._held.pop(0)
            self.store.pop(_held_key(seq), None)
        self._gap_since = None
