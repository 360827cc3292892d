"""Binance account, positionRisk and ACCOUNT_UPDATE payloads → PositionBook snapshots."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from riskd.exchange.parse import (
    PayloadError,
    parse_account,
    parse_account_update,
    parse_position_risk,
)
from riskd.positions import (
    BalanceRecord,
    BookChanges,
    PositionBook,
    PositionKey,
    PositionRecord,
)
from tests.kit.fixtures import load_binance

RISK_A = "real/fapi_v3_positionRisk.ccxt_real_2024-07-28_a.json"
RISK_B = "real/fapi_v3_positionRisk.ccxt_real_2024-07-28_b.json"
ACCOUNT_V3_REAL = "real/fapi_v3_account.ccxt_real_2024-07-28.json"
ACCOUNT_V2_REAL = "real/fapi_v2_account.ccxt_real_2023-11.json"
ACCOUNT_V2_DOCS = "docs/fapi_v2_account.sdk_docs.json"
ACCOUNT_V3_DOCS = "docs/fapi_v3_account.sdk_docs.json"
RISK_V3_ONEWAY = "docs/fapi_v3_positionRisk_oneway.sdk_docs.json"
RISK_V3_HEDGE = "docs/fapi_v3_positionRisk_hedge.docs.json"
RISK_V2_ONEWAY = "docs/fapi_v2_positionRisk_oneway.docs.json"
RISK_V2_HEDGE = "docs/fapi_v2_positionRisk_hedge.docs.json"
ACCOUNT_UPDATE_DOCS = "docs/ws_ACCOUNT_UPDATE.docs.json"

BTC = PositionKey("BTCUSDT", "BOTH")
BTC_LONG = PositionKey("BTCUSDT", "LONG")
BTC_SHORT = PositionKey("BTCUSDT", "SHORT")
UPDATED = 1722161166529  # the BTCUSDT position's updateTime in every 2024-07-28 recording


# --- GET /fapi/v3/positionRisk ----------------------------------------------------------------


def test_real_v3_position_risk_is_read_exactly() -> None:
    snapshot = parse_position_risk(load_binance(RISK_A), taken_at_ms=1722161167000, complete=True)
    assert snapshot.source == "position_risk"
    assert snapshot.taken_at_ms == 1722161167000
    assert snapshot.complete
    assert snapshot.balances is None
    assert snapshot.positions == (
        PositionRecord(
            symbol="BTCUSDT",
            position_side="BOTH",
            amount=Decimal("0.009"),
            entry_price=Decimal("67445.9"),
            update_time_ms=UPDATED,
            break_even_price=Decimal("67479.62295"),
            mark_price=Decimal("67502.68519858"),
            unrealized_pnl=Decimal("0.51106678"),
            liquidation_price=Decimal("64846.98753790"),
        ),
    )


def test_position_risk_for_one_symbol_is_incomplete() -> None:
    snapshot = parse_position_risk(load_binance(RISK_B), taken_at_ms=1, complete=False)
    assert not snapshot.complete


def test_later_snapshot_of_an_unchanged_position_refreshes_mark_and_liquidation() -> None:
    book = PositionBook()
    opened = book.apply(parse_position_risk(load_binance(RISK_A), 1722161170000, complete=True), 1)
    refreshed = book.apply(
        parse_position_risk(load_binance(RISK_B), 1722161180000, complete=False), 2
    )
    assert opened == BookChanges(opened=(BTC,))
    assert refreshed.empty
    (position,) = book.view(now_ms=3).positions
    assert position.update_time_ms == UPDATED
    assert position.mark_price == Decimal("67582.20000000")
    assert position.unrealized_pnl == Decimal("1.22670000")
    assert position.liquidation_price == Decimal("64846.78939917")
    assert book.view(now_ms=3).to_dict()["positions"][0]["mark_price"] == "67582.20000000"


def test_earlier_snapshot_arriving_last_keeps_the_fresher_mark() -> None:
    book = PositionBook()
    book.apply(parse_position_risk(load_binance(RISK_B), 1722161180000, complete=False), 1)
    changes = book.apply(parse_position_risk(load_binance(RISK_A), 1722161170000, complete=True), 2)
    assert changes.empty
    (position,) = book.view(now_ms=3).positions
    assert position.mark_price == Decimal("67582.20000000")


def test_docs_v3_position_risk_one_way_reads_int_fields_and_no_liquidation_price() -> None:
    (position,) = parse_position_risk(load_binance(RISK_V3_ONEWAY), 1, complete=True).positions
    assert position == PositionRecord(
        symbol="ADAUSDT",
        position_side="BOTH",
        amount=Decimal("30"),
        entry_price=Decimal("0.385"),
        update_time_ms=1720736417660,
        break_even_price=Decimal("0.385077"),
        mark_price=Decimal("0.41047590"),
        unrealized_pnl=Decimal("0.76427700"),
        liquidation_price=None,
    )


def test_docs_v3_position_risk_hedge_mode_keeps_long_and_short() -> None:
    positions = parse_position_risk(load_binance(RISK_V3_HEDGE), 1, complete=True).positions
    assert [(p.key, p.amount, p.update_time_ms) for p in positions] == [
        (PositionKey("ADAUSDT", "LONG"), Decimal("30"), 1720736417660),
        (PositionKey("COMPUSDT", "SHORT"), Decimal("-1.000"), 1708943511656),
    ]
    short = positions[1]
    assert short.entry_price == Decimal("70.92841")
    assert short.break_even_price == Decimal("70.900038636")
    assert short.liquidation_price == Decimal("2260.56757210")
    assert short.unrealized_pnl == Decimal("21.20817624")


def test_docs_v2_position_risk_one_way_flat_row_has_no_prices() -> None:
    (position,) = parse_position_risk(load_binance(RISK_V2_ONEWAY), 1, complete=True).positions
    assert position == PositionRecord(
        symbol="BTCUSDT",
        position_side="BOTH",
        amount=Decimal("0.000"),
        entry_price=Decimal("0.00000"),
        update_time_ms=0,
        break_even_price=None,
        mark_price=Decimal("6679.50671178"),
        unrealized_pnl=Decimal("0.00000000"),
        liquidation_price=None,
    )


def test_docs_v2_position_risk_hedge_lists_both_sides() -> None:
    snapshot = parse_position_risk(load_binance(RISK_V2_HEDGE), 1_700_000_000_000, complete=True)
    long, short = snapshot.positions
    assert (long.key, long.amount, long.entry_price) == (
        PositionKey("BTCUSDT", "LONG"),
        Decimal("0.001"),
        Decimal("22185.2"),
    )
    assert (long.liquidation_price, long.update_time_ms) == (
        Decimal("19731.45529116"),
        1655217461579,
    )
    assert long.unrealized_pnl == Decimal("-1.06214947")
    assert (short.key, short.amount, short.update_time_ms) == (
        PositionKey("BTCUSDT", "SHORT"),
        Decimal("0.000"),
        0,
    )
    book = PositionBook()
    book.apply(snapshot, received_at_ms=1_700_000_000_100)
    assert [p.key for p in book.view(now_ms=1_700_000_001_000).positions] == [long.key]


def test_v2_position_risk_errors_name_the_v2_endpoint() -> None:
    body = load_binance(RISK_V2_HEDGE)
    body[1]["markPrice"] = "?"
    with pytest.raises(PayloadError) as caught:
        parse_position_risk(body, 1, complete=True)
    assert (
        str(caught.value) == "GET /fapi/v2/positionRisk: [1].markPrice: a string is not a decimal"
    )


def test_numbers_decoded_as_decimal_and_ints_are_exact() -> None:
    body = json.loads(
        '[{"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": 0.009,'
        ' "entryPrice": 67445.9, "markPrice": 67502.68519858, "unRealizedProfit": 0.51106678,'
        ' "liquidationPrice": 0, "breakEvenPrice": 67479.62295, "updateTime": 1722161166529}]',
        parse_float=Decimal,
    )
    (position,) = parse_position_risk(body, 1, complete=True).positions
    assert position.amount == Decimal("0.009")
    assert f"{position.mark_price:f}" == "67502.68519858"
    assert position.liquidation_price is None


# --- GET /fapi/v3/account and /fapi/v2/account ------------------------------------------------


def test_real_v3_account_derives_the_entry_price_from_notional_and_pnl() -> None:
    snapshot = parse_account(load_binance(ACCOUNT_V3_REAL), taken_at_ms=1722161167000)
    assert (snapshot.source, snapshot.taken_at_ms, snapshot.complete) == (
        "account",
        1722161167000,
        True,
    )
    (position,) = snapshot.positions
    assert position == PositionRecord(
        symbol="BTCUSDT",
        position_side="BOTH",
        amount=Decimal("0.009"),
        entry_price=Decimal("67445.9"),  # (607.55548506 − 0.54238506) / 0.009
        update_time_ms=UPDATED,
        unrealized_pnl=Decimal("0.54238506"),
    )
    assert f"{position.entry_price:f}" == "67445.90000000"


def test_real_v3_account_reads_every_asset_exactly() -> None:
    balances = parse_account(load_binance(ACCOUNT_V3_REAL), taken_at_ms=1).balances
    assert balances is not None
    assert [(b.asset, b.update_time_ms) for b in balances] == [
        ("FDUSD", 0),
        ("BTC", 0),
        ("BNB", 1722095514499),
        ("ETH", 0),
        ("USDT", 1722161166529),
        ("USDC", 1721991855073),
    ]
    assert balances[4] == BalanceRecord(
        asset="USDT",
        wallet_balance=Decimal("3.72964781"),
        update_time_ms=1722161166529,
        unrealized_pnl=Decimal("0.54238506"),
        margin_balance=Decimal("4.27203287"),
        available_balance=Decimal("18.65856952"),
    )


def test_real_account_and_position_risk_agree_and_merge() -> None:
    book = PositionBook()
    book.apply(parse_position_risk(load_binance(RISK_A), 1722161170000, complete=True), 1)
    changes = book.apply(parse_account(load_binance(ACCOUNT_V3_REAL), 1722161175000), 2)
    assert changes == BookChanges(balances_changed=("BNB", "BTC", "ETH", "FDUSD", "USDC", "USDT"))
    (position,) = book.view(now_ms=3).positions
    # Same updateTime: the account's fresher PnL, positionRisk's fields the account lacks.
    assert position.unrealized_pnl == Decimal("0.54238506")
    assert position.mark_price == Decimal("67502.68519858")
    assert position.liquidation_price == Decimal("64846.98753790")
    assert position.break_even_price == Decimal("67479.62295")
    assert position.entry_price == Decimal("67445.9")


def test_real_v2_account_with_no_positions_closes_older_ones() -> None:
    snapshot = parse_account(load_binance(ACCOUNT_V2_REAL), taken_at_ms=1701270050000)
    assert snapshot.positions == ()
    assert snapshot.balances == (
        BalanceRecord(
            asset="USDT",
            wallet_balance=Decimal("31.02261200"),
            update_time_ms=1701270042059,
            unrealized_pnl=Decimal("0.00000000"),
            margin_balance=Decimal("31.02261200"),
            available_balance=Decimal("31.02261200"),
        ),
    )
    book = PositionBook()
    book.apply(parse_position_risk(load_binance(RISK_V2_HEDGE), 1655217470000, complete=True), 1)
    changes = book.apply(snapshot, received_at_ms=2)
    assert changes == BookChanges(
        closed=(PositionKey("BTCUSDT", "LONG"),), balances_changed=("USDT",)
    )


def test_docs_v2_account_reads_entry_price_and_flat_positions() -> None:
    snapshot = parse_account(load_binance(ACCOUNT_V2_DOCS), taken_at_ms=1)
    assert snapshot.positions == (
        PositionRecord(
            symbol="BTCUSDT",
            position_side="BOTH",
            amount=Decimal("0"),
            entry_price=Decimal("0.00000"),
            update_time_ms=0,
            unrealized_pnl=Decimal("0.00000000"),
        ),
    )
    assert snapshot.balances is not None
    assert snapshot.balances[0].available_balance == Decimal("126.72469206")
    assert snapshot.balances[0].update_time_ms == 1625474304765


def test_docs_v3_account_position_reads_amount_and_int_times() -> None:
    snapshot = parse_account(load_binance(ACCOUNT_V3_DOCS), taken_at_ms=1)
    (position,) = snapshot.positions
    # The example's notional is "0", so the derived entry is 0 as well.
    assert (position.amount, position.entry_price, position.update_time_ms) == (
        Decimal("1.000"),
        Decimal(0),
        0,
    )
    assert snapshot.balances is not None
    assert snapshot.balances[0].wallet_balance == Decimal("23.72469206")


def test_v3_account_short_position_entry_price_is_derived_with_its_sign() -> None:
    body = load_binance(ACCOUNT_V3_DOCS)
    body["positions"][0].update(
        {"positionAmt": "-1.000", "notional": "-49.72023376", "unrealizedProfit": "21.20817624"}
    )
    (position,) = parse_account(body, taken_at_ms=1).positions
    assert position.entry_price == Decimal("70.92841")


def test_v3_account_flat_position_gets_entry_zero_without_notional() -> None:
    body = load_binance(ACCOUNT_V3_DOCS)
    body["positions"][0]["positionAmt"] = "0.000"
    del body["positions"][0]["notional"]
    (position,) = parse_account(body, taken_at_ms=1).positions
    assert position.entry_price == Decimal(0)


# --- user-data stream ACCOUNT_UPDATE ---------------------------------------------------------

DOCS_T = 1564745798938  # the docs example's transaction time (E is 1564745798939)


def test_docs_account_update_is_an_incomplete_stream_snapshot_taken_at_t() -> None:
    snapshot = parse_account_update(load_binance(ACCOUNT_UPDATE_DOCS))
    assert (snapshot.source, snapshot.taken_at_ms, snapshot.complete) == ("stream", DOCS_T, False)


def test_docs_account_update_reads_every_position_exactly_at_t() -> None:
    positions = parse_account_update(load_binance(ACCOUNT_UPDATE_DOCS)).positions
    assert positions == (
        PositionRecord(
            symbol="BTCUSDT",
            position_side="BOTH",
            amount=Decimal("0"),
            entry_price=Decimal("0.00000"),
            update_time_ms=DOCS_T,
            break_even_price=None,
            unrealized_pnl=Decimal("0"),
        ),
        PositionRecord(
            symbol="BTCUSDT",
            position_side="LONG",
            amount=Decimal("20"),
            entry_price=Decimal("6563.66500"),
            update_time_ms=DOCS_T,
            break_even_price=None,  # "bep": "0" is Binance's "none"
            unrealized_pnl=Decimal("2850.21200"),
        ),
        PositionRecord(
            symbol="BTCUSDT",
            position_side="SHORT",
            amount=Decimal("-10"),
            entry_price=Decimal("6563.86000"),
            update_time_ms=DOCS_T,
            break_even_price=Decimal("6563.6"),
            unrealized_pnl=Decimal("-1423.15600"),
        ),
    )


def test_docs_account_update_reads_wallet_balances_at_t() -> None:
    assert parse_account_update(load_binance(ACCOUNT_UPDATE_DOCS)).balances == (
        BalanceRecord(
            asset="USDT", wallet_balance=Decimal("122624.12345678"), update_time_ms=DOCS_T
        ),
        BalanceRecord(asset="BUSD", wallet_balance=Decimal("1.00000000"), update_time_ms=DOCS_T),
    )


def test_docs_account_update_zero_both_closes_that_key_and_opens_long_and_short() -> None:
    book = PositionBook()
    book.apply(
        parse_position_risk(
            [
                {
                    "symbol": "BTCUSDT",
                    "positionSide": "BOTH",
                    "positionAmt": "0.5",
                    "entryPrice": "6500",
                    "markPrice": "6600",
                    "unRealizedProfit": "50",
                    "liquidationPrice": "0",
                    "updateTime": DOCS_T - 60_000,
                }
            ],
            taken_at_ms=DOCS_T - 30_000,
            complete=True,
        ),
        received_at_ms=DOCS_T - 29_900,
    )
    changes = book.apply(parse_account_update(load_binance(ACCOUNT_UPDATE_DOCS)), DOCS_T + 5)
    assert changes == BookChanges(
        opened=(BTC_LONG, BTC_SHORT), closed=(BTC,), balances_changed=("BUSD", "USDT")
    )
    assert [p.key for p in book.view(now_ms=DOCS_T + 10).positions] == [BTC_LONG, BTC_SHORT]


def real_mainnet_account_update(**changes: Any) -> dict[str, Any]:
    """The start of the 2026-05-21 mainnet event (real/…TRUNCATED.txt: e, T, E, a; negative
    wb and cw); its cut-off rest is replaced by an empty ``P``."""
    event: dict[str, Any] = {
        "e": "ACCOUNT_UPDATE",
        "T": 1779367933019,
        "E": 1779367933019,
        "a": {
            "B": [{"a": "USDT", "wb": "-113.29772855", "cw": "-113.29772855", "bc": "0"}],
            "P": [],
        },
    }
    event.update(changes)
    return event


def test_negative_wallet_balance_from_mainnet_is_read_exactly() -> None:
    snapshot = parse_account_update(real_mainnet_account_update())
    assert snapshot.positions == ()
    assert snapshot.balances == (
        BalanceRecord(
            asset="USDT", wallet_balance=Decimal("-113.29772855"), update_time_ms=1779367933019
        ),
    )


def test_account_update_times_may_be_digit_strings() -> None:
    snapshot = parse_account_update(real_mainnet_account_update(T="1779367933019", E="1"))
    assert snapshot.taken_at_ms == 1779367933019
    assert snapshot.balances is not None
    assert snapshot.balances[0].update_time_ms == 1779367933019


def test_account_update_numbers_decoded_as_decimal_or_int_are_exact() -> None:
    event = load_binance(ACCOUNT_UPDATE_DOCS)
    event["a"]["P"][1].update(pa=Decimal("20.000"), up=2850)
    long = parse_account_update(event).positions[1]
    assert (f"{long.amount:f}", long.unrealized_pnl) == ("20.000", Decimal(2850))


def test_account_update_without_positions_or_balances_lists_nothing() -> None:
    # Funding on a cross position: only "B", no "P".
    event = load_binance(ACCOUNT_UPDATE_DOCS)
    del event["a"]["P"]
    assert parse_account_update(event).positions == ()
    del event["a"]["B"]
    assert parse_account_update(event).balances == ()


def test_account_update_reason_and_missing_break_even_are_not_needed() -> None:
    event = load_binance(ACCOUNT_UPDATE_DOCS)
    del event["a"]["m"]
    del event["a"]["P"][2]["bep"]
    assert parse_account_update(event).positions[2].break_even_price is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda e: e.update(e="ORDER_TRADE_UPDATE"),
            "e: a string is not ACCOUNT_UPDATE",
        ),
        (lambda e: e.pop("e"), "e: is missing"),
        (lambda e: e.pop("T"), "T: is missing"),
        (lambda e: e.update(T=1.5e12), "T: a float is not a time in ms"),
        (lambda e: e.update(T="-1"), "T: a string is not a time in ms"),
        (lambda e: e.pop("a"), "a: is missing"),
        (lambda e: e.update(a=[]), "a: a list is not an object"),
        (lambda e: e["a"].update(P={}), "a.P: an object is not a list"),
        (lambda e: e["a"]["P"].append(None), "a.P[3]: null is not an object"),
        (lambda e: e["a"]["P"][1].update(pa="20 "), "a.P[1].pa: a string is not a decimal"),
        (
            lambda e: e["a"]["P"][1].update(pa=20.0),
            "a.P[1].pa: is a float; decode with parse_float=Decimal",
        ),
        (lambda e: e["a"]["P"][2].pop("ep"), "a.P[2].ep: is missing"),
        (lambda e: e["a"]["P"][2].pop("up"), "a.P[2].up: is missing"),
        (
            lambda e: e["a"]["P"][0].update(ps="HEDGE"),
            "a.P[0].ps: a string is not BOTH, LONG or SHORT",
        ),
        (
            lambda e: e["a"]["P"][0].update(s=""),
            "a.P[0].s: an empty string is not a non-empty string",
        ),
        (lambda e: e["a"]["B"][1].update(wb="1,0"), "a.B[1].wb: a string is not a decimal"),
        (lambda e: e["a"]["B"][0].pop("a"), "a.B[0].a: is missing"),
        (
            lambda e: e["a"]["P"].append(copy.deepcopy(e["a"]["P"][1])),
            "a: stream: positions listed twice: ['BTCUSDT LONG']",
        ),
        (
            lambda e: e["a"]["B"].append(copy.deepcopy(e["a"]["B"][0])),
            "a: stream: balances listed twice: ['USDT']",
        ),
    ],
)
def test_bad_account_update_names_the_event_and_the_field_path(
    edit: Callable[[Any], object], message: str
) -> None:
    event = load_binance(ACCOUNT_UPDATE_DOCS)
    edit(event)
    with pytest.raises(PayloadError) as caught:
        parse_account_update(event)
    assert str(caught.value) == f"ACCOUNT_UPDATE: {message}"
    assert caught.value.endpoint == "ACCOUNT_UPDATE"


@pytest.mark.parametrize(("event", "shown"), [([], "a list"), ("{}", "a string"), (None, "null")])
def test_account_update_that_is_not_an_object_is_an_error(event: object, shown: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_account_update(event)  # type: ignore[arg-type]
    assert str(caught.value) == f"ACCOUNT_UPDATE: event: {shown} is not an object"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("positionAmt", "abc", "a string is not a decimal"),
        ("positionAmt", True, "a boolean is not a decimal"),
        ("positionAmt", "NaN", "a string is not a decimal"),
        ("positionAmt", "Infinity", "a string is not a decimal"),
        ("positionAmt", "1e3", "a string is not a decimal"),
        ("positionAmt", " 0.009", "a string is not a decimal"),
        ("positionAmt", None, "null is not a decimal"),
        ("positionAmt", [1], "a list is not a decimal"),
        ("markPrice", 67502.68, "is a float; decode with parse_float=Decimal"),
        ("entryPrice", Decimal("NaN"), "a Decimal is not a decimal"),
        ("updateTime", "1722161166529.5", "a string is not a time in ms"),
        ("updateTime", -1, "an integer is not a time in ms"),
        ("updateTime", False, "a boolean is not a time in ms"),
        ("updateTime", 1.7e12, "a float is not a time in ms"),
        ("positionSide", "BOTHX", "a string is not BOTH, LONG or SHORT"),
        ("symbol", "", "an empty string is not a non-empty string"),
        ("symbol", {"nested": "x"}, "an object is not a non-empty string"),
    ],
)
def test_bad_position_risk_field_names_endpoint_and_path(
    field: str, value: object, problem: str
) -> None:
    body = load_binance(RISK_A)
    body[0][field] = value
    with pytest.raises(PayloadError) as caught:
        parse_position_risk(body, 1, complete=True)
    assert str(caught.value) == f"GET /fapi/v3/positionRisk: [0].{field}: {problem}"
    assert (caught.value.endpoint, caught.value.path) == (
        "GET /fapi/v3/positionRisk",
        f"[0].{field}",
    )


@pytest.mark.parametrize(
    "field",
    [
        "symbol",
        "positionSide",
        "positionAmt",
        "entryPrice",
        "markPrice",
        "unRealizedProfit",
        "liquidationPrice",
        "updateTime",
    ],
)
def test_missing_position_risk_field_is_an_error(field: str) -> None:
    body = load_binance(RISK_A)
    del body[0][field]
    with pytest.raises(
        PayloadError, match=rf"^GET /fapi/v3/positionRisk: \[0\]\.{field}: is missing$"
    ):
        parse_position_risk(body, 1, complete=True)


def test_missing_break_even_price_is_none() -> None:
    body = load_binance(RISK_A)
    del body[0]["breakEvenPrice"]
    (position,) = parse_position_risk(body, 1, complete=True).positions
    assert position.break_even_price is None


@pytest.mark.parametrize("value", ["12345.678x", 12345.678, "9" * 1000 + "x"])
def test_a_bad_value_is_described_never_shown(value: object) -> None:
    body = load_binance(ACCOUNT_V3_REAL)
    body["assets"][0]["walletBalance"] = value  # a balance: not for health reports
    with pytest.raises(PayloadError) as caught:
        parse_account(body, taken_at_ms=1)
    assert str(caught.value).startswith("GET /fapi/v3/account: assets[0].walletBalance: ")
    assert "12345" not in str(caught.value) and "999" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"positions": []}, "GET /fapi/v2|v3/positionRisk: body: an object is not a list"),
        ("[]", "GET /fapi/v2|v3/positionRisk: body: a string is not a list"),
        ([None], "GET /fapi/v3/positionRisk: [0]: null is not an object"),
        (["BTCUSDT"], "GET /fapi/v3/positionRisk: [0]: a string is not an object"),
    ],
)
def test_position_risk_body_of_the_wrong_shape_is_an_error(body: object, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_position_risk(body, 1, complete=True)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_position_listed_twice_is_an_error() -> None:
    body = load_binance(RISK_A)
    body.append(copy.deepcopy(body[0]))
    with pytest.raises(PayloadError) as caught:
        parse_position_risk(body, 1, complete=True)
    assert str(caught.value) == (
        "GET /fapi/v3/positionRisk: body: position_risk: positions listed twice: ['BTCUSDT BOTH']"
    )


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            ACCOUNT_V3_REAL,
            lambda body: body["positions"][0].pop("notional"),
            "GET /fapi/v3/account: positions[0].notional: is missing",
        ),
        (
            ACCOUNT_V3_REAL,
            lambda body: body["positions"][0].update(notional="9" * 40),
            "GET /fapi/v3/account: positions[0].notional: too large to derive the entry price from",
        ),
        (
            ACCOUNT_V2_DOCS,
            lambda body: body["positions"][0].pop("entryPrice"),
            "GET /fapi/v2/account: positions[0].entryPrice: is missing",
        ),
        (
            ACCOUNT_V3_REAL,
            lambda body: body["assets"][4].update(walletBalance="3,72"),
            "GET /fapi/v3/account: assets[4].walletBalance: a string is not a decimal",
        ),
        (
            ACCOUNT_V3_REAL,
            lambda body: body["assets"][1].pop("updateTime"),
            "GET /fapi/v3/account: assets[1].updateTime: is missing",
        ),
        (
            ACCOUNT_V2_REAL,
            lambda body: body.pop("assets"),
            "GET /fapi/v2/account: assets: is missing",
        ),
        (
            ACCOUNT_V2_REAL,
            lambda body: body.update(positions={}),
            "GET /fapi/v2/account: positions: an object is not a list",
        ),
        (
            ACCOUNT_V3_REAL,
            lambda body: body["assets"].append(copy.deepcopy(body["assets"][0])),
            "GET /fapi/v3/account: body: account: balances listed twice: ['FDUSD']",
        ),
    ],
)
def test_bad_account_body_names_endpoint_and_path(
    name: str, edit: Callable[[Any], object], message: str
) -> None:
    body = load_binance(name)
    edit(body)
    with pytest.raises(PayloadError) as caught:
        parse_account(body, taken_at_ms=1)
    assert str(caught.value) == message


def test_account_body_that_is_not_an_object_is_a_value_error() -> None:
    with pytest.raises(ValueError) as caught:
        parse_account([], taken_at_ms=1)  # type: ignore[arg-type]
    assert isinstance(caught.value, PayloadError)
    assert str(caught.value) == "GET /fapi/v2|v3/account: body: a list is not an object"
