from dataclasses import dataclass
from decimal import Decimal

import pytest
from pydantic import ValidationError

from riskd.core.clock import HOUR_MS, MINUTE_MS
from riskd.risk.attribution import Attribution
from riskd.risk.locks import ALL, LockRequest, TradingState
from riskd.risk.rules import (
    DEFAULT_RULES,
    EquityPoint,
    Exposure,
    RuleAction,
    RuleConfig,
    RulesConfig,
    StopOut,
    evaluate,
)

NOW = 100 * HOUR_MS
DEFAULTS = RulesConfig()


@dataclass(frozen=True)
class Entry:
    time_ms: int
    symbol: str
    kind: str
    amount: Decimal
    asset: str = "USDT"
    client_order_id: str = ""


def _pnl(at_ms: int, symbol: str, amount: str, kind: str = "realized_pnl") -> Entry:
    return Entry(at_ms, symbol, kind, Decimal(amount))


def _only(rule_id: str, **changes: object) -> RulesConfig:
    """The defaults with only *rule_id* enabled, changed by *changes*."""
    rules = tuple(
        rule.model_copy(update={"enabled": rule.id == rule_id, **changes})
        if rule.id == rule_id
        else rule.model_copy(update={"enabled": False})
        for rule in DEFAULT_RULES
    )
    return RulesConfig(rules=rules)


def test_seed_defaults_enable_the_three_loss_limits_only() -> None:
    enabled = {(r.id, r.kind, r.window_ms, r.threshold_usdt) for r in DEFAULTS.rules if r.enabled}

    assert enabled == {
        ("symbol_4h", "symbol_pnl", 4 * HOUR_MS, Decimal(-150)),
        ("symbol_24h", "symbol_pnl", 24 * HOUR_MS, Decimal(-1800)),
        ("account_24h", "account_pnl", 24 * HOUR_MS, Decimal(-3000)),
    }
    assert {r.kind for r in DEFAULTS.rules if not r.enabled} == {
        "drawdown",
        "stop_streak",
        "cooldown",
    }


def test_losing_trades_on_a_symbol_lock_that_symbol_until_the_window_clears() -> None:
    entries = [_pnl(NOW - 3 * HOUR_MS, "BTCUSDT", "-100"), _pnl(NOW - HOUR_MS, "BTCUSDT", "-60")]

    result = evaluate(DEFAULTS, entries, [], [], NOW)

    # -160 ≤ -150 until the -100 leaves the 4 h window: 3 h ago + 4 h.
    assert result.locks == (
        LockRequest(
            symbol="BTCUSDT",
            side="both",
            reason_code="symbol_pnl",
            reason_text="BTCUSDT PnL -160 USDT over 4h ≤ -150",
            source="rule:symbol_4h",
            until_ms=NOW + HOUR_MS,
            evidence_ms=NOW - HOUR_MS,
            pnl_usdt=Decimal(-160),
        ),
    )
    assert result.state is None
    assert result.reasons == ("symbol_4h: BTCUSDT PnL -160 USDT over 4h ≤ -150",)


def test_a_reason_shows_amounts_booked_at_sqls_scale_without_trailing_zeros() -> None:
    entries = [_pnl(NOW - HOUR_MS, "BTCUSDT", "-205.92000000")]

    result = evaluate(DEFAULTS, entries, [], [], NOW)

    assert [lock.reason_text for lock in result.locks] == [
        "BTCUSDT PnL -205.92 USDT over 4h ≤ -150"
    ]


def test_a_profitable_symbol_is_untouched() -> None:
    entries = [
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-200"),
        _pnl(NOW - HOUR_MS, "ETHUSDT", "-100"),
        _pnl(NOW - 30 * MINUTE_MS, "ETHUSDT", "400"),
    ]

    result = evaluate(DEFAULTS, entries, [], [], NOW)

    assert [lock.symbol for lock in result.locks] == ["BTCUSDT"]


def test_total_losses_over_24h_lock_all() -> None:
    # 25 symbols, -130 each, half an hour apart: no symbol breaches, the account does.
    entries = [
        _pnl(NOW - 23 * HOUR_MS + i * 30 * MINUTE_MS, f"S{i}USDT", "-130") for i in range(25)
    ]

    result = evaluate(DEFAULTS, entries, [], [], NOW)

    # -3250 rises above -3000 once two entries (-260) have left: the second leaves 24 h after it.
    assert [(lock.symbol, lock.source, lock.until_ms) for lock in result.locks] == [
        (ALL, "rule:account_24h", NOW - 23 * HOUR_MS + 30 * MINUTE_MS + 24 * HOUR_MS)
    ]


def test_a_symbol_breaching_both_windows_gets_a_lock_from_each() -> None:
    entries = [_pnl(NOW - 10 * HOUR_MS, "BTCUSDT", "-1700"), _pnl(NOW - HOUR_MS, "BTCUSDT", "-200")]

    result = evaluate(DEFAULTS, entries, [], [], NOW)

    assert {(lock.source, lock.until_ms) for lock in result.locks} == {
        ("rule:symbol_4h", NOW + 3 * HOUR_MS),
        ("rule:symbol_24h", NOW + 14 * HOUR_MS),
    }


@pytest.mark.parametrize(
    ("include_commission", "include_funding", "locked"),
    [(True, True, True), (False, True, False), (True, False, False)],
)
def test_commission_and_funding_count_as_configured(
    include_commission: bool, include_funding: bool, locked: bool
) -> None:
    config = RulesConfig(include_commission=include_commission, include_funding=include_funding)
    entries = [
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-140"),
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-6", "commission"),
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-5", "funding_fee"),
    ]

    assert bool(evaluate(config, entries, [], [], NOW).locks) is locked


def test_other_income_and_other_assets_never_count() -> None:
    entries = [
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-140"),
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-50", "other"),
        Entry(NOW - HOUR_MS, "BTCUSDT", "commission", Decimal("-50"), asset="BNB"),
    ]

    assert evaluate(DEFAULTS, entries, [], [], NOW).locks == ()


def test_entries_outside_the_window_or_after_now_are_ignored() -> None:
    entries = [
        _pnl(NOW - 4 * HOUR_MS, "BTCUSDT", "-100"),  # just left the 4 h window
        _pnl(NOW - HOUR_MS, "BTCUSDT", "-100"),
        _pnl(NOW + 1, "BTCUSDT", "-100"),
    ]

    assert evaluate(DEFAULTS, entries, [], [], NOW).locks == ()


def test_until_waits_for_every_entry_of_the_same_time_to_leave() -> None:
    t1, t2 = NOW - 3 * HOUR_MS, NOW - HOUR_MS
    entries = [
        _pnl(t1, "BTCUSDT", "100"),
        _pnl(t1, "BTCUSDT", "-10"),
        _pnl(t2, "BTCUSDT", "-245"),
    ]

    (lock,) = evaluate(DEFAULTS, entries, [], [], NOW).locks

    # When t1's pair leaves, -245 remains: the window clears only when t2 leaves.
    assert lock.until_ms == t2 + 4 * HOUR_MS


def test_a_new_loss_extends_the_wanted_lock() -> None:
    entries = [_pnl(NOW - 2 * HOUR_MS, "BTCUSDT", "-100"), _pnl(NOW - HOUR_MS, "BTCUSDT", "-60")]
    before = evaluate(DEFAULTS, entries, [], [], NOW).locks[0].until_ms

    entries.append(_pnl(NOW + HOUR_MS, "BTCUSDT", "-100"))
    after = evaluate(DEFAULTS, entries, [], [], NOW + HOUR_MS).locks[0].until_ms

    # -260: still -160 once the first loss leaves; -100 once the second leaves too.
    assert (before, after) == (NOW + 2 * HOUR_MS, NOW + 3 * HOUR_MS)


def test_lock_ms_holds_the_lock_after_the_latest_event_but_never_less_than_the_breach() -> None:
    entries = [_pnl(NOW - 3 * HOUR_MS, "BTCUSDT", "-100"), _pnl(NOW - HOUR_MS, "BTCUSDT", "-60")]
    short = _only("symbol_4h", lock_ms=HOUR_MS)
    long = _only("symbol_4h", lock_ms=12 * HOUR_MS)

    assert evaluate(short, entries, [], [], NOW).locks[0].until_ms == NOW + HOUR_MS
    assert evaluate(long, entries, [], [], NOW).locks[0].until_ms == NOW + 11 * HOUR_MS


def test_the_evidence_is_the_latest_loss_not_a_later_profit() -> None:
    entries = [
        _pnl(NOW - 3 * HOUR_MS, "BTCUSDT", "-200"),
        _pnl(NOW - 2 * HOUR_MS, "BTCUSDT", "-30"),
        _pnl(NOW - HOUR_MS, "BTCUSDT", "10"),
    ]

    (lock,) = evaluate(DEFAULTS, entries, [], [], NOW).locks

    assert lock.evidence_ms == NOW - 2 * HOUR_MS


def test_the_drawdown_evidence_is_when_equity_first_fell_to_its_low_since_the_peak() -> None:
    equity = [
        EquityPoint(NOW - 6 * HOUR_MS, Decimal(9_000)),  # a lower point, before the peak
        EquityPoint(NOW - 5 * HOUR_MS, Decimal(12_000)),
        EquityPoint(NOW - 4 * HOUR_MS, Decimal(8_500)),
        EquityPoint(NOW - 3 * HOUR_MS, Decimal(8_500)),
        EquityPoint(NOW - HOUR_MS, Decimal(8_800)),
    ]

    (lock,) = evaluate(_only("drawdown_24h"), [], [], equity, NOW).locks

    assert lock.evidence_ms == NOW - 4 * HOUR_MS


def test_the_stop_streak_evidence_is_the_latest_stop_out() -> None:
    stops = [StopOut(NOW - i * MINUTE_MS, "BTCUSDT", "long") for i in (30, 20, 10)]

    (lock,) = evaluate(_only("stop_streak_1h"), [], stops, [], NOW).locks

    assert lock.evidence_ms == NOW - 10 * MINUTE_MS


def test_a_per_side_loss_rule_locks_that_side_and_sets_its_state() -> None:
    config = _only("symbol_4h", side="long", action=RuleAction.HALT)

    result = evaluate(config, [_pnl(NOW - HOUR_MS, "BTCUSDT", "-150")], [], [], NOW)

    assert [(lock.symbol, lock.side) for lock in result.locks] == [("BTCUSDT", "long")]
    assert result.state is TradingState.HALTED


def test_the_most_severe_state_wins() -> None:
    rules = (
        RuleConfig(
            id="a",
            kind="symbol_pnl",
            window_ms=HOUR_MS,
            threshold_usdt=Decimal(-1),
            action=RuleAction.REDUCE,
        ),
        RuleConfig(
            id="b",
            kind="account_pnl",
            window_ms=HOUR_MS,
            threshold_usdt=Decimal(-1),
            action=RuleAction.HALT,
        ),
    )
    entries = [_pnl(NOW - 1, "BTCUSDT", "-5")]

    assert evaluate(RulesConfig(rules=rules), entries, [], [], NOW).state is TradingState.HALTED


def test_the_state_evidence_is_the_latest_of_the_rules_setting_a_state() -> None:
    halting = _only("symbol_4h", action=RuleAction.HALT)
    entries = [_pnl(NOW - 2 * HOUR_MS, "BTCUSDT", "-200"), _pnl(NOW - HOUR_MS, "ETHUSDT", "-300")]

    result = evaluate(halting, entries, [], [], NOW)

    assert (result.state, result.state_evidence_ms) == (TradingState.HALTED, NOW - HOUR_MS)
    assert evaluate(DEFAULTS, entries, [], [], NOW).state_evidence_ms is None


def test_disabled_rules_never_fire() -> None:
    stops = [StopOut(NOW - i * MINUTE_MS, "BTCUSDT", "long") for i in range(5)]
    equity = [EquityPoint(NOW - HOUR_MS, Decimal(100_000)), EquityPoint(NOW, Decimal(1))]

    assert evaluate(DEFAULTS, [], stops, equity, NOW).locks == ()


def test_drawdown_from_the_peak_locks_all_until_the_peak_leaves_the_window() -> None:
    config = _only("drawdown_24h")
    equity = [
        EquityPoint(NOW - 5 * HOUR_MS, Decimal(10_000)),
        EquityPoint(NOW - 3 * HOUR_MS, Decimal(12_000)),
        EquityPoint(NOW - HOUR_MS, Decimal(8_900)),
    ]

    result = evaluate(config, [], [], equity, NOW)

    (lock,) = result.locks
    assert (lock.symbol, lock.reason_code, lock.until_ms, lock.pnl_usdt) == (
        ALL,
        "drawdown",
        NOW - 3 * HOUR_MS + 24 * HOUR_MS,
        Decimal(-3_100),  # the drop from the peak
    )
    assert result.state is TradingState.REDUCING


def test_a_drawdown_short_of_the_threshold_or_recovered_does_not_lock() -> None:
    config = _only("drawdown_24h")
    short = [EquityPoint(NOW - HOUR_MS, Decimal(12_000)), EquityPoint(NOW, Decimal(9_001))]
    recovered = [
        EquityPoint(NOW - 2 * HOUR_MS, Decimal(12_000)),
        EquityPoint(NOW - HOUR_MS, Decimal(8_000)),
        EquityPoint(NOW, Decimal(11_000)),
    ]

    assert evaluate(config, [], [], short, NOW).locks == ()
    assert evaluate(config, [], [], recovered, NOW).locks == ()


def test_a_stop_streak_locks_the_symbol_until_the_streak_is_short_again() -> None:
    config = _only("stop_streak_1h")
    times = [NOW - 50 * MINUTE_MS, NOW - 40 * MINUTE_MS, NOW - 20 * MINUTE_MS, NOW - MINUTE_MS]
    stops = [StopOut(t, "BTCUSDT", "long") for t in times] + [
        StopOut(NOW - MINUTE_MS, "ETHUSDT", "short")
    ]

    (lock,) = evaluate(config, [], stops, [], NOW).locks

    # 4 stop-outs; fewer than 3 remain once the second one leaves the hour.
    assert (lock.symbol, lock.until_ms) == ("BTCUSDT", times[1] + HOUR_MS)
    assert lock.reason_text == "BTCUSDT 4 stop-outs in 1h ≥ 3"


def test_a_per_side_stop_streak_counts_and_locks_only_that_side() -> None:
    config = _only("stop_streak_1h", side="short")
    stops = [StopOut(NOW - i * MINUTE_MS, "BTCUSDT", "long") for i in range(3)]
    stops += [StopOut(NOW - i * MINUTE_MS, "ETHUSDT", "short") for i in range(3)]

    result = evaluate(config, [], stops, [], NOW)

    assert [(lock.symbol, lock.side) for lock in result.locks] == [("ETHUSDT", "short")]


def test_a_cooldown_locks_a_symbol_after_any_stop_out() -> None:
    stop = StopOut(NOW - 5 * MINUTE_MS, "BTCUSDT", "short")

    (by_window,) = evaluate(_only("cooldown"), [], [stop], [], NOW).locks
    (by_lock_ms,) = evaluate(_only("cooldown", lock_ms=HOUR_MS), [], [stop], [], NOW).locks

    assert (by_window.symbol, by_window.until_ms) == ("BTCUSDT", stop.time_ms + 15 * MINUTE_MS)
    assert by_lock_ms.until_ms == stop.time_ms + HOUR_MS
    assert evaluate(_only("cooldown"), [], [stop], [], stop.time_ms + 15 * MINUTE_MS).locks == ()


def test_many_entries_are_summed_per_symbol() -> None:
    entries = [
        _pnl(NOW - HOUR_MS + i, f"S{i % 100}USDT", "-0.02" if i % 2 else "0.01")
        for i in range(100_000)
    ]

    result = evaluate(DEFAULTS, entries, [], [], NOW)

    # Each symbol: 500 × -0.02 + 500 × 0.01 = -5; the account: -500. Nothing breaches.
    assert result.locks == ()
    lower = RulesConfig(
        rules=(
            RuleConfig(
                id="tight", kind="symbol_pnl", window_ms=HOUR_MS, threshold_usdt=Decimal(-5)
            ),
        )
    )
    assert len(evaluate(lower, entries, [], [], NOW).locks) == 50  # odd-indexed symbols only


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"id": "x", "kind": "symbol_pnl", "window_ms": 1, "threshold_usdt": "150"},
            "threshold_usdt is a loss limit and must be negative, not 150",
        ),
        ({"id": "x", "kind": "account_pnl", "window_ms": 1}, "rule 'x' .* needs threshold_usdt"),
        ({"id": "x", "kind": "stop_streak", "window_ms": 1}, "needs count"),
        ({"id": "x", "kind": "cooldown", "window_ms": 1, "count": 2}, "takes no count"),
        (
            {"id": "x", "kind": "cooldown", "window_ms": 1, "threshold_usdt": "-1"},
            "takes no threshold_usdt",
        ),
        ({"id": "x", "kind": "cooldown", "window_ms": 0}, "window_ms"),
        ({"id": "x", "kind": "cooldown", "window_ms": 1, "state": "HALTED"}, "replaced by action"),
        ({"id": "x", "kind": "leverage", "max_leverage": 3, "window_ms": 1}, "takes no window"),
        ({"id": "x", "kind": "leverage"}, "needs max_leverage"),
        ({"id": "x", "kind": "symbol_notional", "max_leverage": 3}, "takes no max_leverage"),
        (
            {"id": "x", "kind": "symbol_notional", "max_notional_usdt": 1, "scope": "robot"},
            "exposure is the account's",
        ),
        (
            {"id": "x", "kind": "account_pnl", "window_ms": 1, "threshold_usdt": "-1"}
            | {"scope": "robot", "action": "halt"},
            "a robot's lock already lets it only reduce",
        ),
        (
            {"id": "x", "kind": "account_pnl", "window_ms": 1, "threshold_usdt": "-1"}
            | {"trailing": True},
            "trailing is for the drawdown kind",
        ),
        ({"id": "x", "kind": "cooldown", "window_ms": 1, "lock": 5}, "lock"),
    ],
)
def test_a_bad_rule_is_refused_with_a_precise_message(
    rule: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        RulesConfig.model_validate({"rules": [rule]})


def test_rule_ids_must_be_unique() -> None:
    rule = {"id": "same", "kind": "cooldown", "window_ms": 1}

    with pytest.raises(ValidationError, match="two rules have the id 'same'"):
        RulesConfig.model_validate({"rules": [rule, rule]})


ROBOTS = Attribution([("rb-a-", "a"), ("rb-b-", "b")])


def _robot_pnl(at_ms: int, symbol: str, amount: str, client_id: str) -> Entry:
    return Entry(at_ms, symbol, "realized_pnl", Decimal(amount), client_order_id=client_id)


def _robot_rule(kind: str, threshold: str, **fields: object) -> RulesConfig:
    rule = {"id": "r", "kind": kind, "window_ms": 4 * HOUR_MS, "threshold_usdt": threshold}
    return RulesConfig.model_validate({"rules": [rule | {"scope": "robot"} | fields]})


def test_a_robot_scoped_symbol_rule_locks_the_losing_robot_on_that_symbol_only() -> None:
    entries = [
        _robot_pnl(NOW - HOUR_MS, "ETHUSDT", "-120", "rb-a-1"),
        _robot_pnl(NOW - HOUR_MS, "ETHUSDT", "-90", "rb-b-1"),
        _robot_pnl(NOW - HOUR_MS, "ETHUSDT", "-500", "manual-1"),
    ]

    result = evaluate(_robot_rule("symbol_pnl", "-100"), entries, [], [], NOW, attribution=ROBOTS)

    (lock,) = result.locks
    assert (lock.robot, lock.symbol, lock.pnl_usdt) == ("a", "ETHUSDT", Decimal(-120))
    assert lock.reason_text == "robot a: ETHUSDT PnL -120 USDT over 4h ≤ -100"
    assert result.state is None


def test_a_robot_scoped_account_rule_sums_the_robots_symbols_and_locks_it_on_all() -> None:
    entries = [
        _robot_pnl(NOW - HOUR_MS, "ETHUSDT", "-60", "rb-b-1"),
        _robot_pnl(NOW - HOUR_MS, "BTCUSDT", "-60", "rb-b-2"),
    ]
    rules = _robot_rule("account_pnl", "-100", action="flatten")

    result = evaluate(rules, entries, [], [], NOW, attribution=ROBOTS)

    assert [(lock.robot, lock.symbol) for lock in result.locks] == [("b", ALL)]
    assert result.flattens == ("b",)
    assert result.state is None  # a robot's flatten does not halt the account


def test_unattributed_losses_and_losses_without_attribution_lock_no_robot() -> None:
    entries = [_robot_pnl(NOW - HOUR_MS, "ETHUSDT", "-500", "manual-1")]

    assert evaluate(
        _robot_rule("symbol_pnl", "-100"), entries, [], [], NOW, attribution=ROBOTS
    ) == (evaluate(_robot_rule("symbol_pnl", "-100"), entries, [], [], NOW))
    assert evaluate(_robot_rule("symbol_pnl", "-100"), entries, [], [], NOW).locks == ()


def test_a_robot_drawdown_measures_its_cumulative_pnl_from_its_peak() -> None:
    entries = [
        _robot_pnl(NOW - 3 * HOUR_MS, "ETHUSDT", "300", "rb-a-1"),
        _robot_pnl(NOW - 2 * HOUR_MS, "ETHUSDT", "-250", "rb-a-2"),
        _robot_pnl(NOW - HOUR_MS, "BTCUSDT", "-100", "rb-a-3"),
    ]

    result = evaluate(_robot_rule("drawdown", "-300"), entries, [], [], NOW, attribution=ROBOTS)

    (lock,) = result.locks
    assert (lock.robot, lock.symbol, lock.pnl_usdt) == ("a", ALL, Decimal(-350))


def test_a_trailing_drawdown_holds_while_below_and_not_until_the_peak_ages_out() -> None:
    equity = [EquityPoint(NOW - 3 * HOUR_MS, Decimal(12_000)), EquityPoint(NOW, Decimal(8_000))]
    rule = {"id": "d", "kind": "drawdown", "window_ms": 24 * HOUR_MS, "threshold_usdt": "-3000"}
    trailing = RulesConfig.model_validate({"rules": [rule | {"trailing": True, "action": "halt"}]})

    (lock,) = evaluate(trailing, [], [], equity, NOW, hold_ms=30_000).locks

    assert lock.until_ms == NOW + 30_000
    result = evaluate(trailing, [], [], equity, NOW, hold_ms=30_000)
    assert result.state is TradingState.HALTED


def _exposure_rules(**rule: object) -> RulesConfig:
    return RulesConfig.model_validate({"rules": [{"id": "x"} | rule]})


def test_leverage_above_its_limit_locks_all_and_reduces_until_the_next_pass() -> None:
    rules = _exposure_rules(kind="leverage", max_leverage="3")
    book = Exposure({"BTCUSDT": Decimal(25_000), "ETHUSDT": Decimal(10_000)}, Decimal(10_000))

    result = evaluate(rules, [], [], [], NOW, exposure=book, hold_ms=20_000)

    (lock,) = result.locks
    assert (lock.symbol, lock.until_ms, lock.evidence_ms) == (ALL, NOW + 20_000, NOW)
    assert lock.reason_text == ("gross notional 35000.00 USDT is 3.50x the equity 10000.00 > 3x")
    assert result.state is TradingState.REDUCING
    within = Exposure({"BTCUSDT": Decimal(30_000)}, Decimal(10_000))
    assert evaluate(rules, [], [], [], NOW, exposure=within).locks == ()


def test_leverage_with_no_positive_equity_breaches_and_without_a_book_nothing_is_judged() -> None:
    rules = _exposure_rules(kind="leverage", max_leverage="3")

    broke = evaluate(rules, [], [], [], NOW, exposure=Exposure({"X": Decimal(1)}, Decimal(0)))

    assert "leverage unbounded" in broke.locks[0].reason_text
    assert evaluate(rules, [], [], [], NOW).locks == ()


def test_a_symbol_over_its_notional_cap_is_locked_and_may_only_lock() -> None:
    rules = _exposure_rules(kind="symbol_notional", max_notional_usdt="50000", action="lock")
    book = Exposure({"BTCUSDT": Decimal(60_000), "ETHUSDT": Decimal(40_000)}, None)

    result = evaluate(rules, [], [], [], NOW, exposure=book)

    assert [lock.symbol for lock in result.locks] == ["BTCUSDT"]
    assert result.state is None


def test_a_robot_scoped_stop_streak_counts_the_stop_outs_of_the_robots_that_held_the_side() -> None:
    rule = {"id": "s", "kind": "stop_streak", "window_ms": HOUR_MS, "count": 2, "scope": "robot"}
    rules = RulesConfig.model_validate({"rules": [rule]})
    stops = [
        StopOut(NOW - 30 * MINUTE_MS, "BTCUSDT", "long", ("a", "b")),
        StopOut(NOW - 10 * MINUTE_MS, "BTCUSDT", "long", ("a",)),
        StopOut(NOW - 5 * MINUTE_MS, "ETHUSDT", "long", ()),
    ]

    (lock,) = evaluate(rules, [], stops, [], NOW).locks

    assert (lock.robot, lock.symbol, lock.evidence_ms) == ("a", "BTCUSDT", NOW - 10 * MINUTE_MS)
    assert lock.reason_text == "robot a: BTCUSDT 2 stop-outs in 1h ≥ 2"
