"""PnL per robot and per symbol from ledger entries and fills (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from riskd.pnl.report import (
    PnlGrouping,
    PnlReport,
    PnlRow,
    build_report,
    split_funding,
)
from riskd.risk.attribution import UNATTRIBUTED, Attribution, FilledQuantity
from riskd.risk.ledger import EntryKind, LedgerEntry

ACCOUNT = "main"
START_MS, END_MS = 1_000, 10_000
# alpha trades through riskd (rb-alpha-); beta sends its own orders as "bx.…".
ATTRIBUTION = Attribution([("rb-alpha-", "alpha"), ("rb-beta-", "beta"), ("bx.", "beta")])


def entry(
    kind: EntryKind,
    amount: str,
    client_order_id: str = "",
    *,
    symbol: str = "BTCUSDT",
    time_ms: int = 5_000,
    asset: str = "USDT",
    trade_id: str = "",
) -> LedgerEntry:
    return LedgerEntry(time_ms, symbol, kind, Decimal(amount), asset, trade_id, client_order_id)


def fill(
    client_order_id: str,
    qty: str,
    *,
    side: str = "BUY",
    symbol: str = "BTCUSDT",
    position_side: str = "BOTH",
    time_ms: int = 2_000,
) -> FilledQuantity:
    return FilledQuantity(client_order_id, symbol, position_side, side, Decimal(qty), time_ms)


def report(
    entries: Sequence[LedgerEntry],
    fills: Sequence[FilledQuantity] = (),
    *,
    by: PnlGrouping = PnlGrouping.ROBOT,
    robot: str | None = None,
    originals: dict[tuple[str, str], str] | None = None,
) -> PnlReport:
    return build_report(
        ACCOUNT,
        entries,
        fills,
        ATTRIBUTION,
        by=by,
        start_ms=START_MS,
        end_ms=END_MS,
        robot=robot,
        originals=originals,
    )


def row(
    key: str, pnl: str = "0", fee: str = "0", funding: str = "0", asset: str = "USDT"
) -> PnlRow:
    return PnlRow(key, asset, Decimal(pnl), Decimal(fee), Decimal(funding))


def test_realized_pnl_and_commission_go_to_the_robot_of_the_client_ids_prefix() -> None:
    entries = [
        entry("realized_pnl", "12.5", "rb-alpha-18c1"),
        entry("commission", "-0.5", "rb-alpha-18c1"),
        entry("realized_pnl", "-4", "bx.7"),  # beta's own prefix
        entry("commission", "-0.25", "rb-beta-18c2"),
    ]
    assert report(entries).rows == (row("alpha", "12.5", "-0.5"), row("beta", "-4", "-0.25"))


def test_an_income_row_goes_to_the_robot_of_its_trades_fill() -> None:
    # Income carries the client id of the fill with the same trade id (ledger_entries).
    entries = [entry("realized_pnl", "3", "rb-beta-1", trade_id="991")]
    assert report(entries).rows == (row("beta", "3"),)


@pytest.mark.parametrize(
    "client_order_id",
    ["", "manual-1", "st-BTCUSDT-L-1", "rb-gamma-1"],
    ids=["no fill held", "no prefix", "riskd's ladder", "unconfigured robot"],
)
def test_an_entry_no_robot_prefix_matches_is_unattributed(client_order_id: str) -> None:
    report_rows = report([entry("realized_pnl", "-7", client_order_id)]).rows
    assert report_rows == (row(UNATTRIBUTED, "-7"),)


def test_funding_is_split_by_signed_positions_opposite_ones_included() -> None:
    # alpha long 3, beta short 1: the account is long 2 and paid 2 on it.
    fills = [fill("rb-alpha-1", "3"), fill("bx.1", "1", side="SELL")]
    rows = report([entry("funding_fee", "-2")], fills).rows
    assert rows == (row("alpha", funding="-3"), row("beta", funding="1"))
    assert sum(r.funding for r in rows) == Decimal("-2")


def test_funding_counts_the_positions_held_at_its_time_hedge_sides_summed() -> None:
    fills = [
        fill("rb-alpha-1", "2", position_side="LONG", time_ms=1_000),
        fill("rb-alpha-2", "1", side="SELL", position_side="SHORT", time_ms=2_000),
        fill("manual-1", "1", time_ms=3_000),  # an unattributed position
        fill("rb-beta-1", "5", time_ms=6_000),  # after the funding: does not share it
        fill("rb-alpha-3", "9", symbol="ETHUSDT", time_ms=1_000),  # another symbol
    ]
    rows = report([entry("funding_fee", "-1", time_ms=5_000)], fills).rows
    assert rows == (row("alpha", funding="-0.5"), row(UNATTRIBUTED, funding="-0.5"))


def test_funding_nobody_held_a_position_for_is_unattributed() -> None:
    flat = [fill("rb-alpha-1", "1"), fill("rb-alpha-2", "1", side="SELL")]
    assert report([entry("funding_fee", "0.3")], flat).rows == (row(UNATTRIBUTED, funding="0.3"),)
    assert report([entry("funding_fee", "0.3")]).rows == (row(UNATTRIBUTED, funding="0.3"),)


def test_funding_shares_are_rounded_and_add_up_to_the_fee() -> None:
    shares = split_funding(Decimal("-1"), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(2)})
    assert shares == {"a": Decimal("-0.25"), "b": Decimal("-0.25"), "c": Decimal("-0.5")}
    thirds = split_funding(Decimal("-1"), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)})
    assert thirds == {
        "a": Decimal("-0.33333334"),  # the first of the largest takes what rounding leaves
        "b": Decimal("-0.33333333"),
        "c": Decimal("-0.33333333"),
    }
    assert sum(thirds.values()) == Decimal("-1")


def test_one_robot_only() -> None:
    fills = [fill("rb-alpha-1", "3"), fill("bx.1", "1", side="SELL")]
    entries = [
        entry("realized_pnl", "5", "rb-alpha-1"),
        entry("realized_pnl", "2", "bx.2", symbol="ETHUSDT"),
        entry("funding_fee", "-2"),
        entry("commission", "-1", "manual-1"),
    ]
    assert report(entries, fills, robot="beta").rows == (row("beta", "2", funding="1"),)
    by_symbol = report(entries, fills, robot="beta", by=PnlGrouping.SYMBOL).rows
    assert by_symbol == (row("BTCUSDT", funding="1"), row("ETHUSDT", "2"))
    assert report(entries, fills, robot=UNATTRIBUTED).rows == (row(UNATTRIBUTED, fee="-1"),)


def test_an_unknown_robot_is_a_lookup_error_naming_it() -> None:
    with pytest.raises(LookupError, match="robot: no robot 'gamma' on account 'main'"):
        report([], robot="gamma")


def test_a_replacement_counts_as_the_robots_order_it_replaced() -> None:
    originals = {("BTCUSDT", "rp-77"): "rb-alpha-18c1"}
    fills = [fill("rp-77", "2"), fill("rp-78", "2")]  # rp-78 replaced an order riskd never saw
    entries = [
        entry("realized_pnl", "-6", "rp-77"),
        entry("realized_pnl", "-1", "rp-77", symbol="ETHUSDT"),  # order ids are per symbol
        entry("funding_fee", "-4"),
    ]
    assert report(entries, fills, originals=originals).rows == (
        row("alpha", "-6", funding="-2"),
        row(UNATTRIBUTED, "-1", funding="-2"),
    )


def test_rows_per_symbol_and_asset_sorted() -> None:
    entries = [
        entry("realized_pnl", "1", "rb-alpha-1", symbol="ETHUSDT"),
        entry("commission", "-0.001", "rb-alpha-1", symbol="ETHUSDT", asset="BNB"),
        entry("realized_pnl", "2", "bx.1"),
        entry("commission", "-0.5", "bx.1"),
    ]
    assert report(entries, by=PnlGrouping.SYMBOL).rows == (
        row("BTCUSDT", "2", "-0.5"),
        row("ETHUSDT", fee="-0.001", asset="BNB"),
        row("ETHUSDT", "1"),
    )


def test_only_trading_pnl_inside_the_window_counts() -> None:
    entries = [
        entry("realized_pnl", "1", "rb-alpha-1", time_ms=START_MS),
        entry("realized_pnl", "10", "rb-alpha-1", time_ms=START_MS - 1),
        entry("realized_pnl", "100", "rb-alpha-1", time_ms=END_MS + 1),
        entry("other", "500", "rb-alpha-1"),  # a transfer, say
        entry("realized_pnl", "2", "rb-alpha-1", time_ms=END_MS),
    ]
    assert report(entries).rows == (row("alpha", "3"),)


def test_the_report_as_json() -> None:
    entries = [
        entry("realized_pnl", "12.500000000000000000", "rb-alpha-1"),
        entry("commission", "-0.00000001", "rb-alpha-1"),
    ]
    assert report(entries, robot="alpha").to_dict() == {
        "account": "main",
        "by": "robot",
        "robot": "alpha",
        "start_ms": START_MS,
        "end_ms": END_MS,
        "rows": [
            {
                "key": "alpha",
                "asset": "USDT",
                "realized_pnl": "12.5",
                "commission": "-0.00000001",
                "funding": "0",
                "total": "12.49999999",
            }
        ],
    }
