"""The OrderReaper's decisions: rules by prefix and age, rungs, GCR hold-back, per-pass cap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from riskd.exchange.parse import PayloadError
from riskd.orders import OpenAlgoOrder, OpenOrder
from riskd.protect.reaper import (
    ACCOUNT,
    Cancel,
    GcrStatus,
    MarketOrder,
    ReaperConfig,
    ReaperDecision,
    ReaperRule,
    decide,
    parse_trading_status,
    replacement_after_cancel,
)
from tests.kit.samples import open_order

NOW = 1_750_000_000_000
NO_LOCK = GcrStatus((), 0)


def order(order_id: int, client_id: str, age_ms: int, **fields: Any) -> OpenOrder:
    """A resting LIMIT order at 60 000, 1.000 unfilled unless *fields* say otherwise, placed
    *age_ms* before NOW."""
    fields = {"price": "60000.0", "orig_qty": "1.000", **fields}
    return open_order(order_id, client_order_id=client_id, time_ms=NOW - age_ms, **fields)


def rung(
    algo_id: int, age_ms: int, *, symbol: str = "BTCUSDT", position_side: str = "BOTH"
) -> OpenAlgoOrder:
    """A StopLadder rung (client id with the ``rl`` prefix) placed *age_ms* before NOW."""
    return OpenAlgoOrder(
        algo_id=algo_id,
        client_algo_id=f"rl-acct-{symbol}-g1-r{algo_id}",
        symbol=symbol,
        side="SELL",
        position_side=position_side,
        order_type="STOP_MARKET",
        quantity=Decimal(0),
        trigger_price=Decimal("57000"),
        working_type="MARK_PRICE",
        reduce_only=False,
        close_position=True,
        price_protect=True,
        create_time_ms=NOW - age_ms,
        update_time_ms=NOW - age_ms,
    )


def run(
    orders: Sequence[OpenOrder] = (),
    algos: Sequence[OpenAlgoOrder] = (),
    *,
    positions: set[tuple[str, str]] | None = None,
    gcr: dict[str, GcrStatus] | None = None,
    **config: Any,
) -> ReaperDecision:
    return decide(orders, algos, positions or set(), gcr or {}, NOW, ReaperConfig(**config))


def cancelled(decision: ReaperDecision) -> list[tuple[int, str]]:
    return [(cancel.order.order_id, cancel.rule) for cancel in decision.cancels]


# --- config -----------------------------------------------------------------------------------


def test_default_config_is_the_seed_policy() -> None:
    config = ReaperConfig()
    assert config.rules == (
        ReaperRule(client_id_prefix="wTake_", max_age_ms=15_000, action="cancel"),
        ReaperRule(client_id_prefix="MC_", max_age_ms=60_000, action="cancel"),
    )
    assert config.maker_max_age_ms is None
    assert config.protected_prefixes == ("rl",)
    assert config.gcr_caution_ratio == Decimal("0.9")
    assert config.cancels_per_pass == 10


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"rules": [{"client_id_prefix": "", "max_age_ms": 1}]}, "client_id_prefix"),
        ({"rules": [{"client_id_prefix": "x", "max_age_ms": 0}]}, "max_age_ms"),
        ({"rules": [{"client_id_prefix": "x", "max_age_ms": 1, "action": "market"}]}, "action"),
        (
            {"rules": [{"client_id_prefix": "x", "max_age_ms": 1}] * 2},
            "two rules for client_id_prefix 'x'",
        ),
        ({"rules": [{"client_id_prefix": "rl-a", "max_age_ms": 1}]}, "can never fire"),
        ({"protected_prefixes": ["rl", ""]}, "would protect every order"),
        ({"maker_max_age_ms": 0}, "maker_max_age_ms"),
        ({"gcr_caution_ratio": "1.1"}, "gcr_caution_ratio"),
        ({"cancels_per_pass": 0}, "cancels_per_pass"),
        ({"cancel_per_pass": 5}, "cancel_per_pass"),
    ],
)
def test_bad_config_is_refused_naming_the_problem(settings: dict, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        ReaperConfig(**settings)


# --- rules and ages ---------------------------------------------------------------------------


def test_wtake_order_at_exactly_15s_is_not_yet_cancelled() -> None:
    assert run([order(1, "wTake_a", 15_000)]).cancels == ()


def test_wtake_order_1ms_past_15s_is_cancelled() -> None:
    decision = run([order(1, "wTake_a", 15_001)])
    assert decision.cancels == (Cancel(order(1, "wTake_a", 15_001), "wTake_"),)
    assert decision.market_replacements == ()


def test_mc_order_is_cancelled_only_after_60s() -> None:
    assert run([order(1, "MC_a", 60_000)]).cancels == ()
    assert cancelled(run([order(1, "MC_a", 60_001)])) == [(1, "MC_")]


def test_order_matching_no_rule_is_never_cancelled() -> None:
    assert run([order(1, "manual", 10**9), order(2, "wtake_lowercase", 10**9)]).cancels == ()


def test_prefix_is_matched_at_the_start_of_the_client_id_only() -> None:
    assert run([order(1, "x-wTake_a", 10**9)]).cancels == ()


@pytest.mark.parametrize("reverse", [False, True])
def test_longest_matching_prefix_wins_whatever_the_config_order(reverse: bool) -> None:
    rules = [
        ReaperRule(client_id_prefix="w", max_age_ms=100_000),
        ReaperRule(client_id_prefix="wTake_", max_age_ms=15_000),
    ]
    decision = run(
        [order(1, "wTake_a", 20_000), order(2, "wOther", 20_000), order(3, "wOld", 100_001)],
        rules=rules[::-1] if reverse else rules,
    )
    assert cancelled(decision) == [(3, "w"), (1, "wTake_")]


def test_order_placed_in_the_future_is_not_due() -> None:
    assert run([order(1, "wTake_a", -5_000)]).cancels == ()


# --- maker → taker ----------------------------------------------------------------------------


def test_cancel_and_market_replaces_only_the_unfilled_remainder() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    partly = order(42, "mk_a", 3_001, orig_qty="1.000", executed_qty="0.350", side="SELL")
    decision = run([partly], rules=[rule])
    assert cancelled(decision) == [(42, "mk_")]
    assert decision.market_replacements == (
        MarketOrder(
            symbol="BTCUSDT",
            side="SELL",
            position_side="BOTH",
            quantity=Decimal("0.650"),
            reduce_only=False,
            client_order_id="rp-42",
            replaces_order_id=42,
        ),
    )


def test_replacement_keeps_reduce_only_and_hedge_position_side() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    closing = order(7, "mk_b", 4_000, side="BUY", position_side="SHORT", reduce_only=True)
    (replacement,) = run([closing], rules=[rule]).market_replacements
    assert (replacement.side, replacement.position_side, replacement.reduce_only) == (
        "BUY",
        "SHORT",
        True,
    )


def test_replacement_client_id_is_the_same_on_every_pass() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    big_id = 8389765739703625592
    first = run([order(big_id, "mk_a", 5_000)], rules=[rule]).market_replacements
    again = run([order(big_id, "mk_a", 9_000)], rules=[rule]).market_replacements
    assert first == again
    assert first[0].client_order_id == f"rp-{big_id}"
    assert len(first[0].client_order_id) <= 36  # Binance's newClientOrderId limit


def test_maker_rule_is_off_by_default() -> None:
    assert run([order(1, "anything", 10**9, time_in_force="GTX")]).cancels == ()


def test_maker_rule_converts_any_old_post_only_order() -> None:
    decision = run(
        [
            order(1, "strat", 3_001, time_in_force="GTX"),
            order(2, "strat", 3_000, time_in_force="GTX"),
        ],
        maker_max_age_ms=3_000,
    )
    assert cancelled(decision) == [(1, "maker")]
    assert [r.client_order_id for r in decision.market_replacements] == ["rp-1"]


def test_maker_rule_leaves_non_post_only_orders_alone() -> None:
    assert (
        run([order(1, "strat", 10**9, time_in_force="GTC")], maker_max_age_ms=3_000).cancels == ()
    )


def test_maker_rule_shorter_than_prefix_rule_takes_the_post_only_order() -> None:
    decision = run([order(1, "wTake_a", 4_000, time_in_force="GTX")], maker_max_age_ms=3_000)
    assert cancelled(decision) == [(1, "maker")]
    assert len(decision.market_replacements) == 1


def test_prefix_rule_shorter_than_maker_rule_cancels_without_replacement() -> None:
    decision = run([order(1, "wTake_a", 16_000, time_in_force="GTX")], maker_max_age_ms=20_000)
    assert cancelled(decision) == [(1, "wTake_")]
    assert decision.market_replacements == ()


def test_equal_ages_go_to_the_prefix_rule() -> None:
    decision = run([order(1, "wTake_a", 16_000, time_in_force="GTX")], maker_max_age_ms=15_000)
    assert cancelled(decision) == [(1, "wTake_")]


def test_replacement_after_cancel_shrinks_to_what_the_cancel_left() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    (replacement,) = run(
        [order(5, "mk_a", 4_000, executed_qty="0.2")], rules=[rule]
    ).market_replacements
    assert replacement.quantity == Decimal("0.8")
    shrunk = replacement_after_cancel(replacement, Decimal("1.000"), Decimal("0.700"))
    assert shrunk is not None
    assert shrunk.quantity == Decimal("0.300")
    assert shrunk.client_order_id == "rp-5"


def test_replacement_after_cancel_of_a_filled_order_is_none() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    (replacement,) = run([order(5, "mk_a", 4_000)], rules=[rule]).market_replacements
    assert replacement_after_cancel(replacement, Decimal("1.000"), Decimal("1.000")) is None


def test_replacement_after_cancel_never_grows_the_order() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    (replacement,) = run(
        [order(5, "mk_a", 4_000, executed_qty="0.5")], rules=[rule]
    ).market_replacements
    grown = replacement_after_cancel(replacement, Decimal("1.000"), Decimal("0"))
    assert grown is not None
    assert grown.quantity == Decimal("0.500")


def test_one_way_replacement_is_sent_reduce_only_without_a_position_side() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    closing = order(7, "mk_b", 4_000, executed_qty="0.25", side="SELL", reduce_only=True)
    (replacement,) = run([closing], rules=[rule]).market_replacements
    assert replacement.order_params() == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "MARKET",
        "quantity": "0.750",
        "newClientOrderId": "rp-7",
        "reduceOnly": "true",
    }


def test_hedge_replacement_names_its_position_side_and_never_reduce_only() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    closing = order(7, "mk_b", 4_000, side="BUY", position_side="SHORT", reduce_only=True)
    (replacement,) = run([closing], rules=[rule]).market_replacements
    params = replacement.order_params()
    assert (params["positionSide"], "reduceOnly" in params) == ("SHORT", False)


def test_one_way_replacement_that_may_open_sends_neither_flag() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=3_000, action="cancel_and_market")
    (replacement,) = run([order(7, "mk_b", 4_000)], rules=[rule]).market_replacements
    assert {"positionSide", "reduceOnly"}.isdisjoint(replacement.order_params())


# --- protected rungs and orphans --------------------------------------------------------------


def test_protected_regular_order_is_never_reaped_even_as_old_post_only() -> None:
    decision = run(
        [order(1, "rl-acct-BTCUSDT-g1-r1", 10**9, time_in_force="GTX")],
        rules=[ReaperRule(client_id_prefix="r", max_age_ms=1)],
        maker_max_age_ms=1,
    )
    assert decision.cancels == ()


def test_rung_of_an_open_position_is_never_cancelled() -> None:
    decision = run(algos=[rung(1, 10**9)], positions={("BTCUSDT", "BOTH")})
    assert decision.orphan_rungs == ()


def test_rung_without_a_position_is_an_orphan_after_the_grace() -> None:
    orphan = rung(1, 60_001)
    assert run(algos=[orphan]).orphan_rungs == (orphan,)


def test_rung_without_a_position_within_the_grace_is_kept() -> None:
    assert run(algos=[rung(1, 60_000)]).orphan_rungs == ()


def test_no_rung_is_an_orphan_while_the_book_has_no_complete_and_fresh_view() -> None:
    old = rung(1, 10**9)
    stale = decide([order(7, "wTake_1", 20_000)], [old], None, {}, NOW, ReaperConfig())
    assert stale.orphan_rungs == ()
    assert cancelled(stale) == [(7, "wTake_")]  # regular orders are still reaped


def test_hedge_rung_is_an_orphan_when_only_the_other_side_is_open() -> None:
    long_rung = rung(1, 120_000, position_side="LONG")
    short_rung = rung(2, 120_000, position_side="SHORT")
    decision = run(algos=[long_rung, short_rung], positions={("BTCUSDT", "SHORT")})
    assert decision.orphan_rungs == (long_rung,)


def test_algo_order_without_a_protected_prefix_is_left_alone() -> None:
    foreign = replace(rung(1, 10**9), client_algo_id="wTake_tp")
    assert run(algos=[foreign]).orphan_rungs == ()


def test_protected_prefixes_are_configurable() -> None:
    decision = run(
        [order(1, "wTake_keep1", 10**9), order(2, "wTake_other", 10**9)],
        protected_prefixes=["wTake_keep"],
    )
    assert cancelled(decision) == [(2, "wTake_")]
    orphan = replace(rung(3, 10**9), client_algo_id="ladder-1")
    assert run(algos=[orphan], protected_prefixes=["ladder-"]).orphan_rungs == (orphan,)


# --- GCR hold-back and locks ------------------------------------------------------------------


def gcr_status(value: str, trigger: str = "0.99") -> GcrStatus:
    return GcrStatus((), 0, Decimal(value), Decimal(trigger))


def test_symbol_near_its_gcr_trigger_is_held_back_and_alerted() -> None:
    decision = run(
        [order(1, "wTake_a", 20_000), order(2, "wTake_b", 20_000, symbol="ETHUSDT")],
        gcr={"BTCUSDT": gcr_status("0.93")},
    )
    assert cancelled(decision) == [(2, "wTake_")]
    assert decision.held_back == {"BTCUSDT": "GCR 0.93 ≥ 0.9 × 0.99: not cancelling"}
    assert decision.alerts == ("reaper: BTCUSDT: GCR 0.93 ≥ 0.9 × 0.99: not cancelling",)


def test_gcr_exactly_at_caution_holds_and_just_below_does_not() -> None:
    orders = [order(1, "wTake_a", 20_000)]
    assert run(orders, gcr={"BTCUSDT": gcr_status("0.891")}).cancels == ()
    below = run(orders, gcr={"BTCUSDT": gcr_status("0.8909")})
    assert cancelled(below) == [(1, "wTake_")]
    assert below.held_back == {}
    assert below.alerts == ()


def test_gcr_hold_also_keeps_orphan_rungs_and_replacements() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=1, action="cancel_and_market")
    decision = run(
        [order(1, "mk_a", 10)], [rung(2, 10**9)], rules=[rule], gcr={"BTCUSDT": gcr_status("0.95")}
    )
    assert (decision.cancels, decision.market_replacements, decision.orphan_rungs) == ((), (), ())
    assert list(decision.held_back) == ["BTCUSDT"]


def test_symbol_without_due_orders_is_not_reported_held() -> None:
    decision = run([order(1, "wTake_a", 1_000)], gcr={"BTCUSDT": gcr_status("0.99")})
    assert decision.held_back == {}
    assert decision.alerts == ()


def test_locked_symbol_is_never_cancelled_on() -> None:
    locked = GcrStatus(("GCR",), NOW + 300_000, Decimal("0.99"), Decimal("0.99"))
    decision = run([order(1, "wTake_a", 20_000)], gcr={"BTCUSDT": locked})
    assert decision.cancels == ()
    assert decision.held_back == {"BTCUSDT": f"locked by GCR until {NOW + 300_000}: not cancelling"}


def test_symbol_locked_by_another_indicator_is_held_too() -> None:
    locked = GcrStatus(("UFR",), NOW + 1, None, None)
    assert run([order(1, "wTake_a", 20_000)], gcr={"BTCUSDT": locked}).cancels == ()


def test_account_lock_blocks_every_symbol_with_one_alert() -> None:
    decision = run(
        [order(1, "wTake_a", 20_000), order(2, "MC_b", 70_000, symbol="ETHUSDT")],
        [rung(3, 10**9, symbol="SOLUSDT")],
        gcr={ACCOUNT: GcrStatus(("TMV",), NOW + 600_000)},
    )
    assert (decision.cancels, decision.orphan_rungs) == ((), ())
    reason = f"account locked by TMV until {NOW + 600_000}: not cancelling"
    assert decision.held_back == {"BTCUSDT": reason, "ETHUSDT": reason, "SOLUSDT": reason}
    assert decision.alerts == (f"reaper: {reason}",)


def test_account_lock_is_alerted_even_with_nothing_to_cancel() -> None:
    decision = run(gcr={ACCOUNT: GcrStatus(("TMV",), NOW + 1)})
    assert decision.alerts == (f"reaper: account locked by TMV until {NOW + 1}: not cancelling",)


def test_unlocked_account_indicators_do_not_hold_anything() -> None:
    decision = run([order(1, "wTake_a", 20_000)], gcr={ACCOUNT: NO_LOCK, "BTCUSDT": NO_LOCK})
    assert cancelled(decision) == [(1, "wTake_")]


# --- per-pass cap -----------------------------------------------------------------------------


def test_cap_sends_the_oldest_and_defers_the_rest() -> None:
    orders = [order(100 + i, f"wTake_{i}", 20_000 + i * 1_000) for i in range(12)]
    decision = run(orders)
    assert [c.order.order_id for c in decision.cancels] == list(range(111, 101, -1))
    assert decision.deferred == 2


def test_cap_ties_go_by_order_id_then_orders_before_rungs() -> None:
    same_time = NOW - 100_000
    orders = [order(9, "MC_a", 100_000), order(3, "MC_b", 100_000)]
    orphan = rung(1, 100_000)
    assert orphan.create_time_ms == same_time
    decision = run(orders, [orphan], cancels_per_pass=2)
    assert cancelled(decision) == [(3, "MC_"), (9, "MC_")]
    assert decision.orphan_rungs == ()
    assert decision.deferred == 1


def test_cap_counts_orphan_rungs_with_orders_by_age() -> None:
    old_rung = rung(1, 500_000)
    decision = run(
        [order(2, "MC_a", 400_000), order(3, "MC_b", 600_000)], [old_rung], cancels_per_pass=2
    )
    assert cancelled(decision) == [(3, "MC_")]
    assert decision.orphan_rungs == (old_rung,)
    assert decision.deferred == 1


def test_held_back_orders_do_not_use_the_cap() -> None:
    orders = [order(1, "wTake_a", 99_000, symbol="LOCKUSDT")] + [
        order(10 + i, f"wTake_{i}", 20_000) for i in range(3)
    ]
    decision = run(orders, gcr={"LOCKUSDT": gcr_status("0.99")}, cancels_per_pass=3)
    assert [c.order.order_id for c in decision.cancels] == [10, 11, 12]
    assert decision.deferred == 0


def test_replacements_follow_only_the_cancels_sent_this_pass() -> None:
    rule = ReaperRule(client_id_prefix="mk_", max_age_ms=1, action="cancel_and_market")
    orders = [order(1, "mk_a", 30), order(2, "mk_b", 20), order(3, "mk_c", 10)]
    decision = run(orders, rules=[rule], cancels_per_pass=2)
    assert [r.client_order_id for r in decision.market_replacements] == ["rp-1", "rp-2"]


def test_decision_does_not_depend_on_input_order() -> None:
    orders = [order(i, f"MC_{i}", 61_000 + (i % 3) * 10) for i in range(8)]
    assert run(orders, cancels_per_pass=5) == run(orders[::-1], cancels_per_pass=5)


# --- GET /fapi/v1/apiTradingStatus ------------------------------------------------------------

DOCS_STATUS = {
    "indicators": {
        "BTCUSDT": [
            {
                "isLocked": True,
                "plannedRecoverTime": 1545741270000,
                "indicator": "UFR",
                "value": 0.05,
                "triggerValue": 0.995,
            },
            {
                "isLocked": True,
                "plannedRecoverTime": 1545741270000,
                "indicator": "IFER",
                "value": 0.99,
                "triggerValue": 0.99,
            },
            {
                "isLocked": True,
                "plannedRecoverTime": 1545741270000,
                "indicator": "GCR",
                "value": 0.99,
                "triggerValue": 0.99,
            },
            {
                "isLocked": True,
                "plannedRecoverTime": 1545741270000,
                "indicator": "DR",
                "value": 0.99,
                "triggerValue": 0.99,
            },
        ],
        "ACCOUNT": [
            {
                "indicator": "TMV",
                "value": 10,
                "triggerValue": 1,
                "plannedRecoverTime": 1644919865000,
                "isLocked": True,
            }
        ],
    },
    "updateTime": 1545741270000,
}


def test_docs_trading_status_reads_symbol_and_account_locks() -> None:
    assert parse_trading_status(DOCS_STATUS) == {
        "BTCUSDT": GcrStatus(
            ("UFR", "IFER", "GCR", "DR"), 1545741270000, Decimal("0.99"), Decimal("0.99")
        ),
        "ACCOUNT": GcrStatus(("TMV",), 1644919865000),
    }


def test_simulator_shaped_unlocked_gcr_reads_float_values_as_their_decimal_text() -> None:
    body = {
        "indicators": {
            "ETHUSDT": [
                {
                    "isLocked": False,
                    "plannedRecoverTime": 0,
                    "indicator": "GCR",
                    "value": 0.9333,
                    "triggerValue": 0.99,
                }
            ]
        },
        "updateTime": NOW,
    }
    (status,) = parse_trading_status(body).values()
    assert status == GcrStatus((), 0, Decimal("0.9333"), Decimal("0.99"))
    assert not status.locked


def test_trading_status_without_indicators_is_empty() -> None:
    assert parse_trading_status({"indicators": {}, "updateTime": NOW}) == {}


def test_parsed_trading_status_drives_the_hold_back() -> None:
    gcr = parse_trading_status(
        {
            "indicators": {
                "BTCUSDT": [
                    {
                        "isLocked": False,
                        "plannedRecoverTime": 0,
                        "indicator": "GCR",
                        "value": 0.93,
                        "triggerValue": 0.99,
                    }
                ]
            },
            "updateTime": NOW,
        }
    )
    decision = run([order(1, "wTake_a", 20_000)], gcr=gcr)
    assert decision.held_back == {"BTCUSDT": "GCR 0.93 ≥ 0.9 × 0.99: not cancelling"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda body: body["indicators"]["BTCUSDT"][2].update(value=True),
            "GET /fapi/v1/apiTradingStatus: indicators.BTCUSDT[2].value: a boolean is not a number",
        ),
        (
            lambda body: body["indicators"]["BTCUSDT"][2].update(triggerValue=float("nan")),
            "GET /fapi/v1/apiTradingStatus: indicators.BTCUSDT[2].triggerValue: a float is not",
        ),
        (
            lambda body: body["indicators"]["ACCOUNT"][0].update(isLocked="true"),
            "GET /fapi/v1/apiTradingStatus: indicators.ACCOUNT[0].isLocked: a string is not a bool",
        ),
        (
            lambda body: body["indicators"]["ACCOUNT"][0].pop("plannedRecoverTime"),
            "GET /fapi/v1/apiTradingStatus: indicators.ACCOUNT[0].plannedRecoverTime: is missing",
        ),
        (
            lambda body: body["indicators"].update(ETHUSDT={}),
            "GET /fapi/v1/apiTradingStatus: indicators.ETHUSDT: an object is not a list",
        ),
        (
            lambda body: body.update(indicators=[]),
            "GET /fapi/v1/apiTradingStatus: indicators: a list is not an object",
        ),
    ],
)
def test_bad_trading_status_is_refused_naming_the_field(mutate: Any, message: str) -> None:
    body = {
        "indicators": {
            key: [dict(item) for item in items] for key, items in DOCS_STATUS["indicators"].items()
        },
        "updateTime": 1,
    }
    mutate(body)
    with pytest.raises(PayloadError) as caught:
        parse_trading_status(body)
    assert str(caught.value).startswith(message)
