"""The pre-trade gate: one test per refusal (its detail names the numbers), passing orders,
reducing orders in HALTED, REDUCING and under bans, hedge and one-way mode, the ban list failing
closed, exposure arithmetic, the price band, duplicates and the rate, all at explicit times."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from riskd.positions import PositionKey
from riskd.risk.locks import ALL
from riskd.trade.config import LimitsConfig
from riskd.trade.gate import GateDecision, Refusal, Scope, decide, is_reducing
from riskd.trade.recent import RecentOrders
from tests.kit.samples import BTC, NOW_MS, VALID_MS, banlist, lock, open_order
from tests.kit.trade import ACTIVE, ROBOT, context, intent, robot, send

NO_BANDS = LimitsConfig(price_band_bps=None)


def _refused(decision: GateDecision, refusal: Refusal, scope: Scope | None = None) -> str:
    assert (decision.passed, decision.refusal, decision.scope) == (False, refusal, scope)
    assert "\n" not in decision.detail
    return decision.detail


# --- passing ------------------------------------------------------------------------------------


def test_a_limit_order_within_every_limit_passes_and_says_what_it_is() -> None:
    decision = decide(intent("BUY", "0.010", "60000.0"), context())
    assert (decision.passed, decision.refusal, decision.scope) == (True, None, None)
    assert decision.detail == (
        "BUY 0.010 BTCUSDT LIMIT at 60000.0 (BOTH): opening, notional 600 USDT"
    )


def test_a_market_order_is_priced_at_the_mark() -> None:
    decision = decide(intent("SELL", "0.010", None), context(marks={"BTCUSDT": "61000"}))
    assert decision.passed
    assert decision.detail == "SELL 0.010 BTCUSDT MARKET (BOTH): opening, notional 610 USDT"


def test_a_decision_is_passed_exactly_when_it_has_no_refusal() -> None:
    with pytest.raises(ValueError, match="refusal"):
        GateDecision(True, Refusal.HALTED, "x")
    with pytest.raises(ValueError, match="refusal"):
        GateDecision(False, None, "x")
    with pytest.raises(ValueError, match="scope"):
        GateDecision(True, None, "x", Scope.ROBOT)


def test_the_context_must_be_the_orders() -> None:
    with pytest.raises(ValueError, match="robot"):
        decide(intent(robot="r2"), context())
    with pytest.raises(ValueError, match="banlist"):
        decide(intent(), context(banlist=banlist(account="other")))
    with pytest.raises(ValueError, match="filters"):
        decide(intent(symbol="ETHUSDT"), context(marks={"ETHUSDT": "3000"}))


# --- whitelist and symbol -----------------------------------------------------------------------


def test_a_symbol_off_the_robots_whitelist_is_refused() -> None:
    decision = decide(intent(), context(robot_config=robot(symbols=("ETHUSDT", "SOLUSDT"))))
    detail = _refused(decision, Refusal.SYMBOL_NOT_ALLOWED)
    assert detail == "BTCUSDT is not among robot r1's symbols (ETHUSDT, SOLUSDT)"
    assert decide(intent(), context(robot_config=robot(symbols=("BTCUSDT",)))).passed


def test_a_symbol_without_filters_is_refused() -> None:
    detail = _refused(decide(intent(), context(filters=None)), Refusal.UNKNOWN_SYMBOL)
    assert detail == "no exchange filters for BTCUSDT"


# --- ban list and trading state -----------------------------------------------------------------


def test_no_ban_list_fails_closed() -> None:
    detail = _refused(decide(intent(), context(banlist=None)), Refusal.BANLIST_MISSING)
    assert detail == "no ban list for account main: only reducing orders pass"


def test_an_expired_ban_list_fails_closed_from_valid_until_on() -> None:
    valid_until = NOW_MS + VALID_MS
    assert decide(intent(), context(now_ms=valid_until - 1)).passed
    _refused(decide(intent(), context(now_ms=valid_until)), Refusal.BANLIST_EXPIRED)
    detail = _refused(decide(intent(), context(now_ms=valid_until + 5)), Refusal.BANLIST_EXPIRED)
    assert detail == (
        f"ban list v1 of account main expired 5 ms ago (valid until {valid_until}): "
        "only reducing orders pass"
    )


@pytest.mark.parametrize(
    ("state", "refusal"), [("HALTED", Refusal.HALTED), ("REDUCING", Refusal.REDUCING)]
)
def test_halted_and_reducing_refuse_an_opening_order(state: str, refusal: Refusal) -> None:
    decision = decide(intent(), context(banlist=banlist(4, state=state)))
    assert _refused(decision, refusal) == (
        f"account main is {state} (ban list v4): only reducing orders pass"
    )


def test_all_bans_every_symbol() -> None:
    detail = _refused(decide(intent(), context(banlist=banlist(2, all=True))), Refusal.BANNED_ALL)
    assert detail == "every symbol of account main is banned (ban list v2)"


def test_an_all_lock_on_one_side_bans_opening_that_side_only() -> None:
    at = context(banlist=banlist(3, lock(ALL, "long", NOW_MS + 60_000, id=9)))
    detail = _refused(decide(intent("BUY"), at), Refusal.BANNED_ALL)
    assert detail == (
        f"lock 9 (PNL_4H) bans opening long on ALL until {NOW_MS + 60_000} (ban list v3)"
    )
    assert decide(intent("SELL"), at).passed


def test_a_symbol_lock_bans_its_side_until_it_ends() -> None:
    at = context(banlist=banlist(5, lock("BTCUSDT", "short", NOW_MS + 1, id=4)))
    detail = _refused(decide(intent("SELL"), at), Refusal.BANNED_SYMBOL)
    assert (
        detail == f"lock 4 (PNL_4H) bans opening short on BTCUSDT until {NOW_MS + 1} (ban list v5)"
    )
    assert decide(intent("BUY"), at).passed
    assert decide(intent("SELL"), dataclasses.replace(at, now_ms=NOW_MS + 1)).passed
    assert decide(intent("SELL", symbol="BTCUSDT", position_side="SHORT"), at).refusal is (
        Refusal.BANNED_SYMBOL
    )


def test_a_robots_lock_refuses_that_robot_and_lets_the_others_trade() -> None:
    at = context(banlist=banlist(7, lock("BTCUSDT", id=3, robot=ROBOT)))
    detail = _refused(decide(intent(), at), Refusal.BANNED_SYMBOL)
    assert detail == f"lock 3 (PNL_4H) bans opening long on BTCUSDT for robot {ROBOT} until " + (
        "unlocked (ban list v7)"
    )
    other = context(banlist=at.banlist, robot_config=robot("r2"))
    assert decide(intent(robot="r2"), other).passed


def test_a_lock_until_unlocked_says_so_and_an_all_lock_is_named_first() -> None:
    at = context(banlist=banlist(6, lock("BTCUSDT", id=1), lock(ALL, "both", id=2)))
    detail = _refused(decide(intent(), at), Refusal.BANNED_ALL)
    assert detail == "lock 2 (PNL_4H) bans opening long on ALL until unlocked (ban list v6)"


# --- reducing orders ----------------------------------------------------------------------------

LONG_HALF = {("BTCUSDT", "BOTH"): "0.5"}
BLOCKED = [
    pytest.param({"banlist": None}, id="missing"),
    pytest.param({"now_ms": NOW_MS + VALID_MS}, id="expired"),
    pytest.param({"banlist": banlist(state="HALTED")}, id="halted"),
    pytest.param({"banlist": banlist(state="REDUCING")}, id="reducing"),
    pytest.param({"banlist": banlist(all=True)}, id="all"),
    pytest.param({"banlist": banlist(1, lock("BTCUSDT"))}, id="locked"),
]


@pytest.mark.parametrize("blocked", BLOCKED)
def test_a_one_way_order_against_the_position_passes_every_ban(blocked: dict) -> None:
    at = context(positions=LONG_HALF, **blocked)
    decision = decide(intent("SELL", "0.5"), at)
    assert decision.passed, decision.detail
    assert decision.detail.endswith(": reducing, notional 30000 USDT")
    assert not decide(intent("SELL", "0.501"), at).passed  # it would open a short


@pytest.mark.parametrize("blocked", BLOCKED)
def test_a_reduce_only_order_passes_every_ban(blocked: dict) -> None:
    decision = decide(intent("SELL", "0.010", reduce_only=True), context(**blocked))
    assert decision.passed, decision.detail
    assert "(BOTH, reduce-only): reducing" in decision.detail


@pytest.mark.parametrize("blocked", BLOCKED)
def test_hedge_mode_closes_each_side_through_every_ban(blocked: dict) -> None:
    at = context(positions={("BTCUSDT", "LONG"): "0.2", ("BTCUSDT", "SHORT"): "-0.3"}, **blocked)
    assert decide(intent("SELL", "0.2", position_side="LONG"), at).passed
    assert decide(intent("BUY", "0.3", position_side="SHORT"), at).passed
    for opening in (
        intent("SELL", "0.201", position_side="LONG"),
        intent("BUY", "0.301", position_side="SHORT"),
        intent("BUY", "0.1", position_side="LONG"),
        intent("SELL", "0.1", position_side="SHORT"),
    ):
        assert not decide(opening, at).passed


def test_what_counts_as_reducing() -> None:
    def reducing(order: object, positions: dict, orders: tuple = ()) -> bool:
        keyed = {PositionKey(*key): Decimal(amount) for key, amount in positions.items()}
        return is_reducing(order, keyed, orders)  # type: ignore[arg-type]

    short = {("BTCUSDT", "BOTH"): "-0.4"}
    assert reducing(intent("BUY", "0.4"), short)
    assert not reducing(intent("BUY", "0.401"), short)  # it would turn the position around
    assert not reducing(intent("SELL", "0.1"), short)  # it adds to the short
    assert not reducing(intent("SELL", "0.1"), {})  # flat
    assert not reducing(intent("SELL", "0.1"), {("ETHUSDT", "BOTH"): "1"})  # another symbol
    assert not reducing(intent("SELL", "0.1", position_side="LONG"), LONG_HALF)  # another mode
    # Open orders that would close the position too count, unless they are reduce-only.
    sell = open_order(1, side="SELL", price="61000", orig_qty="0.3", executed_qty="0.1")
    assert reducing(intent("SELL", "0.3"), LONG_HALF, (sell,))
    assert not reducing(intent("SELL", "0.301"), LONG_HALF, (sell,))
    closing_only = dataclasses.replace(sell, reduce_only=True, orig_qty=Decimal(5))
    assert reducing(intent("SELL", "0.5"), LONG_HALF, (closing_only,))


def test_a_reducing_order_still_meets_the_other_limits() -> None:
    at = context(
        positions=LONG_HALF,
        robot_config=robot(max_order_notional=10_000),
        banlist=banlist(state="HALTED"),
    )
    detail = _refused(decide(intent("SELL", "0.5"), at), Refusal.ORDER_NOTIONAL, Scope.ROBOT)
    assert detail == "notional 30000 USDT (0.5 × 60000.0) > max 10000 USDT (robot r1)"
    assert decide(intent("SELL", "0.1"), at).passed


# --- rate and duplicates ------------------------------------------------------------------------


def test_the_robots_rate_passes_n_orders_a_second_and_refuses_the_next() -> None:
    at = context(robot_config=robot(max_orders_per_second=3), recent=RecentOrders(5_000))
    for offset_ms, quantity in ((0, "0.010"), (300, "0.011"), (600, "0.012")):
        assert send(
            intent(quantity=quantity), dataclasses.replace(at, now_ms=NOW_MS + offset_ms)
        ).passed
    fourth = dataclasses.replace(at, now_ms=NOW_MS + 999)
    detail = _refused(send(intent(quantity="0.013"), fourth), Refusal.ORDER_RATE, Scope.ROBOT)
    assert detail == "3 orders in the last second, max 3 per second (robot r1)"
    # The refusal was not counted: once the first order is a second old, one more passes.
    assert send(intent(quantity="0.013"), dataclasses.replace(at, now_ms=NOW_MS + 1_000)).passed


def test_the_accounts_rate_counts_every_robot_of_the_account() -> None:
    recent = RecentOrders(5_000)
    recent.record(intent(robot="r2"), NOW_MS)
    recent.record(intent(robot="r3"), NOW_MS + 1)
    at = context(
        now_ms=NOW_MS + 2, account_limits=LimitsConfig(max_orders_per_second=2), recent=recent
    )
    detail = _refused(decide(intent(), at), Refusal.ORDER_RATE, Scope.ACCOUNT)
    assert detail == "2 orders in the last second, max 2 per second (account main)"
    assert decide(intent(), dataclasses.replace(at, now_ms=NOW_MS + 1_000)).passed


def test_the_same_order_again_within_the_window_is_a_duplicate_unless_intended() -> None:
    at = context(recent=RecentOrders(5_000))  # the default window: 2 s, robot and account
    assert send(intent("BUY", "0.010"), at).passed
    later = dataclasses.replace(at, now_ms=NOW_MS + 1_999)
    detail = _refused(
        decide(intent("BUY", "0.01", "59990.0"), later), Refusal.DUPLICATE, Scope.ROBOT
    )
    assert detail == (
        "BUY 0.01 BTCUSDT again within 2000 ms; mark it intended to send it anyway (robot r1)"
    )
    assert decide(intent("BUY", "0.010", intended_duplicate=True), later).passed
    assert decide(intent("BUY", "0.011"), later).passed
    assert decide(intent("SELL", "0.010"), later).passed
    assert decide(intent("BUY", "0.010"), dataclasses.replace(at, now_ms=NOW_MS + 2_000)).passed


def test_the_accounts_duplicate_window_applies_to_each_robot() -> None:
    at = context(
        robot_config=robot(duplicate_window_ms=0),
        account_limits=LimitsConfig(duplicate_window_ms=5_000),
        recent=RecentOrders(5_000),
    )
    assert send(intent(), at).passed
    later = dataclasses.replace(at, now_ms=NOW_MS + 4_000)
    _refused(decide(intent(), later), Refusal.DUPLICATE, Scope.ACCOUNT)


def test_a_refused_order_does_not_make_its_retry_a_duplicate() -> None:
    at = context(banlist=None, recent=RecentOrders(5_000))
    _refused(send(intent(), at), Refusal.BANLIST_MISSING)
    assert send(intent(), dataclasses.replace(at, banlist=ACTIVE, now_ms=NOW_MS + 10)).passed


# --- price band and mark ------------------------------------------------------------------------


def test_the_price_band_refuses_both_sides_of_the_mark_and_passes_its_edges() -> None:
    at = context()  # the default band: 500 bps
    assert decide(intent("BUY", price="63000.0"), at).passed
    assert decide(intent("SELL", price="57000.0"), at).passed
    above = _refused(decide(intent("SELL", price="63600.0"), at), Refusal.PRICE_BAND, Scope.ROBOT)
    assert above == "price 63600.0 is 600.0 bps above mark 60000, band 500 bps (robot r1)"
    below = _refused(decide(intent("BUY", price="56000.0"), at), Refusal.PRICE_BAND, Scope.ROBOT)
    assert below == "price 56000.0 is 666.7 bps below mark 60000, band 500 bps (robot r1)"


def test_the_narrower_band_of_robot_and_account_applies() -> None:
    at = context(
        robot_config=robot(price_band_bps=1_000), account_limits=LimitsConfig(price_band_bps=100)
    )
    detail = _refused(decide(intent(price="60700.0"), at), Refusal.PRICE_BAND, Scope.ACCOUNT)
    assert detail == "price 60700.0 is 116.7 bps above mark 60000, band 100 bps (account main)"


def test_without_a_mark_a_limit_that_needs_it_refuses() -> None:
    at = context(marks={})
    band = _refused(decide(intent(), at), Refusal.NO_MARK, Scope.ROBOT)
    assert band == "no mark price for BTCUSDT to check the price band (robot r1)"
    notional = context(
        marks={},
        robot_config=robot(price_band_bps=None),
        account_limits=LimitsConfig(price_band_bps=None, max_order_notional=5_000),
    )
    detail = _refused(decide(intent(price=None), notional), Refusal.NO_MARK, Scope.ACCOUNT)
    assert detail == "no mark price for BTCUSDT to price the market order's notional (account main)"
    assert decide(intent(), notional).passed  # a limit order has its own price


def test_without_a_mark_a_market_order_cannot_meet_min_notional() -> None:
    at = context(marks={}, robot_config=robot(price_band_bps=None), account_limits=NO_BANDS)
    detail = _refused(decide(intent(price=None), at), Refusal.NO_MARK)
    assert detail == "no mark price for BTCUSDT to check the exchange's min notional"
    assert decide(intent("SELL", price=None, reduce_only=True), at).passed  # exempt


# --- notional and exposure ----------------------------------------------------------------------


def test_an_order_above_the_robots_max_notional_is_refused() -> None:
    at = context(robot_config=robot(max_order_notional=10_000))
    detail = _refused(decide(intent(quantity="0.200"), at), Refusal.ORDER_NOTIONAL, Scope.ROBOT)
    assert detail == "notional 12000 USDT (0.200 × 60000.0) > max 10000 USDT (robot r1)"
    assert decide(intent(quantity="0.166"), at).passed  # 9960


def test_a_market_order_above_the_accounts_max_notional_is_refused_at_the_mark() -> None:
    at = context(account_limits=LimitsConfig(max_order_notional=1_000), marks={"BTCUSDT": "62000"})
    detail = _refused(
        decide(intent(quantity="0.020", price=None), at), Refusal.ORDER_NOTIONAL, Scope.ACCOUNT
    )
    assert detail == "notional 1240 USDT (0.020 × 62000) > max 1000 USDT (account main)"


def test_symbol_exposure_counts_positions_at_the_mark_and_adding_open_orders() -> None:
    orders = (
        open_order(1, side="BUY", price="59000.0", orig_qty="0.060", executed_qty="0.010"),  # 2950
        open_order(2, side="SELL", price="61000.0", orig_qty="0.1", reduce_only=True),  # closes
        open_order(3, side="SELL", price="1000", orig_qty="9", position_side="LONG"),  # closes
        open_order(4, side="BUY", price="3000", orig_qty="1", symbol="ETHUSDT"),  # other symbol
    )
    at = context(
        robot_config=robot(max_symbol_exposure=20_000),
        positions={("BTCUSDT", "BOTH"): "0.25", ("ETHUSDT", "BOTH"): "2"},
        open_orders=orders,
        marks={"BTCUSDT": "60000", "ETHUSDT": "3000"},
    )
    assert decide(intent(quantity="0.034"), at).passed  # 15000 + 2950 + 2040
    detail = _refused(decide(intent(quantity="0.100"), at), Refusal.SYMBOL_EXPOSURE, Scope.ROBOT)
    assert detail == (
        "BTCUSDT exposure 23950 USDT > max 20000 USDT: positions 15000 + open orders 2950 "
        "+ this order 6000 (robot r1)"
    )


def test_hedge_positions_count_both_sides_and_opening_orders_per_side() -> None:
    at = context(
        account_limits=LimitsConfig(max_symbol_exposure=29_999),
        positions={("BTCUSDT", "LONG"): "0.2", ("BTCUSDT", "SHORT"): "-0.1"},  # 18000
        open_orders=(
            open_order(1, side="SELL", price="60000", orig_qty="0.1", position_side="SHORT"),
            open_order(2, side="BUY", price="60000", orig_qty="0.1", position_side="SHORT"),
        ),
    )
    detail = _refused(
        decide(intent("BUY", "0.1", position_side="LONG"), at),
        Refusal.SYMBOL_EXPOSURE,
        Scope.ACCOUNT,
    )
    assert detail == (
        "BTCUSDT exposure 30000 USDT > max 29999 USDT: positions 18000 + open orders 6000 "
        "+ this order 6000 (account main)"
    )


def test_a_one_way_order_turning_the_position_around_adds_only_what_is_beyond_it() -> None:
    at = context(
        robot_config=robot(max_symbol_exposure=17_000),
        positions={("BTCUSDT", "BOTH"): "0.1"},  # 6000
        open_orders=(open_order(1, side="SELL", price="62000.0", orig_qty="0.05"),),
    )
    # 0.05 + 0.25 sells against a long of 0.1: 0.2 beyond it, at the highest price.
    detail = _refused(decide(intent("SELL", "0.25"), at), Refusal.SYMBOL_EXPOSURE, Scope.ROBOT)
    assert detail == (
        "BTCUSDT exposure 18400 USDT > max 17000 USDT: positions 6000 + open orders 0 "
        "+ this order 12400 (robot r1)"
    )
    assert decide(intent("SELL", "0.2"), at).passed  # 6000 + 0.15 × 62000 = 15300


def test_orders_that_add_no_exposure_pass_above_the_limit() -> None:
    at = context(
        robot_config=robot(max_symbol_exposure=1_000, max_account_exposure=1_000),
        positions={("BTCUSDT", "BOTH"): "0.5", ("BTCUSDT", "LONG"): "0.1"},  # 36000, far above
        open_orders=(open_order(1, side="SELL", price="60000.0", orig_qty="0.4"),),
    )
    assert decide(intent("SELL", "0.1"), at).passed  # reducing, with the open sell
    assert decide(intent("SELL", "0.2", position_side="LONG"), at).passed  # over-closes: adds 0
    detail = _refused(decide(intent("SELL", "0.2"), at), Refusal.SYMBOL_EXPOSURE, Scope.ROBOT)
    assert detail.endswith("positions 36000 + open orders 0 + this order 6000 (robot r1)")


def test_account_exposure_sums_every_symbol_at_its_mark() -> None:
    at = context(
        account_limits=LimitsConfig(max_account_exposure=25_000),
        positions={("ETHUSDT", "BOTH"): "-3", ("SOLUSDT", "LONG"): "100"},  # 9000 + 15000
        open_orders=(open_order(1, symbol="ETHUSDT", side="SELL", price="3100", orig_qty="0.1"),),
        marks={"BTCUSDT": "60000", "ETHUSDT": "3000", "SOLUSDT": "150"},
    )
    assert decide(intent(quantity="0.010"), at).passed  # 24310 + 600 = 24910
    detail = _refused(decide(intent(quantity="0.020"), at), Refusal.ACCOUNT_EXPOSURE, Scope.ACCOUNT)
    assert detail == (
        "account exposure 25510 USDT > max 25000 USDT: 24310 + this order 1200 (account main)"
    )


def test_exposure_without_a_mark_fails_closed() -> None:
    at = context(
        robot_config=robot(max_account_exposure=1_000_000),
        positions={("ETHUSDT", "BOTH"): "1"},
    )
    detail = _refused(decide(intent(), at), Refusal.NO_MARK, Scope.ROBOT)
    assert detail == "no mark price for ETHUSDT to value the account's exposure (robot r1)"
    symbol = context(robot_config=robot(max_symbol_exposure=1_000_000), marks={})
    detail = _refused(decide(intent(price=None), symbol), Refusal.NO_MARK, Scope.ROBOT)
    assert detail == "no mark price for BTCUSDT to value BTCUSDT's exposure (robot r1)"


# --- exchange filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "filters", "refusal", "detail"),
    [
        pytest.param(
            intent(),
            dataclasses.replace(BTC, status="SETTLING"),
            Refusal.NOT_TRADING,
            "BTCUSDT TRADING: status is SETTLING, not TRADING",
            id="not-trading",
        ),
        pytest.param(
            intent(quantity="0.0105"),
            BTC,
            Refusal.STEP_SIZE,
            "BTCUSDT LOT_SIZE: quantity 0.0105 is not a multiple of stepSize 0.001",
            id="step",
        ),
        pytest.param(
            intent(quantity="0.002"),
            dataclasses.replace(BTC, min_qty=Decimal("0.003")),
            Refusal.MIN_QTY,
            "BTCUSDT LOT_SIZE: quantity 0.002 < minQty 0.003",
            id="min-qty",
        ),
        pytest.param(
            intent(quantity="121", price=None),
            BTC,
            Refusal.MAX_QTY,
            "BTCUSDT MARKET_LOT_SIZE: quantity 121 > maxQty 120",
            id="max-qty",
        ),
        pytest.param(
            intent(price="60000.05"),
            BTC,
            Refusal.TICK_SIZE,
            "BTCUSDT PRICE_FILTER: price 60000.05 is not a multiple of tickSize 0.10",
            id="tick",
        ),
        pytest.param(
            intent(quantity="1", price="200.0"),
            BTC,
            Refusal.MIN_PRICE,
            "BTCUSDT PRICE_FILTER: price 200.0 < minPrice 261.10",
            id="min-price",
        ),
        pytest.param(
            intent(price="900000.0"),
            BTC,
            Refusal.MAX_PRICE,
            "BTCUSDT PRICE_FILTER: price 900000.0 > maxPrice 809484",
            id="max-price",
        ),
        pytest.param(
            intent(price="63000.1"),
            BTC,
            Refusal.PERCENT_PRICE,
            "BTCUSDT PERCENT_PRICE: BUY price 63000.1 > mark 60000 × multiplierUp 1.0500 "
            "= 63000.0000",
            id="percent-price",
        ),
        pytest.param(
            intent(quantity="0.001"),
            BTC,
            Refusal.MIN_NOTIONAL,
            "BTCUSDT MIN_NOTIONAL: notional 60.0000 (0.001 × 60000.0) < 100; only reduce-only "
            "orders are exempt",
            id="min-notional",
        ),
    ],
)
def test_the_exchanges_filters_refuse_what_binance_would(
    order: object, filters: object, refusal: Refusal, detail: str
) -> None:
    at = context(filters=filters, robot_config=robot(price_band_bps=None), account_limits=NO_BANDS)
    assert _refused(decide(order, at), refusal) == detail  # type: ignore[arg-type]


def test_a_reduce_only_order_is_exempt_from_min_notional() -> None:
    assert decide(intent("SELL", "0.001", reduce_only=True), context()).passed


SHARE = {"max_notional_usdt": "2000", "max_margin_usdt": "300"}


def test_a_robot_past_its_notional_share_is_refused_and_its_own_reduction_passes() -> None:
    at = context(
        robot_config=robot(share=SHARE),
        robot_positions={("BTCUSDT", "BOTH"): "0.030"},  # 1,800 USDT of its own
        leverage={"BTCUSDT": 10},
        positions={("BTCUSDT", "BOTH"): "0.030"},
    )

    detail = _refused(decide(intent("BUY", "0.005"), at), Refusal.ROBOT_NOTIONAL, Scope.ROBOT)

    assert detail == ("its gross notional 2100 USDT with this order > max 2000 USDT (robot r1)")
    assert decide(intent("SELL", "0.010"), at).passed
    assert decide(intent("BUY", "0.003"), at).passed  # 1,980 USDT


def test_the_others_positions_do_not_count_against_a_robots_share_but_its_orders_do() -> None:
    share = robot(share=SHARE)
    mine = open_order(
        5, client_order_id=f"{share.client_id_prefix}x", price="60000", orig_qty="0.03"
    )
    theirs = open_order(6, client_order_id="rb-r2-x", price="60000", orig_qty="0.03")

    others = context(
        robot_config=share,
        positions={("BTCUSDT", "BOTH"): "1"},
        open_orders=[theirs],
        leverage={"BTCUSDT": 10},
    )
    with_mine = context(robot_config=share, open_orders=[mine], leverage={"BTCUSDT": 10})

    assert decide(intent("BUY", "0.010"), others).passed
    assert _refused(decide(intent("BUY", "0.010"), with_mine), Refusal.ROBOT_NOTIONAL, Scope.ROBOT)


def test_a_robots_margin_share_divides_by_the_leverage_and_assumes_1x_when_unknown() -> None:
    at = context(robot_config=robot(share={"max_margin_usdt": "300"}))

    detail = _refused(decide(intent("BUY", "0.010"), at), Refusal.ROBOT_MARGIN, Scope.ROBOT)
    assert detail == "its margin in use 600 USDT with this order > max 300 USDT (robot r1)"
    assert decide(intent("BUY", "0.010"), dataclasses.replace(at, leverage={"BTCUSDT": 2})).passed
