"""The Ledger's pure logic: fills, entries, reconciliation and income paging."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from pydantic import ValidationError

from riskd.core.clock import DAY_MS
from riskd.exchange.parse import PayloadError
from riskd.exchange.parse_income import IncomeRecord
from riskd.exchange.parse_orders import parse_order_update
from riskd.risk.ledger import (
    Fill,
    IncomePagerConfig,
    IncomeRequest,
    LedgerEntry,
    PageOutcome,
    advance_income_cursor,
    entries_from_fills,
    entries_from_income,
    fill_from_order_update,
    next_income_request,
    reconcile_keys,
    settlement_asset,
    stop_out,
)
from riskd.risk.rules import StopOut
from tests.kit.fixtures import load_binance
from tests.kit.samples import income_record, make_fill

NOW_MS = 1_800_000_000_000
CONFIG = IncomePagerConfig()


def _trade_event(**order: object) -> dict:
    event = load_binance("docs/ws_ORDER_TRADE_UPDATE.docs.json")
    event["o"].update(
        {
            "x": "TRADE",
            "X": "FILLED",
            "o": "MARKET",
            "ot": "STOP_MARKET",
            "l": "0.001",
            "L": "7100.5",
            "z": "0.001",
            "n": "0.00284",
            "N": "USDT",
            "t": 123456,
            "m": False,
            "rp": "-1.25",
            **order,
        }
    )
    return event


# --- fills -------------------------------------------------------------------------------------


def test_trade_event_becomes_a_fill_with_the_original_type_and_transaction_time() -> None:
    fill = fill_from_order_update(parse_order_update(_trade_event()))
    assert fill == Fill(
        symbol="BTCUSDT",
        trade_id=123456,
        order_id=8886774,
        client_order_id="TEST",
        side="SELL",
        position_side="LONG",
        order_type="STOP_MARKET",
        price=Decimal("7100.5"),
        qty=Decimal("0.001"),
        realized_pnl=Decimal("-1.25"),
        commission=Decimal("0.00284"),
        commission_asset="USDT",
        maker=False,
        time_ms=1568879465650,
    )


@pytest.mark.parametrize("execution_type", ["NEW", "CANCELED", "EXPIRED", "AMENDMENT"])
def test_non_trade_events_make_no_fill(execution_type: str) -> None:
    update = parse_order_update(_trade_event(x=execution_type))
    assert fill_from_order_update(update) is None


# --- entries -----------------------------------------------------------------------------------


def test_income_rows_become_signed_entries_by_kind() -> None:
    records = [
        income_record(1, "REALIZED_PNL", "-10", trade_id="1"),
        income_record(1, "COMMISSION", "-0.5", trade_id="1"),
        income_record(2, "FUNDING_FEE", "-0.6", trade_id=""),
        income_record(3, "TRANSFER", "100", trade_id=""),
    ]
    assert [(e.kind, e.amount) for e in entries_from_income(records)] == [
        ("realized_pnl", Decimal("-10")),
        ("commission", Decimal("-0.5")),
        ("funding_fee", Decimal("-0.6")),
        ("other", Decimal("100")),
    ]


def test_unreconciled_fill_counts_pnl_and_commission_as_negative() -> None:
    assert entries_from_fills([make_fill()], set()) == [
        LedgerEntry(1000, "BTCUSDT", "realized_pnl", Decimal("-10"), "USDT", "1", "c"),
        LedgerEntry(1000, "BTCUSDT", "commission", Decimal("-0.5"), "USDT", "1", "c"),
    ]


def test_opening_fill_with_zero_pnl_makes_only_a_commission_entry() -> None:
    entries = entries_from_fills([make_fill(pnl="0")], set())
    assert [e.kind for e in entries] == ["commission"]


def test_fill_commission_in_bnb_keeps_its_asset_and_pnl_settles_in_the_quote() -> None:
    fill = dataclasses.replace(make_fill(), commission_asset="BNB")
    assert [(e.kind, e.asset) for e in entries_from_fills([fill], set())] == [
        ("realized_pnl", "USDT"),
        ("commission", "BNB"),
    ]


def test_fill_booked_as_income_counts_once() -> None:
    records = [
        income_record(1, "REALIZED_PNL", "-10", trade_id="1"),
        income_record(1, "COMMISSION", "-0.5", trade_id="1"),
    ]
    entries = entries_from_income(records) + entries_from_fills(
        [make_fill()], reconcile_keys(records)
    )
    assert sum(e.amount for e in entries) == Decimal("-10.5")


def test_fill_whose_commission_is_booked_but_not_yet_its_pnl_keeps_the_pnl() -> None:
    records = [income_record(1, "COMMISSION", "-0.5", trade_id="1")]
    entries = entries_from_income(records) + entries_from_fills(
        [make_fill()], reconcile_keys(records)
    )
    assert sorted((e.kind, e.amount) for e in entries) == [
        ("commission", Decimal("-0.5")),
        ("realized_pnl", Decimal("-10")),
    ]


def test_income_of_another_symbol_with_the_same_trade_id_does_not_reconcile() -> None:
    other = IncomeRecord(1, "REALIZED_PNL", "ETHUSDT", "USDT", Decimal("-1"), 1000, "1", "")
    assert len(entries_from_fills([make_fill()], reconcile_keys([other]))) == 2


@pytest.mark.parametrize(
    ("symbol", "asset"),
    [("BTCUSDT", "USDT"), ("BTCUSDC", "USDC"), ("BTCUSDT_260327", "USDT"), ("ETHBTC", "USDT")],
)
def test_settlement_asset_is_the_quote(symbol: str, asset: str) -> None:
    assert settlement_asset(symbol) == asset


# --- paging ------------------------------------------------------------------------------------


def test_request_starts_at_the_cursor_and_spans_at_most_seven_days() -> None:
    start = NOW_MS - 30 * DAY_MS
    assert next_income_request(start, NOW_MS, CONFIG) == IncomeRequest(
        start, start + 7 * DAY_MS - 1, 1000
    )
    assert next_income_request(start, NOW_MS, CONFIG).params() == {
        "startTime": start,
        "endTime": start + 7 * DAY_MS - 1,
        "limit": 1000,
    }


def test_request_near_now_ends_at_now() -> None:
    assert next_income_request(NOW_MS - 5_000, NOW_MS, CONFIG).end_time_ms == NOW_MS


def test_request_never_starts_before_the_kept_history() -> None:
    assert next_income_request(0, NOW_MS, CONFIG).start_time_ms == NOW_MS - 90 * DAY_MS


def _page(request: IncomeRequest, times: list[int]) -> list[IncomeRecord]:
    return [income_record(i, "COMMISSION", "-1", time_ms=t) for i, t in enumerate(times)]


def test_full_page_resumes_at_its_last_time_inclusive() -> None:
    request = IncomeRequest(1000, 9000, 3)
    outcome = advance_income_cursor(request, _page(request, [1000, 1500, 2000]), NOW_MS, CONFIG)
    assert outcome == PageOutcome(next_cursor_ms=2000, caught_up=False)


def test_full_page_all_in_its_start_ms_skips_that_ms_and_says_so() -> None:
    request = IncomeRequest(1000, 9000, 3)
    outcome = advance_income_cursor(request, _page(request, [1000, 1000, 1000]), NOW_MS, CONFIG)
    assert outcome == PageOutcome(next_cursor_ms=1001, caught_up=False, skipped_ms=1000)


def test_full_page_all_in_one_later_ms_rereads_that_ms_first() -> None:
    request = IncomeRequest(1000, 9000, 3)
    outcome = advance_income_cursor(request, _page(request, [4000, 4000, 4000]), NOW_MS, CONFIG)
    assert outcome == PageOutcome(next_cursor_ms=4000, caught_up=False)


def test_short_page_of_an_old_window_moves_past_its_end() -> None:
    request = IncomeRequest(1000, 9000, 3)
    outcome = advance_income_cursor(request, _page(request, [2000]), NOW_MS, CONFIG)
    assert outcome == PageOutcome(next_cursor_ms=9001, caught_up=False)


def test_short_page_up_to_now_stops_the_settle_lag_behind_now() -> None:
    request = next_income_request(NOW_MS - 3_600_000, NOW_MS, CONFIG)
    outcome = advance_income_cursor(request, [], NOW_MS, CONFIG)
    assert outcome == PageOutcome(next_cursor_ms=NOW_MS - 60_000, caught_up=True)


def test_short_page_within_the_settle_window_keeps_the_cursor() -> None:
    request = next_income_request(NOW_MS - 10_000, NOW_MS, CONFIG)
    outcome = advance_income_cursor(request, [], NOW_MS, CONFIG)
    assert outcome == PageOutcome(next_cursor_ms=NOW_MS - 10_000, caught_up=True)


def test_row_outside_the_requested_window_is_a_payload_error() -> None:
    request = IncomeRequest(1000, 9000, 3)
    with pytest.raises(PayloadError, match=r"\[1\]\.time: 9001 is outside the requested"):
        advance_income_cursor(request, _page(request, [2000, 9001]), NOW_MS, CONFIG)


def test_paging_a_burst_reads_every_ms_and_ends_caught_up() -> None:
    config = IncomePagerConfig(page_limit=2, settle_ms=0)
    times = [NOW_MS - 50, NOW_MS - 50, NOW_MS - 50, NOW_MS - 20, NOW_MS - 10]
    seen: set[int] = set()
    cursor = NOW_MS - 100
    for _ in range(20):
        request = next_income_request(cursor, NOW_MS, config)
        rows = [
            (i, t) for i, t in enumerate(times) if request.start_time_ms <= t <= request.end_time_ms
        ][: request.limit]
        seen.update(i for i, _ in rows)
        records = [income_record(i, "COMMISSION", "-1", time_ms=t) for i, t in rows]
        outcome = advance_income_cursor(request, records, NOW_MS, config)
        cursor = outcome.next_cursor_ms
        if outcome.caught_up:
            break
    assert outcome.caught_up
    assert seen == {0, 1, 3, 4}  # the third row of the ms that filled a page is reported lost
    assert cursor == NOW_MS


@pytest.mark.parametrize("limit", [0, 1001])
def test_page_limit_must_be_what_binance_accepts(limit: int) -> None:
    with pytest.raises(ValidationError, match="page_limit"):
        IncomePagerConfig(page_limit=limit)


def test_window_must_outlast_the_settle_lag() -> None:
    with pytest.raises(ValidationError, match="max_window_ms must be longer than settle_ms"):
        IncomePagerConfig(max_window_ms=60_000, settle_ms=60_000)


@pytest.mark.parametrize(
    ("order_type", "side", "position_side", "pnl", "expected"),
    [
        ("STOP_MARKET", "SELL", "LONG", "-10", "long"),
        ("STOP_MARKET", "BUY", "SHORT", "-10", "short"),
        ("STOP", "SELL", "BOTH", "-10", "long"),
        ("STOP_MARKET", "BUY", "BOTH", "5", "short"),
        ("STOP_MARKET", "BUY", "LONG", "0", None),  # a stop entry opens a long
        ("STOP_MARKET", "SELL", "BOTH", "0", None),  # one-way: no PnL, it opened a short
        ("MARKET", "SELL", "LONG", "-10", None),
        ("TAKE_PROFIT_MARKET", "SELL", "LONG", "10", None),
    ],
)
def test_a_stop_out_is_a_stop_orders_fill_that_reduced_a_position(
    order_type: str, side: str, position_side: str, pnl: str, expected: str | None
) -> None:
    fill = dataclasses.replace(
        make_fill(pnl=pnl, time_ms=5000),
        order_type=order_type,
        side=side,
        position_side=position_side,
    )

    assert stop_out(fill) == (None if expected is None else StopOut(5000, "BTCUSDT", expected))
