"""The facts stage's alias memory in the worker: one per partition of copydesk.deduped, kept in a faust table.

``PartitionAliases`` is the mapping ``FactExtractor`` reads and teaches (alias key -> canonical name). It
must be used inside an agent's event: the partition comes from the event, and table writes need one.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from faust.streams import current_event

from pipeline import metrics

__all__ = ["PartitionAliases"]


class PartitionAliases(MutableMapping[str, str]):
    """The facts alias memory of the copydesk.deduped partition being processed, kept in a faust table.

    A faust table is co-partitioned with the stream that writes it, so each partition of copydesk.deduped
    has its own alias memory, whichever worker holds it: it depends only on that partition's articles, in
    their order, which makes entity ids the same with one worker or many (for a given partition count). Keys
    are ``<partition>:<alias key>``, so the in-memory store of the tests keeps partitions apart as rocksdb does.
    Use it only inside an agent's event (table writes need one).

    Each entry is ``[canonical, seq]``, the dedupe number of the article that wrote it, and ``begin(seq)``
    says which article reads next: it sees the entries of earlier articles and its own writes, never those
    of later ones. After a crash faust redelivers the articles after the last committed offset, while the
    table (restored from its changelog) may already hold what they and the articles after them wrote: a
    redelivered article then reads the memory it read the first time, and gets the same entity ids. Entries
    of an unsequenced article (seq 0) and plain-string entries of earlier versions are seen by every article.

    With a ``window`` the memory is bounded: an article sees only what the ``window`` articles before it (by
    dedupe number, across partitions) taught, and a name taught earlier is taught again by the next article
    that spells it out. That article's version goes first in the entry and the one before stays behind it
    (``[canonical, seq, older canonical, older seq]``), so a redelivered article still reads what it read the
    first time. Every ``window // 4`` dedupe numbers, the table's keys are listed, and the ``begin`` of each
    of a partition's articles in the next ``window // 4`` checks its share of the list for its own and
    deletes the entries no article from ``window // 4`` before the current one on can see; a redelivery from
    further back may find fewer names than it found the first time. The memory holds what the last
    ``window`` articles taught, and at most what ``window // 2`` more taught, which wait for deletion.
    """

    def __init__(self, table: MutableMapping[str, Any], window: int | None = None) -> None:
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 article, got {window}")
        self.table = table
        self.window = window
        self._seq = 0
        self._own: dict[str, str] = {}
        # The window step the sweep is in, and the table's keys when it began (one copy for all the partitions
        # this worker holds).
        self._step_keys: tuple[int, list[str]] = (-1, [])
        # Partition prefix -> the window step its scan belongs to, and how far this step's articles of the
        # partition have checked its keys.
        self._scans: dict[str, tuple[int, int]] = {}

    def begin(self, seq: int) -> None:
        """Start reading for the article numbered ``seq`` (0: unsequenced, sees every entry)."""
        self._seq = seq
        self._own = {}
        if self.window is not None and seq:
            self._sweep(seq)

    def _sweep(self, seq: int) -> None:
        window = self.window
        assert window is not None  # only a bounded memory sweeps
        step = max(1, window // 4)
        prefix = self._prefix()
        # An article from seq - step on sees no version older than seq - step - window.
        horizon = seq - step - window
        number = seq // step
        if self._step_keys[0] != number:
            # Each step, one copy of the table's keys as they are now (quick: 15 ms for half a million, where
            # sorting them by partition would hold one article 130 ms); each partition's articles of the step
            # check the list a share each, in proportion to how far the dedupe number has moved into the step
            # (a partition gets only some of the numbers), so no article holds the event loop for a scan of
            # the whole table (half a million entries, GVA-like copy, once the window is full) and deletions
            # come as a trickle, about as many an article as articles taught. A key written later waits for
            # the next step's list.
            self._step_keys = (number, list(self.table))
            metrics.ALIAS_ENTRIES.set(len(self._step_keys[1]))
        keys = self._step_keys[1]
        scanned, checked = self._scans.get(prefix, (-1, 0))
        if scanned != number:
            checked = 0
        share = -(-len(keys) * (seq % step + 1) // step)
        for key in keys[checked:share]:
            if not key.startswith(prefix):
                continue
            entry = self.table.get(key)
            if isinstance(entry, list) and 0 < max(entry[1::2]) < horizon:  # not taught again meanwhile
                del self.table[key]
                metrics.ALIAS_ENTRIES.dec()
        self._scans[prefix] = (number, min(share, len(keys)))

    def _prefix(self) -> str:
        event = current_event()
        if event is None:
            raise RuntimeError("the alias memory is per partition: use it while an agent handles an event")
        return f"{event.message.partition}:"

    def _visible(self, entry: Any) -> str | None:
        if isinstance(entry, str):
            return entry
        # Versions newest first: the first one this article may see.
        for value, seq in _versions(entry):
            if not self._seq or not seq:
                return value
            if seq < self._seq:
                return value if self.window is None or seq >= self._seq - self.window else None
        return None

    def __getitem__(self, key: str) -> str:
        if key in self._own:
            return self._own[key]
        value = self._visible(self.table[self._prefix() + key])
        if value is None:
            raise KeyError(key)  # written by a later article, or too long ago: not there for this one
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._own[key] = value
        full = self._prefix() + key
        entry: list[Any] = [value, self._seq]
        old = self.table.get(full) if self.window is not None else None
        if self.window is not None and old is None:
            metrics.ALIAS_ENTRIES.inc()
        if isinstance(old, list):
            # Keep the newest other version (a redelivered earlier article may read it), newest first.
            versions = sorted(((seq, v) for v, seq in _versions(old) if seq != self._seq), reverse=True)
            if versions:
                seq, other = versions[0]
                entry = [value, self._seq, other, seq] if seq < self._seq else [other, seq, value, self._seq]
        self.table[full] = entry

    def __delitem__(self, key: str) -> None:
        self._own.pop(key, None)
        del self.table[self._prefix() + key]

    def __iter__(self) -> Iterator[str]:
        prefix = self._prefix()
        keys = []
        for key, entry in list(self.table.items()):
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if name in self._own or self._visible(entry) is not None:
                    keys.append(name)
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _versions(entry: list[Any]) -> Iterator[tuple[str, int]]:
    """Yield an alias entry's (canonical, seq) versions, newest first (``[canonical, seq, older, seq, ...]``)."""
    return zip(entry[::2], entry[1::2], strict=True)
