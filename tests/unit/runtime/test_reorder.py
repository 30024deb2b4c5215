"""ReorderBuffer: records handed on in sequence order, early ones held in a store that survives a crash."""

from __future__ import annotations

import pytest

from pipeline.runtime.reorder import ReorderBuffer, is_reorder_key


def buffer(store=None, max_pending: int = 100, gap_timeout_s: float = 60.0) -> ReorderBuffer:
    return ReorderBuffer({} if store is None else store, max_pending, gap_timeout_s)


def test_in_order_records_pass_straight_through() -> None:
    b = buffer()
    for seq in (1, 2, 3):
        assert b.offer(seq, {"seq": seq}, now=0.0)
        b.done(seq)
    assert b.next_seq == 4 and len(b) == 0


def test_early_records_wait_and_come_out_in_order() -> None:
    b = buffer()
    assert not b.offer(3, "c", 0.0)
    assert not b.offer(2, "b", 0.0)
    assert b.take() is None  # 1 has not come
    assert b.offer(1, "a", 0.0)
    b.done(1)
    out = []
    while (held := b.take()) is not None:
        out.append(held)
        b.done(held[0])
    assert out == [(2, "b"), (3, "c")] and len(b) == 0


def test_ready_returns_the_gap_free_run_only() -> None:
    b = buffer()
    for seq in (2, 3, 4, 6, 7):
        b.offer(seq, f"r{seq}", 0.0)
    assert b.ready(10) == []  # 1 is missing
    assert b.offer(1, "r1", 0.0)
    b.done(1)
    assert b.ready(10) == [(2, "r2"), (3, "r3"), (4, "r4")]  # 5 is missing: 6 and 7 wait
    assert b.ready(2) == [(2, "r2"), (3, "r3")]
    assert len(b) == 5  # ready hands out, done removes


def test_redelivery_and_unsequenced_records_are_handled_at_once() -> None:
    b = buffer()
    assert b.offer(1, "a", 0.0)
    b.done(1)
    assert b.offer(1, "a again", 0.0)  # below the next number: a redelivery
    assert b.offer(0, "unsequenced", 0.0)
    b.done(1)  # no-op
    assert b.next_seq == 2


def test_a_gap_is_given_up_after_the_timeout_or_when_full() -> None:
    b = buffer(max_pending=3, gap_timeout_s=10.0)
    b.offer(5, "e", now=0.0)
    assert b.skip_gap(now=5.0) == range(0)
    assert b.skip_gap(now=11.0) == range(1, 5)
    assert b.take() == (5, "e")
    full = buffer(max_pending=2, gap_timeout_s=1e9)
    full.offer(3, "c", 0.0)
    full.offer(4, "d", 0.0)
    assert full.skip_gap(now=0.0) == range(1, 3)


def test_restore_rebuilds_from_the_store_and_drops_stale_records() -> None:
    store: dict = {"other": 1}
    b = buffer(store)
    b.offer(3, "c", 0.0)
    b.offer(2, "b", 0.0)
    assert b.offer(1, "a", 0.0)
    b.done(1)
    # A crash after done(2) wrote the next number but before it deleted the held record: stale, dropped.
    b.store["reorder:next"] = 3
    again = buffer(store)
    again.restore()
    assert again.next_seq == 3 and again.take() == (3, "c")
    assert store["other"] == 1 and all(is_reorder_key(k) for k in store if k != "other")


@pytest.mark.parametrize(("max_pending", "timeout"), [(0, 1.0), (1, 0.0)])
def test_limits_must_be_positive(max_pending: int, timeout: float) -> None:
    with pytest.raises(ValueError):
        ReorderBuffer({}, max_pending, timeout)
