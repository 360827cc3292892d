"""PositionBook merge rules, each with explicit times (Binance server ms)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from riskd.positions import (
    BalanceRecord,
    BookChanges,
    PositionBook,
    PositionKey,
    PositionRecord,
    SourceSnapshot,
    SourceStatus,
)

BTC = PositionKey("BTCUSDT", "BOTH")
ETH = PositionKey("ETHUSDT", "BOTH")
BTC_LONG = PositionKey("BTCUSDT", "LONG")
BTC_SHORT = PositionKey("BTCUSDT", "SHORT")


def pos(
    key: PositionKey = BTC,
    amount: str = "0.010",
    *,
    updated: int,
    entry: str = "60000",
    mark: str | None = None,
    pnl: str | None = None,
    liq: str | None = None,
    break_even: str | None = None,
) -> PositionRecord:
    def dec(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    return PositionRecord(
        symbol=key.symbol,
        position_side=key.position_side,
        amount=Decimal(amount),
        entry_price=Decimal(entry),
        update_time_ms=updated,
        break_even_price=dec(break_even),
        mark_price=dec(mark),
        unrealized_pnl=dec(pnl),
        liquidation_price=dec(liq),
    )


def bal(asset: str = "USDT", wallet: str = "100", *, updated: int, pnl: str = "0") -> BalanceRecord:
    return BalanceRecord(
        asset=asset,
        wallet_balance=Decimal(wallet),
        update_time_ms=updated,
        unrealized_pnl=Decimal(pnl),
        margin_balance=Decimal(wallet) + Decimal(pnl),
        available_balance=Decimal(wallet),
    )


def snap(
    *positions: PositionRecord,
    taken: int,
    source: str = "position_risk",
    complete: bool = True,
    balances: tuple[BalanceRecord, ...] | None = None,
) -> SourceSnapshot:
    return SourceSnapshot(
        source=source,
        taken_at_ms=taken,
        positions=positions,
        balances=balances,
        complete=complete,
    )


def open_keys(book: PositionBook) -> list[PositionKey]:
    return [record.key for record in book.view(now_ms=10_000).positions]


def held(book: PositionBook, key: PositionKey) -> PositionRecord:
    (record,) = [r for r in book.view(now_ms=10_000).positions if r.key == key]
    return record


# --- reported records ---------------------------------------------------------------------


def test_first_snapshot_opens_positions_and_view_sorts_by_symbol_then_side() -> None:
    book = PositionBook()
    changes = book.apply(
        snap(
            pos(ETH, updated=900),
            pos(BTC_SHORT, "-0.5", updated=800),
            pos(BTC_LONG, "0.2", updated=700),
            taken=1_000,
        ),
        received_at_ms=1_050,
    )
    assert changes == BookChanges(opened=(BTC_LONG, BTC_SHORT, ETH))
    assert open_keys(book) == [BTC_LONG, BTC_SHORT, ETH]


def test_newer_record_replaces_and_is_reported_changed() -> None:
    book = PositionBook()
    book.apply(snap(pos(amount="0.010", updated=1_000), taken=1_500), received_at_ms=1_500)
    changes = book.apply(
        snap(pos(amount="0.030", entry="61000", updated=2_000), taken=2_500), received_at_ms=2_500
    )
    assert changes == BookChanges(changed=(BTC,))
    assert held(book, BTC).amount == Decimal("0.030")
    assert held(book, BTC).entry_price == Decimal("61000")


def test_newer_update_time_with_the_same_amount_is_still_a_change() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000), taken=1_500), received_at_ms=1_500)
    changes = book.apply(snap(pos(updated=1_800), taken=2_000), received_at_ms=2_000)
    assert changes.changed == (BTC,)


def test_older_record_never_overwrites_a_newer_one_from_another_source() -> None:
    book = PositionBook()
    book.apply(
        snap(pos(amount="0.030", updated=3_000), source="stream", taken=3_000, complete=False),
        received_at_ms=3_000,
    )
    # The REST request was sent after the change, but a lagging answer shows the old state.
    changes = book.apply(
        snap(pos(amount="0.010", updated=1_000), source="account", taken=3_500),
        received_at_ms=3_600,
    )
    assert changes.empty
    assert held(book, BTC).amount == Decimal("0.030")


def test_equal_update_time_takes_the_later_snapshots_marks_without_reporting_a_change() -> None:
    book = PositionBook()
    book.apply(
        snap(pos(updated=1_000, mark="60100", pnl="1", liq="50000"), taken=2_000),
        received_at_ms=2_000,
    )
    changes = book.apply(
        snap(pos(updated=1_000, mark="60200", pnl="2", liq="50001"), taken=3_000),
        received_at_ms=3_000,
    )
    assert changes.empty
    record = held(book, BTC)
    assert (record.mark_price, record.unrealized_pnl, record.liquidation_price) == (
        Decimal("60200"),
        Decimal("2"),
        Decimal("50001"),
    )


def test_equal_update_time_keeps_the_fields_a_later_report_leaves_out() -> None:
    book = PositionBook()
    book.apply(
        snap(
            pos(updated=1_000, mark="60100", pnl="1", liq="50000", break_even="60030"),
            source="position_risk",
            taken=2_000,
        ),
        received_at_ms=2_000,
    )
    book.apply(snap(pos(updated=1_000, pnl="3"), source="account", taken=3_000), 3_000)
    record = held(book, BTC)
    assert record.unrealized_pnl == Decimal("3")
    assert record.mark_price == Decimal("60100")
    assert record.liquidation_price == Decimal("50000")
    assert record.break_even_price == Decimal("60030")


def test_newer_update_time_drops_the_fields_a_report_leaves_out() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000, mark="60100", liq="50000"), taken=2_000), 2_000)
    book.apply(snap(pos(amount="0.020", updated=2_500), source="account", taken=3_000), 3_000)
    record = held(book, BTC)
    assert (record.mark_price, record.liquidation_price) == (None, None)


def test_equal_update_time_from_a_snapshot_taken_earlier_is_ignored() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000, mark="60200"), taken=3_000), received_at_ms=3_100)
    changes = book.apply(snap(pos(updated=1_000, mark="60100"), taken=2_000), received_at_ms=3_200)
    assert changes.empty
    assert held(book, BTC).mark_price == Decimal("60200")


# --- zero amounts ---------------------------------------------------------------------------


def test_zero_amount_closes_the_position_and_hides_it_from_the_view() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000), taken=1_500), received_at_ms=1_500)
    changes = book.apply(
        snap(pos(amount="0", updated=2_000), source="stream", taken=2_000, complete=False),
        received_at_ms=2_000,
    )
    assert changes == BookChanges(closed=(BTC,))
    assert open_keys(book) == []


def test_zero_older_than_the_books_record_is_ignored() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=2_000), source="stream", taken=2_000, complete=False), 2_000)
    changes = book.apply(snap(pos(amount="0.000", updated=1_000), taken=2_500), 2_600)
    assert changes.empty
    assert open_keys(book) == [BTC]


def test_a_flat_record_stops_an_older_report_from_reopening_the_position() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000), taken=1_500), received_at_ms=1_500)
    book.apply(
        snap(pos(amount="0", updated=2_000), source="stream", taken=2_000, complete=False), 2_000
    )
    changes = book.apply(
        snap(pos(updated=1_000), source="position_risk", taken=1_900, complete=False), 2_100
    )
    assert changes.empty
    assert open_keys(book) == []


def test_zero_for_a_key_the_book_never_held_changes_nothing() -> None:
    book = PositionBook()
    changes = book.apply(snap(pos(amount="0", updated=0), source="account", taken=1_000), 1_000)
    assert changes.empty
    assert open_keys(book) == []


# --- keys absent from a snapshot ------------------------------------------------------------


def test_key_absent_from_a_complete_snapshot_is_closed_if_it_changed_before_the_request() -> None:
    book = PositionBook()
    book.apply(snap(pos(BTC, updated=1_000), pos(ETH, updated=1_100), taken=1_500), 1_500)
    changes = book.apply(snap(pos(ETH, updated=1_100), taken=2_000), received_at_ms=2_050)
    assert changes == BookChanges(closed=(BTC,))
    assert open_keys(book) == [ETH]


def test_key_absent_from_a_complete_snapshot_survives_if_it_changed_after_the_request() -> None:
    book = PositionBook()
    book.apply(
        snap(pos(updated=2_100), source="stream", taken=2_100, complete=False),
        received_at_ms=2_100,
    )
    # Sent at 2_000, before the fill at 2_100 that the stream already reported.
    changes = book.apply(snap(source="account", taken=2_000), received_at_ms=2_200)
    assert changes.empty
    assert open_keys(book) == [BTC]


def test_key_absent_from_a_complete_snapshot_survives_if_answered_later_with_a_newer_change() -> (
    None
):
    book = PositionBook()
    # Sent at 1_950, answered after a fill at 2_050; the account request sent at 2_000 was
    # answered before that fill.
    book.apply(snap(pos(updated=2_050), source="position_risk", taken=1_950), 2_100)
    changes = book.apply(snap(source="account", taken=2_000), received_at_ms=2_120)
    assert changes.empty
    assert open_keys(book) == [BTC]


def test_key_absent_from_a_complete_snapshot_survives_if_a_later_snapshot_reported_it() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000), source="position_risk", taken=3_000), 3_050)
    # An answer to a request sent at 2_000 arrives late: it must not undo the one sent at 3_000.
    changes = book.apply(snap(source="account", taken=2_000), received_at_ms=3_100)
    assert changes.empty
    assert open_keys(book) == [BTC]


def test_no_positions_in_a_fresh_complete_snapshot_clears_every_older_key() -> None:
    book = PositionBook()
    book.apply(
        snap(
            pos(BTC_LONG, updated=1_000),
            pos(BTC_SHORT, "-1", updated=1_100),
            pos(ETH, updated=1_200),
            taken=1_500,
        ),
        received_at_ms=1_500,
    )
    changes = book.apply(snap(source="account", taken=2_000), received_at_ms=2_000)
    assert changes == BookChanges(closed=(BTC_LONG, BTC_SHORT, ETH))
    assert open_keys(book) == []


def test_incomplete_snapshot_never_closes_keys_it_leaves_out() -> None:
    book = PositionBook()
    book.apply(snap(pos(BTC, updated=1_000), pos(ETH, updated=1_000), taken=1_500), 1_500)
    changes = book.apply(snap(pos(ETH, updated=1_000), taken=5_000, complete=False), 5_000)
    assert changes.empty
    assert open_keys(book) == [BTC, ETH]


def test_report_older_than_a_complete_snapshot_cannot_reopen_a_key_it_left_out() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=3_000), received_at_ms=3_000)
    # Sent at 2_000 (before ETH was closed), answered after the account said "no positions".
    changes = book.apply(snap(pos(ETH, updated=1_500), taken=2_000), received_at_ms=3_100)
    assert changes.empty
    assert open_keys(book) == []


def test_the_latest_complete_snapshot_bounds_reports_of_keys_left_out() -> None:
    book = PositionBook()
    for taken in (1_000, 3_000, 2_000):  # the answer to the request sent at 2_000 comes last
        book.apply(snap(source="account", taken=taken), received_at_ms=3_500)
    changes = book.apply(snap(pos(ETH, updated=2_500), taken=2_600), received_at_ms=3_600)
    assert changes.empty
    assert open_keys(book) == []


def test_report_changed_after_a_complete_snapshot_opens_a_key_it_left_out() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=3_000), received_at_ms=3_000)
    changes = book.apply(snap(pos(ETH, updated=3_000), taken=3_500), received_at_ms=3_600)
    assert changes == BookChanges(opened=(ETH,))


def test_closed_key_reopens_when_a_newer_change_is_reported() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=1_000), taken=1_500), received_at_ms=1_500)
    book.apply(snap(taken=2_000), received_at_ms=2_000)
    changes = book.apply(snap(pos(amount="0.5", updated=2_500), taken=3_000), 3_000)
    assert changes == BookChanges(opened=(BTC,))
    assert held(book, BTC).amount == Decimal("0.5")


# --- duplicates and order -------------------------------------------------------------------


def test_same_snapshot_applied_twice_changes_nothing_the_second_time() -> None:
    book = PositionBook()
    snapshot = snap(
        pos(BTC, updated=1_000, mark="60100"),
        pos(ETH, "0", updated=900),
        taken=1_500,
        source="account",
        balances=(bal(updated=1_000),),
    )
    first = book.apply(snapshot, received_at_ms=1_550)
    view = book.view(now_ms=2_000)
    second = book.apply(snapshot, received_at_ms=1_550)
    assert first == BookChanges(opened=(BTC,), balances_changed=("USDT",))
    assert second.empty
    assert book.view(now_ms=2_000) == view


def test_older_snapshot_applied_after_a_newer_one_does_not_undo_it() -> None:
    old = snap(pos(BTC, "0.010", updated=1_000, mark="60000"), pos(ETH, updated=1_000), taken=2_000)
    new = snap(pos(BTC, "0.020", updated=2_500, mark="60500"), taken=3_000)
    book = PositionBook()
    book.apply(new, received_at_ms=3_100)
    changes = book.apply(old, received_at_ms=3_200)
    assert changes.empty
    assert open_keys(book) == [BTC]
    assert held(book, BTC).amount == Decimal("0.020")
    assert held(book, BTC).mark_price == Decimal("60500")


def test_out_of_order_result_equals_in_order_result() -> None:
    snapshots = [
        snap(pos(BTC, "0.010", updated=1_000), pos(ETH, updated=1_000), taken=2_000),
        snap(pos(BTC, "0.020", updated=2_500, mark="1"), taken=3_000),
        snap(pos(BTC, "0.020", updated=2_500, mark="2"), pos(ETH, "1", updated=3_900), taken=4_000),
    ]
    in_order, shuffled = PositionBook(), PositionBook()
    for snapshot in snapshots:
        in_order.apply(snapshot, received_at_ms=5_000)
    for snapshot in reversed(snapshots):
        shuffled.apply(snapshot, received_at_ms=5_000)
    assert shuffled.view(now_ms=6_000) == in_order.view(now_ms=6_000)
    assert held(in_order, BTC).mark_price == Decimal("2")
    assert held(in_order, ETH).amount == Decimal("1")


# --- hedge mode -----------------------------------------------------------------------------


def test_hedge_mode_long_and_short_of_one_symbol_are_separate_keys() -> None:
    book = PositionBook()
    book.apply(
        snap(
            pos(BTC_LONG, "0.3", updated=1_000), pos(BTC_SHORT, "-0.1", updated=1_100), taken=1_500
        ),
        received_at_ms=1_500,
    )
    changes = book.apply(
        snap(pos(BTC_SHORT, "0", updated=2_000), source="stream", taken=2_000, complete=False),
        received_at_ms=2_000,
    )
    assert changes == BookChanges(closed=(BTC_SHORT,))
    assert held(book, BTC_LONG).amount == Decimal("0.3")
    changes = book.apply(snap(pos(BTC_LONG, "0.3", updated=1_000), taken=2_500), 2_500)
    assert changes.empty
    assert open_keys(book) == [BTC_LONG]


# --- the user-data stream against REST ------------------------------------------------------


def stream(
    *positions: PositionRecord, at: int, balances: tuple[BalanceRecord, ...] = ()
) -> SourceSnapshot:
    """An ACCOUNT_UPDATE as parse_account_update gives it: incomplete, taken at T."""
    return snap(*positions, source="stream", taken=at, complete=False, balances=balances)


def opened_by_the_stream_at_100() -> PositionBook:
    book = PositionBook()
    changes = book.apply(stream(pos(amount="0.5", updated=100), at=100), received_at_ms=101)
    assert changes == BookChanges(opened=(BTC,))
    return book


def test_rest_snapshot_taken_before_the_stream_opened_a_position_does_not_close_it() -> None:
    book = opened_by_the_stream_at_100()
    changes = book.apply(snap(source="account", taken=90), received_at_ms=110)
    assert changes.empty
    assert held(book, BTC).amount == Decimal("0.5")


def test_rest_record_with_an_older_update_time_does_not_overwrite_the_stream() -> None:
    book = opened_by_the_stream_at_100()
    changes = book.apply(snap(pos(amount="0.2", updated=80), taken=150), received_at_ms=160)
    assert changes.empty
    assert held(book, BTC).amount == Decimal("0.5")
    assert held(book, BTC).update_time_ms == 100


def test_stream_zero_closes_and_an_older_rest_record_cannot_reopen_it() -> None:
    book = opened_by_the_stream_at_100()
    closed = book.apply(stream(pos(amount="0", updated=200), at=200), received_at_ms=201)
    assert closed == BookChanges(closed=(BTC,))
    # Sent after the close, but it read a record last changed at 150.
    stale = book.apply(
        snap(pos(amount="0.7", updated=150), source="position_risk", taken=250),
        received_at_ms=260,
    )
    assert stale.empty
    assert open_keys(book) == []


def test_complete_rest_snapshot_without_a_key_the_stream_closed_keeps_it_closed() -> None:
    book = opened_by_the_stream_at_100()
    book.apply(stream(pos(amount="0", updated=200), at=200), received_at_ms=201)
    changes = book.apply(snap(source="account", taken=300), received_at_ms=310)
    assert changes.empty
    assert open_keys(book) == []
    # Nor can a record older than that snapshot bring it back afterwards.
    assert book.apply(snap(pos(updated=150), taken=160), received_at_ms=320).empty
    assert open_keys(book) == []


def test_duplicate_stream_event_changes_nothing_the_second_time() -> None:
    event = stream(
        pos(amount="0.5", updated=100, pnl="1"),
        at=100,
        balances=(BalanceRecord("USDT", Decimal("-113.29772855"), update_time_ms=100),),
    )
    book = PositionBook()
    first = book.apply(event, received_at_ms=101)
    view = book.view(now_ms=1_000)
    second = book.apply(event, received_at_ms=101)
    assert first == BookChanges(opened=(BTC,), balances_changed=("USDT",))
    assert second.empty
    assert book.view(now_ms=1_000) == view


def test_stream_event_arriving_after_a_later_one_does_not_regress_the_book() -> None:
    book = PositionBook()
    book.apply(
        stream(
            pos(amount="0.3", updated=130),
            at=130,
            balances=(BalanceRecord("USDT", Decimal("90"), update_time_ms=130),),
        ),
        received_at_ms=131,
    )
    changes = book.apply(
        stream(
            pos(amount="0.2", updated=120),
            at=120,
            balances=(BalanceRecord("USDT", Decimal("95"), update_time_ms=120),),
        ),
        received_at_ms=132,
    )
    assert changes.empty
    assert held(book, BTC).amount == Decimal("0.3")
    assert book.view(now_ms=1_000).balances[0].wallet_balance == Decimal("90")


def test_stream_zero_for_a_key_rest_opened_later_is_ignored() -> None:
    book = PositionBook()
    book.apply(snap(pos(updated=500), source="position_risk", taken=600), received_at_ms=610)
    changes = book.apply(stream(pos(amount="0", updated=400), at=400), received_at_ms=620)
    assert changes.empty
    assert open_keys(book) == [BTC]


def test_stream_and_rest_amounts_for_the_same_update_time_are_a_disagreement() -> None:
    book = opened_by_the_stream_at_100()
    changes = book.apply(
        snap(pos(amount="0.4", updated=100), source="position_risk", taken=150),
        received_at_ms=160,
    )
    assert changes.disagreements == (BTC,)
    # The later answer about the same change wins; the alert says the sources disagreed.
    assert held(book, BTC).amount == Decimal("0.4")


def test_rest_answer_then_stream_event_for_the_same_change_disagreeing_is_reported() -> None:
    book = PositionBook()
    book.apply(snap(pos(amount="0.4", updated=100), taken=150), received_at_ms=160)
    changes = book.apply(stream(pos(amount="0.5", updated=100), at=100), received_at_ms=170)
    assert changes == BookChanges(disagreements=(BTC,))
    assert held(book, BTC).amount == Decimal("0.4")


# --- changes the stream missed ---------------------------------------------------------------


def stream_missing_book() -> PositionBook:
    """A book with BTC 0.010, then a change to 0.020 at 5 000 that only REST reported."""
    book = PositionBook(stream_grace_ms=3_000)
    book.apply(snap(pos(amount="0.010", updated=1_000), taken=2_000), received_at_ms=2_000)
    changes = book.apply(snap(pos(amount="0.020", updated=5_000), taken=5_500), received_at_ms=0)
    assert changes.unstreamed == ()  # the stream still has its grace
    return book


def test_rest_change_the_stream_never_reports_is_unstreamed_once_its_grace_ends() -> None:
    book = stream_missing_book()
    assert book.apply(snap(pos(amount="0.020", updated=5_000), taken=8_000), 0).unstreamed == ()
    changes = book.apply(snap(pos(amount="0.020", updated=5_000), taken=8_001), received_at_ms=0)
    assert changes.unstreamed == (BTC,)
    assert held(book, BTC).amount == Decimal("0.020")
    later = book.apply(snap(pos(amount="0.020", updated=5_000), taken=9_000), received_at_ms=0)
    assert later.unstreamed == ()  # reported once


def test_stream_reporting_the_change_after_rest_clears_it() -> None:
    book = stream_missing_book()
    book.apply(stream(pos(amount="0.020", updated=5_000), at=5_000), received_at_ms=0)
    changes = book.apply(snap(pos(amount="0.020", updated=5_000), taken=9_000), received_at_ms=0)
    assert changes.unstreamed == ()


def test_stream_reporting_a_later_change_clears_the_awaited_one() -> None:
    book = stream_missing_book()
    book.apply(stream(pos(amount="0.030", updated=6_000), at=6_000), received_at_ms=0)
    changes = book.apply(snap(pos(amount="0.030", updated=6_000), taken=9_500), received_at_ms=0)
    assert changes.unstreamed == ()


def test_change_the_stream_brought_first_is_never_awaited() -> None:
    book = PositionBook(stream_grace_ms=3_000)
    book.apply(snap(pos(amount="0.010", updated=1_000), taken=2_000), received_at_ms=0)
    book.apply(stream(pos(amount="0.020", updated=5_000), at=5_000), received_at_ms=0)
    changes = book.apply(snap(pos(amount="0.020", updated=5_000), taken=9_000), received_at_ms=0)
    assert changes.unstreamed == ()


def test_positions_of_the_first_complete_snapshot_are_never_awaited() -> None:
    book = PositionBook(stream_grace_ms=3_000)
    book.apply(snap(pos(updated=1_000), taken=2_000), received_at_ms=0)
    changes = book.apply(snap(pos(updated=1_000), taken=60_000), received_at_ms=0)
    assert changes == BookChanges()


def test_newer_marks_alone_from_rest_are_never_awaited() -> None:
    book = PositionBook(stream_grace_ms=3_000)
    book.apply(snap(pos(updated=1_000, mark="60000"), taken=2_000), received_at_ms=0)
    book.apply(snap(pos(updated=1_000, mark="61000"), taken=3_000), received_at_ms=0)
    changes = book.apply(snap(pos(updated=1_000, mark="61000"), taken=9_000), received_at_ms=0)
    assert changes.unstreamed == ()


# --- silent sources ---------------------------------------------------------------------------

MAX_AGE = {"account": 10_000, "position_risk": 5_000, "stream": 60_000}


def test_sources_never_heard_from_are_silent() -> None:
    assert PositionBook().silent_sources(now_ms=0, max_age_ms=MAX_AGE) == (
        "account",
        "position_risk",
        "stream",
    )


def test_source_is_silent_only_once_its_last_answer_is_older_than_allowed() -> None:
    book = PositionBook()
    for source in MAX_AGE:
        book.apply(snap(source=source, taken=1_000, complete=False), received_at_ms=1_000)
    assert book.silent_sources(now_ms=6_000, max_age_ms=MAX_AGE) == ()
    assert book.silent_sources(now_ms=6_001, max_age_ms=MAX_AGE) == ("position_risk",)
    assert book.silent_sources(now_ms=11_001, max_age_ms=MAX_AGE) == ("account", "position_risk")


def test_answer_received_again_ends_a_sources_silence() -> None:
    book = PositionBook()
    book.apply(snap(source="position_risk", taken=1_000), received_at_ms=1_000)
    assert book.silent_sources(now_ms=7_000, max_age_ms=MAX_AGE) == (
        "account",
        "position_risk",
        "stream",
    )
    book.apply(snap(source="position_risk", taken=6_900), received_at_ms=7_000)
    assert book.silent_sources(now_ms=7_000, max_age_ms={"position_risk": 5_000}) == ()


def test_sources_left_out_of_the_allowed_ages_are_never_silent() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=1_000), received_at_ms=1_000)
    assert book.silent_sources(now_ms=10**9, max_age_ms={"stream": 60_000}) == ("stream",)
    assert book.silent_sources(now_ms=10**9, max_age_ms={}) == ()


def test_late_answer_to_an_old_request_counts_as_hearing_from_the_source() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=1_000), received_at_ms=9_000)
    assert book.silent_sources(now_ms=15_000, max_age_ms={"account": 10_000}) == ()


def test_book_keeps_merging_the_other_sources_while_one_is_silent() -> None:
    book = opened_by_the_stream_at_100()
    # The stream falls silent; positionRisk sees the position grow, then the account sees it gone.
    grown = book.apply(snap(pos(amount="0.8", updated=60_000), taken=64_000), received_at_ms=64_100)
    assert grown == BookChanges(changed=(BTC,))
    assert book.silent_sources(now_ms=64_200, max_age_ms=MAX_AGE) == ("account", "stream")
    closed = book.apply(snap(source="account", taken=65_000), received_at_ms=65_100)
    assert closed == BookChanges(closed=(BTC,))
    assert open_keys(book) == []
    assert book.silent_sources(now_ms=65_200, max_age_ms=MAX_AGE) == ("stream",)


def test_book_vouches_for_flat_keys_only_while_a_complete_source_is_fresh() -> None:
    book = PositionBook()
    assert not book.complete_and_fresh(now_ms=0, max_age_ms=MAX_AGE)  # nothing heard yet
    book.apply(snap(source="stream", taken=1_000, complete=False), received_at_ms=1_000)
    assert not book.complete_and_fresh(now_ms=1_000, max_age_ms=MAX_AGE)  # the stream is partial
    book.apply(snap(source="position_risk", taken=1_000), received_at_ms=1_000)
    assert book.complete_and_fresh(now_ms=6_000, max_age_ms=MAX_AGE)
    assert not book.complete_and_fresh(now_ms=6_001, max_age_ms=MAX_AGE)
    book.apply(snap(source="account", taken=5_900), received_at_ms=6_000)
    assert book.complete_and_fresh(now_ms=16_000, max_age_ms=MAX_AGE)  # the account still is


def test_a_complete_source_without_an_allowed_age_never_vouches() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=1_000), received_at_ms=1_000)
    assert not book.complete_and_fresh(now_ms=1_000, max_age_ms={"stream": 60_000})


# --- balances -------------------------------------------------------------------------------


def test_balances_merge_per_asset_by_update_time() -> None:
    book = PositionBook()
    book.apply(
        snap(
            source="account",
            taken=2_000,
            balances=(bal("USDT", "100", updated=1_000), bal("BNB", "1", updated=500)),
        ),
        received_at_ms=2_000,
    )
    changes = book.apply(
        snap(
            source="stream",
            taken=2_500,
            complete=False,
            balances=(BalanceRecord("USDT", Decimal("90"), update_time_ms=2_500),),
        ),
        received_at_ms=2_500,
    )
    assert changes == BookChanges(balances_changed=("USDT",))
    stale = book.apply(
        snap(
            source="account",
            taken=2_400,
            balances=(bal("USDT", "100", updated=1_000), bal("BNB", "1", updated=500)),
        ),
        received_at_ms=2_600,
    )
    assert stale.empty
    balances = {b.asset: b for b in book.view(now_ms=3_000).balances}
    assert [b.asset for b in book.view(now_ms=3_000).balances] == ["BNB", "USDT"]
    assert balances["USDT"].wallet_balance == Decimal("90")
    # A newer record replaces the whole record: what it leaves out is not carried over.
    assert balances["USDT"].available_balance is None


def test_snapshot_without_balances_leaves_balances_alone() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=1_000, balances=(bal(updated=900),)), 1_000)
    changes = book.apply(snap(source="position_risk", taken=2_000), received_at_ms=2_000)
    assert changes.empty
    assert [b.asset for b in book.view(now_ms=3_000).balances] == ["USDT"]


def test_asset_absent_from_a_complete_balance_list_is_removed() -> None:
    book = PositionBook()
    book.apply(
        snap(
            source="account",
            taken=1_000,
            balances=(bal("USDT", updated=900), bal("BNB", updated=900)),
        ),
        received_at_ms=1_000,
    )
    changes = book.apply(
        snap(source="account", taken=2_000, balances=(bal("USDT", updated=900),)), 2_000
    )
    assert changes == BookChanges(balances_changed=("BNB",))
    assert [b.asset for b in book.view(now_ms=3_000).balances] == ["USDT"]


def test_newer_balance_update_time_with_the_same_wallet_is_a_change() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=1_000, balances=(bal(updated=900),)), 1_000)
    changes = book.apply(snap(source="account", taken=2_000, balances=(bal(updated=1_900),)), 2_000)
    assert changes == BookChanges(balances_changed=("USDT",))


def test_another_wallet_balance_for_the_same_update_time_is_a_change() -> None:
    book = PositionBook()
    book.apply(
        snap(source="account", taken=1_000, balances=(bal("USDT", "100", updated=900),)), 1_000
    )
    changes = book.apply(
        snap(source="account", taken=2_000, balances=(bal("USDT", "99", updated=900),)), 2_000
    )
    assert changes == BookChanges(balances_changed=("USDT",))
    assert book.view(now_ms=3_000).balances[0].wallet_balance == Decimal("99")


def test_fresher_unrealized_pnl_alone_is_not_a_balance_change() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=1_000, balances=(bal(updated=900, pnl="1"),)), 1_000)
    changes = book.apply(
        snap(source="account", taken=2_000, balances=(bal(updated=900, pnl="2"),)), 2_000
    )
    assert changes.empty
    assert book.view(now_ms=3_000).balances[0].unrealized_pnl == Decimal("2")


# --- disagreements ----------------------------------------------------------------------------


def test_sources_giving_different_amounts_for_the_same_update_time_are_reported() -> None:
    book = PositionBook()
    book.apply(snap(pos(amount="0.010", updated=1_000), source="account", taken=2_000), 2_000)
    changes = book.apply(
        snap(pos(amount="0.020", updated=1_000), source="position_risk", taken=2_500), 2_500
    )
    assert changes.disagreements == (BTC,)
    assert changes.changed == (BTC,)
    assert not changes.empty
    assert held(book, BTC).amount == Decimal("0.020")


def test_disagreement_is_reported_even_when_the_report_is_too_old_to_apply() -> None:
    book = PositionBook()
    book.apply(snap(pos(amount="0.010", updated=1_000), source="account", taken=2_000), 2_000)
    changes = book.apply(
        snap(pos(amount="0.020", updated=1_000), source="position_risk", taken=1_500), 2_500
    )
    assert changes == BookChanges(disagreements=(BTC,))
    assert held(book, BTC).amount == Decimal("0.010")


def test_agreeing_sources_report_no_disagreement() -> None:
    book = PositionBook()
    book.apply(snap(pos(amount="0.010", updated=1_000), source="account", taken=2_000), 2_000)
    changes = book.apply(
        snap(pos(amount="0.0100", updated=1_000, mark="1"), source="position_risk", taken=2_500),
        2_500,
    )
    assert changes.disagreements == ()


# --- sources and the view -------------------------------------------------------------------


def test_view_reports_each_sources_times_and_age() -> None:
    book = PositionBook()
    book.apply(snap(source="position_risk", taken=1_000), received_at_ms=1_040)
    book.apply(snap(source="account", taken=1_500), received_at_ms=1_600)
    assert book.view(now_ms=2_000).sources == (
        SourceStatus("account", taken_at_ms=1_500, received_at_ms=1_600, age_ms=400),
        SourceStatus("position_risk", taken_at_ms=1_000, received_at_ms=1_040, age_ms=960),
    )


def test_an_older_snapshot_does_not_move_a_sources_taken_at_backwards() -> None:
    book = PositionBook()
    book.apply(snap(source="account", taken=3_000), received_at_ms=3_100)
    book.apply(snap(source="account", taken=2_000), received_at_ms=3_300)
    (status,) = book.view(now_ms=4_000).sources
    assert (status.taken_at_ms, status.received_at_ms, status.age_ms) == (3_000, 3_300, 700)


def test_to_dict_keeps_the_exact_decimal_text_and_is_json() -> None:
    book = PositionBook()
    book.apply(
        snap(
            pos(amount="0.010", updated=1_000, entry="67445.90000000", mark="67502.68519858"),
            pos(ETH, "-1.000", updated=1_100, entry="2E+3"),
            source="account",
            taken=1_500,
            balances=(BalanceRecord("USDT", Decimal("3.72964781"), update_time_ms=1_000),),
        ),
        received_at_ms=1_520,
    )
    data = book.view(now_ms=2_000).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "now_ms": 2_000,
        "positions": [
            {
                "symbol": "BTCUSDT",
                "position_side": "BOTH",
                "amount": "0.010",
                "entry_price": "67445.90000000",
                "update_time_ms": 1_000,
                "break_even_price": None,
                "mark_price": "67502.68519858",
                "unrealized_pnl": None,
                "liquidation_price": None,
            },
            {
                "symbol": "ETHUSDT",
                "position_side": "BOTH",
                "amount": "-1.000",
                "entry_price": "2000",
                "update_time_ms": 1_100,
                "break_even_price": None,
                "mark_price": None,
                "unrealized_pnl": None,
                "liquidation_price": None,
            },
        ],
        "balances": [
            {
                "asset": "USDT",
                "wallet_balance": "3.72964781",
                "update_time_ms": 1_000,
                "unrealized_pnl": None,
                "margin_balance": None,
                "available_balance": None,
            }
        ],
        "sources": [
            {"source": "account", "taken_at_ms": 1_500, "received_at_ms": 1_520, "age_ms": 480}
        ],
    }


def test_empty_book_views_as_empty_lists() -> None:
    assert PositionBook().view(now_ms=1).to_dict() == {
        "now_ms": 1,
        "positions": [],
        "balances": [],
        "sources": [],
    }


# --- snapshot and changes values ------------------------------------------------------------


def test_snapshot_listing_a_position_twice_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"account: positions listed twice: \['BTCUSDT BOTH'\]"):
        snap(pos(updated=1), pos(updated=2), source="account", taken=3)


def test_snapshot_listing_an_asset_twice_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"balances listed twice: \['USDT'\]"):
        snap(taken=3, balances=(bal(updated=1), bal(updated=2)))


@pytest.mark.parametrize(
    "changes",
    [
        BookChanges(opened=(BTC,)),
        BookChanges(changed=(BTC,)),
        BookChanges(closed=(BTC,)),
        BookChanges(balances_changed=("USDT",)),
        BookChanges(disagreements=(BTC,)),
    ],
)
def test_changes_with_anything_in_them_are_not_empty(changes: BookChanges) -> None:
    assert not changes.empty
    assert BookChanges().empty
