"""The facts stage's alias memory (``PartitionAliases``): per-article visibility, the window, the sweep."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.facts import remember_alias
from pipeline.runtime import aliases as aliases_module
from pipeline.runtime.aliases import PartitionAliases


@pytest.fixture(autouse=True)
def in_partition(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Pretend every call runs inside an agent's event of partition 0 (the prefix comes from the event)."""
    event = SimpleNamespace(message=SimpleNamespace(partition=0))
    monkeypatch.setattr(aliases_module, "current_event", lambda: event)
    return event


def remember_all(aliases: PartitionAliases, seq: int, names: list[tuple[str, str]]) -> list[str]:
    """One article: each (alias key, name it spells) through ``remember_alias``, as the facts stage does."""
    aliases.begin(seq)
    return [remember_alias(aliases, key, name) for key, name in names]


def test_an_article_sees_what_the_window_of_articles_before_it_taught():
    table: dict[str, Any] = {}
    aliases = PartitionAliases(table, window=10)
    assert remember_all(aliases, 5, [("person:biden", "Joe Biden")]) == ["Joe Biden"]
    assert table == {"0:person:biden": ["Joe Biden", 5]}
    for seq in (6, 10, 15):  # 5 >= seq - 10
        aliases.begin(seq)
        assert aliases.get("person:biden") == "Joe Biden"
    for seq in (5, 16, 40):  # itself (a redelivery of the teacher) and articles past the window
        aliases.begin(seq)
        assert aliases.get("person:biden") is None


def test_a_name_taught_again_keeps_the_version_before_it_for_a_redelivery():
    table: dict[str, Any] = {}
    aliases = PartitionAliases(table, window=40)
    remember_all(aliases, 5, [("person:biden", "Joe Biden")])
    # Article 50 no longer sees article 5's name: what it spells is taught again.
    assert remember_all(aliases, 50, [("person:biden", "Hunter Biden")]) == ["Hunter Biden"]
    assert table["0:person:biden"] == ["Hunter Biden", 50, "Joe Biden", 5]
    aliases.begin(44)  # redelivered after article 50 ran (a quarter window back): reads what it read first
    assert aliases.get("person:biden") == "Joe Biden"
    aliases.begin(51)
    assert aliases.get("person:biden") == "Hunter Biden"
    aliases.begin(91)
    assert aliases.get("person:biden") is None
    # Article 5 redelivered writes its own version again, behind the newer one.
    assert remember_all(aliases, 5, [("person:biden", "Joe Biden")]) == ["Joe Biden"]
    assert table["0:person:biden"] == ["Hunter Biden", 50, "Joe Biden", 5]


def test_without_a_window_nothing_expires():
    table: dict[str, Any] = {}
    aliases = PartitionAliases(table)
    remember_all(aliases, 5, [("person:biden", "Joe Biden")])
    aliases.begin(1_000_000)
    assert aliases.get("person:biden") == "Joe Biden"
    assert table == {"0:person:biden": ["Joe Biden", 5]}


def test_unsequenced_and_old_style_entries_are_seen_by_every_article_and_kept():
    table: dict[str, Any] = {"0:person:obama": "Barack Obama", "0:person:bush": ["George W. Bush", 0]}
    aliases = PartitionAliases(table, window=4)
    for seq in range(1, 200):
        aliases.begin(seq)
        assert (aliases.get("person:obama"), aliases.get("person:bush")) == ("Barack Obama", "George W. Bush")
    assert set(table) == {"0:person:obama", "0:person:bush"}


def test_the_sweep_bounds_the_memory_and_spares_other_partitions(in_partition: SimpleNamespace):
    window, step = 100, 25
    table: dict[str, Any] = {"1:person:other": ["Someone Else", 1]}
    aliases = PartitionAliases(table, window=window)
    largest = 0
    for seq in range(1, 5_001):
        # Three names no article spelled before, and one taught 50 articles earlier, still remembered.
        names = [(f"person:n{seq}-{i}", f"Name {seq} {i}") for i in range(3)]
        if seq > 50:
            names.append((f"person:n{seq - 50}-0", "a full name it does not spell"))
        found = remember_all(aliases, seq, names)
        if seq > 50:
            assert found[-1] == f"Name {seq - 50} 0"
        largest = max(largest, len(table))
    # Entries of the last window + 3 steps of articles at most (a step's scan finds what expired since the one
    # before, and the next step deletes it), plus the other partition's entry, which only its own articles sweep.
    assert largest <= 3 * (window + 3 * step) + 1
    assert "1:person:other" in table
    # The gauge counts the entries held (set at each scan, then up and down with each write and deletion).
    assert aliases_module.metrics.ALIAS_ENTRIES._value.get() == len(table)


def test_each_partition_sweeps_its_own_entries_in_bounded_shares(in_partition: SimpleNamespace):
    # Four partitions take the dedupe numbers in turn, so each sees a quarter of a step's articles: its
    # articles must still check all of its keys within a step, and each only a share of them.
    window, step, partitions = 100, 25, 4
    table: dict[str, Any] = {}
    aliases = PartitionAliases(table, window=window)
    listed: dict[int, list[str]] = {}  # each step's list of the keys
    for seq in range(1, 4_001):
        partition = in_partition.message.partition = seq % partitions
        before = aliases._scans.get(f"{partition}:")
        remember_all(aliases, seq, [(f"person:n{seq}-{i}", f"Name {seq} {i}") for i in range(3)])
        number, checked = aliases._scans[f"{partition}:"]
        assert aliases._step_keys[0] == number  # one list of the keys for every partition, each step
        listed.setdefault(number, aliases._step_keys[1])
        assert listed[number] is aliases._step_keys[1]  # listed once in the step, not once a partition
        keys = aliases._step_keys[1]
        # The keys of the dedupe numbers since the partition's last article.
        share = len(keys) * partitions / step + 1
        if before is not None and before[0] == number:
            assert checked - before[1] <= share
        else:
            assert checked <= share  # a new step's list: its first article checks its share, not all
            if before is not None:  # and the step before checked all of its list but the last numbers' share
                listed_before = len(listed[before[0]])
                assert before[1] >= listed_before - listed_before * partitions / step - 1
        if seq > 2 * window:
            held = sum(1 for key in table if key.startswith(f"{partition}:"))
            assert held <= 3 * (window + 3 * step) / partitions + 3


@pytest.mark.parametrize("seed", range(8))
def test_a_redelivery_within_a_quarter_window_reads_what_it_read_first(seed: int):
    # A stream of articles spelling names from a small cast (so names expire and are taught again); a crash
    # replays the articles after some point while the table already holds what later ones wrote. Every
    # article must get the names it got in an uninterrupted run.
    rng = random.Random(seed)
    window, articles = 40, 600
    cast = [f"person:p{i}" for i in range(80)]  # each name about once a window
    # And names read just before they expire and taught again just after: name j is taught at 7j + 1, read
    # 39 articles later, taught again 4 after that, and so on; a crash between them needs the older version.
    cyclic = {j: 7 * j + 1 for j in range(5)}
    stream = [
        [(key, f"{key} as spelled in article {seq}") for key in rng.sample(cast, rng.randint(0, 4))]
        + [
            (f"person:c{j}", f"c{j} as spelled in article {seq}")
            for j, first in cyclic.items()
            if seq >= first and (seq - first) % 43 in (0, 39)
        ]
        for seq in range(1, articles + 1)
    ]

    def run(crashes: list[tuple[int, int]]) -> dict[int, list[str]]:
        table: dict[str, Any] = {}
        aliases = PartitionAliases(table, window=window)
        out: dict[int, list[str]] = {}
        seq = 1
        while seq <= articles:
            out[seq] = remember_all(aliases, seq, stream[seq - 1])
            if crashes and crashes[0][0] == seq:  # crash after this article, redeliver from the commit
                seq = crashes.pop(0)[1]
                aliases = PartitionAliases(table, window=window)  # a new process, the table restored
                continue
            seq += 1
        return out

    expected = run([])
    assert len({name for names in expected.values() for name in names}) > len(cast)  # names were re-taught
    points = sorted(rng.sample(range(window, articles), 6))
    crashes = [(at, at - rng.randint(0, window // 4)) for at in points]
    assert run(crashes) == expected
