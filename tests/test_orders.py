"""AlgoOrderBook: a job's open algo orders between full REST snapshots."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from riskd.orders import GONE_MEMORY_MS, AlgoOrderBook, OpenAlgoOrder
from tests.kit.samples import algo_order


def algo(algo_id: int) -> OpenAlgoOrder:
    return algo_order(algo_id, time_ms=1_000)


def ids(book: AlgoOrderBook) -> list[int]:
    return [order.algo_id for order in book.orders()]


def test_new_book_knows_no_snapshot_and_no_orders() -> None:
    book = AlgoOrderBook()
    assert book.snapshot_requested_ms is None
    assert book.orders() == ()


def test_snapshot_replaces_what_was_learnt_before_it_was_requested() -> None:
    book = AlgoOrderBook()
    book.opened(algo(1), at_ms=100)
    book.replace([algo(2), algo(3)], requested_at_ms=200)
    assert ids(book) == [2, 3]
    assert book.snapshot_requested_ms == 200


def test_placement_acknowledged_while_a_snapshot_was_in_flight_survives_it() -> None:
    book = AlgoOrderBook()
    book.opened(algo(7), at_ms=250)
    book.replace([algo(2)], requested_at_ms=200)
    assert ids(book) == [2, 7]


def test_cancel_confirmed_while_a_snapshot_was_in_flight_is_not_revived_by_it() -> None:
    book = AlgoOrderBook()
    book.replace([algo(2)], requested_at_ms=100)
    book.gone(2, at_ms=250)
    book.replace([algo(2)], requested_at_ms=200)
    assert ids(book) == []


def test_snapshot_requested_after_a_cancel_is_the_truth_about_that_order() -> None:
    # A gone order reappearing in a later snapshot is an exchange fact (or a reused id):
    # the snapshot wins over what the job remembers.
    book = AlgoOrderBook()
    book.gone(2, at_ms=100)
    book.replace([algo(2)], requested_at_ms=200)
    assert ids(book) == [2]


def test_late_new_event_for_a_gone_order_does_not_revive_it() -> None:
    book = AlgoOrderBook()
    book.opened(algo(4), at_ms=100)
    book.gone(4, at_ms=110)
    book.opened(algo(4), at_ms=120)  # ALGO_UPDATE NEW delivered after CANCELED
    assert ids(book) == []


def test_gone_ids_are_forgotten_only_after_their_memory_expires() -> None:
    book = AlgoOrderBook()
    book.gone(4, at_ms=1_000)
    book.replace([], requested_at_ms=1_000 + GONE_MEMORY_MS - 1)
    book.opened(algo(4), at_ms=1_000 + GONE_MEMORY_MS)
    assert ids(book) == []
    book.replace([], requested_at_ms=1_000 + GONE_MEMORY_MS + 1)
    book.opened(algo(4), at_ms=1_000 + GONE_MEMORY_MS + 2)
    assert ids(book) == [4]


def test_acknowledgement_updates_an_order_already_known() -> None:
    book = AlgoOrderBook()
    book.replace([algo(5)], requested_at_ms=100)
    changed = replace(algo(5), trigger_price=Decimal("56000"))
    book.opened(changed, at_ms=150)
    assert book.orders() == (changed,)


def test_orders_are_listed_oldest_algo_id_first() -> None:
    book = AlgoOrderBook()
    for algo_id in (9, 3, 6):
        book.opened(algo(algo_id), at_ms=100)
    assert ids(book) == [3, 6, 9]
