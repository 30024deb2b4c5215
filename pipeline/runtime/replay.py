"""Recent decisions, remembered durably so that a redelivered record gets its first decision again.

faust delivers at least once, and a worker's local table state can be ahead of its committed offsets:
after a crash, records it already processed come again. A core that forgets (a story that closed in
the meantime, state evicted) would decide anew. ``RecentDecisions`` keeps the last ``size`` decisions
in a ring of slots inside any mutable mapping (a changelog-backed table in the worker, a dict in tests).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = ["RecentDecisions"]


class RecentDecisions:
    """The last ``size`` (key -> decision) pairs, in ``size`` ring slots of ``store``."""

    def __init__(self, store: MutableMapping[str, Any], size: int, prefix: str = "") -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}: it bounds how many decisions are remembered")
        self._store = store
        self._prefix = prefix  # to share a store with other keys
        self._size = size
        self._known: dict[str, Any] = {}
        self._next = 0

    def restore(self) -> None:
        """Read the remembered decisions back from the store (after a restart)."""
        self._known = {}
        self._next = int(self._store.get(self._key("next"), 0))
        # Oldest slot first, so that a key decided twice keeps its newest decision.
        for number in range(self._next - min(self._next, self._size), self._next):
            entry = self._store.get(self._key(number % self._size))
            if entry is not None:
                self._known[entry[0]] = entry[1]

    def get(self, key: str) -> Any | None:
        """Return the decision remembered for ``key``, or None."""
        return self._known.get(key)

    def remember(self, key: str, decision: Any) -> tuple[str, Any] | None:
        """Remember a decision; return the (key, decision) forgotten to make room, if any."""
        if self._known.get(key) == decision:
            return None
        slot = self._key(self._next % self._size)
        old = self._store.get(slot)
        forgotten = None
        if old is not None and self._known.get(old[0]) == old[1]:
            del self._known[old[0]]
            forgotten = (old[0], old[1])
        self._store[slot] = [key, decision]
        self._known[key] = decision
        self._next += 1
        self._store[self._key("next")] = self._next
        return forgotten

    def _key(self, slot: object) -> str:
        return f"{self._prefix}{slot}"

    def owns(self, key: object) -> bool:
        """Return True when ``key`` is one of this memory's keys in the shared store."""
        return isinstance(key, str) and bool(self._prefix) and key.startswith(self._prefix)

    def __len__(self) -> int:
        return len(self._known)
