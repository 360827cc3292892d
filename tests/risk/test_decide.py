"""One Ledger decision without Ray: read, judge, write, on SQLite and MySQL/MariaDB."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, Table, func, select

from riskd.core.clock import HOUR_MS, MINUTE_MS
from riskd.exchange.parse_orders import OrderUpdate
from riskd.health import late_after_ms
from riskd.positions import BalanceRecord, BookView
from riskd.risk import lock_store
from riskd.risk.attribution import Attribution
from riskd.risk.banlist import BanList
from riskd.risk.decide import (
    RULES_ACTOR,
    DecideInputs,
    Decision,
    book_order_updates,
    decide,
    judge,
    live_equity,
    lock_figures,
)
from riskd.risk.ledger import fill_from_order_update
from riskd.risk.ledger_store import RuleHistory, rule_history
from riskd.risk.lock_store import StateRecord
from riskd.risk.locks import ALL, TradingState, operator_source, rule_source
from riskd.risk.rules import EquityPoint, Exposure, RuleAction, RulesConfig
from riskd.store.schema import banlist_versions, fills, init_schema, locks, orders
from tests.kit.samples import lock, order_update

ACCOUNT = "main"
NOW_MS = 1_800_000_000_000
VALID_MS = 30_000
INTERVAL_MS = 10_000
RULES = RulesConfig()  # symbol_4h ≤ -150, symbol_24h ≤ -1800, account_24h ≤ -3000
SYMBOL_4H = rule_source("symbol_4h")
ALICE = operator_source("alice")


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    init_schema(sql_engine, NOW_MS)
    return sql_engine


def _trade(trade_id: int, pnl: str, time_ms: int) -> OrderUpdate:
    """A market sell of BTCUSDT that filled at *time_ms* and realized *pnl* USDT, no fee."""
    return order_update(
        time_ms=time_ms,
        side="SELL",
        order_type="MARKET",
        price="0",
        orig_qty="0.1",
        filled="0.1",
        fill_price="58000",
        realized_pnl=pnl,
        order_id=100 + trade_id,
        client_order_id=f"c-{trade_id}",
        trade_id=trade_id,
        maker=False,
        reduce_only=True,
        commission_asset="USDT",
    )


def _inputs(
    now_ms: int = NOW_MS,
    *,
    rules: RulesConfig = RULES,
    book_fresh: bool = True,
    income_ok_ms: int | None = None,
    previous_valid_until_ms: int | None = None,
    history: RuleHistory | None = None,
) -> DecideInputs:
    """Inputs at *now_ms*; the income poll caught up at *income_ok_ms* (default: just now)."""
    return DecideInputs(
        account=ACCOUNT,
        rules=rules,
        now_ms=now_ms,
        banlist_valid_ms=VALID_MS,
        interval_ms=INTERVAL_MS,
        income_ok_ms=now_ms if income_ok_ms is None else income_ok_ms,
        book_fresh=book_fresh,
        live_equity=None,
        previous_valid_until_ms=previous_valid_until_ms,
        history=history,
    )


def _decide(engine: Engine, inputs: DecideInputs) -> Decision:
    with engine.begin() as connection:
        return decide(connection, inputs)


def _book(engine: Engine, update: OrderUpdate, inputs: DecideInputs) -> Decision | None:
    with engine.begin() as connection:
        return book_order_updates(connection, [update], inputs)


def _count(connection: Connection, table: Table) -> int:
    return connection.scalar(select(func.count()).select_from(table)) or 0


def _locked(decision: Decision) -> list[tuple[str, str]]:
    return [(lock.symbol, lock.source) for lock in decision.banlist.locks]


def _state(engine: Engine) -> StateRecord:
    with engine.connect() as connection:
        return lock_store.trading_state(connection, ACCOUNT)


# --- the fill path -------------------------------------------------------------------------


def test_a_losing_fill_past_a_threshold_creates_the_lock_and_a_version_in_one_transaction(
    engine: Engine,
) -> None:
    update = _trade(1, "-200", NOW_MS - MINUTE_MS)

    with pytest.raises(RuntimeError), engine.begin() as connection:
        book_order_updates(connection, [update], _inputs())
        raise RuntimeError("the transaction does not commit")
    with engine.connect() as connection:
        assert [_count(connection, t) for t in (fills, locks, banlist_versions)] == [0, 0, 0]

    decision = _book(engine, update, _inputs())

    assert decision is not None and _locked(decision) == [("BTCUSDT", SYMBOL_4H)]
    assert decision.banlist.version == 1
    with engine.connect() as connection:
        assert [_count(connection, t) for t in (fills, orders, locks)] == [1, 1, 1]
        stored = connection.execute(select(banlist_versions.c.version, banlist_versions.c.body))
        assert [tuple(row) for row in stored] == [(1, decision.body.decode())]
    assert BanList.from_json(decision.body) == decision.banlist  # encoded once, stored as sent
    assert decision.pnl_usdt_by_lock == {(SYMBOL_4H, "BTCUSDT", "both", ""): Decimal(-200)}


def test_a_failing_decision_after_a_fill_leaves_the_fill_booked(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: object) -> None:
        raise RuntimeError("the version cannot be stored")

    monkeypatch.setattr(lock_store, "save_banlist_version", fail)

    decision = _book(engine, _trade(1, "-200", NOW_MS - MINUTE_MS), _inputs())

    assert decision is None
    with engine.connect() as connection:
        assert [_count(connection, t) for t in (fills, orders)] == [1, 1]
        assert _count(connection, locks) == 0  # the decision's own writes are rolled back
    monkeypatch.undo()
    assert _locked(_decide(engine, _inputs(NOW_MS + 1))) == [("BTCUSDT", SYMBOL_4H)]


def test_a_cached_history_counts_a_fill_booked_twice_once(engine: Engine) -> None:
    first = _decide(engine, _inputs())
    update = _trade(1, "-100", NOW_MS - MINUTE_MS)  # alone it breaches nothing

    once = _book(engine, update, _inputs(NOW_MS + 1, history=first.history))
    assert once is not None
    twice = _book(engine, update, _inputs(NOW_MS + 2, history=once.history))

    assert twice is not None and twice.history == once.history
    assert twice.banlist.locks == ()
    with engine.connect() as connection:
        assert twice.history == rule_history(connection, ACCOUNT, RULES, NOW_MS + 2)


def test_fills_booked_together_are_judged_together_in_one_version(engine: Engine) -> None:
    first = _decide(engine, _inputs())
    updates = [_trade(1, "-100", NOW_MS - MINUTE_MS), _trade(2, "-100", NOW_MS - MINUTE_MS + 1)]

    with engine.begin() as connection:  # each alone breaches nothing; together they do
        decision = book_order_updates(connection, updates, _inputs(history=first.history))

    assert decision is not None and _locked(decision) == [("BTCUSDT", SYMBOL_4H)]
    assert decision.banlist.version == first.banlist.version + 1
    with engine.connect() as connection:
        assert [_count(connection, t) for t in (fills, orders)] == [2, 2]
        assert decision.history == rule_history(connection, ACCOUNT, RULES, NOW_MS)


# --- operators -----------------------------------------------------------------------------


def test_an_operator_unlocked_rule_lock_is_not_recreated_for_the_same_losses(
    engine: Engine,
) -> None:
    decision = _book(engine, _trade(1, "-200", NOW_MS - MINUTE_MS), _inputs())
    assert decision is not None
    (rule_lock,) = decision.banlist.locks
    with engine.begin() as connection:
        lock_store.unlock(connection, ACCOUNT, rule_lock.id, ALICE, "checked", NOW_MS + 1)

    again = _decide(engine, _inputs(NOW_MS + 2))
    assert again.banlist.locks == ()  # the rule still breaches, on the same losses

    relocked = _book(engine, _trade(2, "-10", NOW_MS + 3), _inputs(NOW_MS + 4))
    assert relocked is not None and _locked(relocked) == [("BTCUSDT", SYMBOL_4H)]
    assert relocked.banlist.locks[0].id != rule_lock.id  # a new loss: a new lock


def test_the_pure_judgement_leaves_an_unlocked_key_alone_without_newer_evidence() -> None:
    update = _trade(1, "-200", NOW_MS - MINUTE_MS)
    fill = fill_from_order_update(update)
    assert fill is not None
    history = RuleHistory([], [], []).with_fill(fill)
    acted = StateRecord(TradingState.ACTIVE, "", "", 0)
    key = (SYMBOL_4H, "BTCUSDT", "both", "")

    wanted = judge(_inputs(), history, [], {}, acted)
    overruled = judge(_inputs(), history, [], {key: NOW_MS - MINUTE_MS}, acted)

    assert [request.key for request in wanted.changes.create] == [key]
    assert not overruled.changes
    assert overruled.pnl_usdt_by_lock == {key: Decimal(-200)}  # the loss is still shown
    assert (overruled.state, overruled.state_reason) == (TradingState.ACTIVE, None)


# --- trading state -------------------------------------------------------------------------


def _with_states() -> RulesConfig:
    """The defaults, symbol_4h reducing and account_24h halting while they breach."""
    actions = {"symbol_4h": RuleAction.REDUCE, "account_24h": RuleAction.HALT}
    return RulesConfig(
        rules=tuple(
            rule.model_copy(update={"action": actions.get(rule.id)}) for rule in RULES.rules
        )
    )


def test_rules_escalate_to_reducing_then_halted(engine: Engine) -> None:
    rules = _with_states()

    reducing = _book(engine, _trade(1, "-200", NOW_MS - HOUR_MS), _inputs(rules=rules))
    assert reducing is not None and reducing.state is TradingState.REDUCING
    assert reducing.banlist.state is TradingState.REDUCING
    record = _state(engine)
    assert (record.actor, record.at_ms) == (RULES_ACTOR, NOW_MS)
    assert record.reason.startswith("symbol_4h: BTCUSDT PnL -200")  # MySQL: -200.000…

    halted = _book(engine, _trade(2, "-3000", NOW_MS), _inputs(NOW_MS + 1, rules=rules))
    assert halted is not None and halted.state is TradingState.HALTED
    assert _locked(halted) == [
        ("BTCUSDT", SYMBOL_4H),
        ("BTCUSDT", rule_source("symbol_24h")),
        (ALL, rule_source("account_24h")),
    ]
    assert halted.banlist.all


def test_an_operators_state_holds_until_the_rules_have_new_evidence(engine: Engine) -> None:
    rules = _with_states()
    first = _book(engine, _trade(1, "-200", NOW_MS - HOUR_MS), _inputs(rules=rules))
    assert first is not None and first.state is TradingState.REDUCING
    with engine.begin() as connection:
        lock_store.set_trading_state(
            connection, ACCOUNT, TradingState.ACTIVE, "checked", ALICE, NOW_MS + 1
        )

    held = _decide(engine, _inputs(NOW_MS + 2, rules=rules))
    assert held.state is TradingState.ACTIVE and _state(engine).actor == ALICE

    escalated = _book(engine, _trade(2, "-10", NOW_MS + 3), _inputs(NOW_MS + 4, rules=rules))
    assert escalated is not None and escalated.state is TradingState.REDUCING
    assert _state(engine).actor == RULES_ACTOR


def test_an_operators_halt_is_not_lifted_by_rules_that_want_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        lock_store.set_trading_state(
            connection, ACCOUNT, TradingState.HALTED, "venue", ALICE, NOW_MS - 1
        )

    decision = _decide(engine, _inputs())

    assert decision.state is TradingState.HALTED and decision.banlist.state == "HALTED"
    assert _state(engine).actor == ALICE


# --- versions and their end ----------------------------------------------------------------


def test_version_numbers_grow_with_each_decision(engine: Engine) -> None:
    versions = [_decide(engine, _inputs(NOW_MS + step)).banlist.version for step in range(3)]
    filled = _book(engine, _trade(1, "-1", NOW_MS), _inputs(NOW_MS + 3))

    assert filled is not None
    assert [*versions, filled.banlist.version] == [1, 2, 3, 4]
    with engine.connect() as connection:
        assert lock_store.latest_banlist_version(connection, ACCOUNT) == 4


LATE_MS = late_after_ms(INTERVAL_MS)


@pytest.mark.parametrize(
    ("income_ok_ms", "book_fresh", "valid_until_ms"),
    [
        (NOW_MS, True, NOW_MS + VALID_MS),
        (NOW_MS - LATE_MS, True, NOW_MS + VALID_MS),  # late only after late_after_ms
        (NOW_MS - LATE_MS - 1, True, NOW_MS - 5),
        (NOW_MS, False, NOW_MS - 5),
        (NOW_MS - LATE_MS - 1, False, NOW_MS - 5),
    ],
)
def test_valid_until_moves_only_when_income_and_book_are_fresh(
    income_ok_ms: int, book_fresh: bool, valid_until_ms: int
) -> None:
    inputs = _inputs(
        income_ok_ms=income_ok_ms, book_fresh=book_fresh, previous_valid_until_ms=NOW_MS - 5
    )
    assert inputs.valid_until_ms == valid_until_ms


def test_a_first_version_from_stale_sources_is_not_vouched_for(engine: Engine) -> None:
    stale = _decide(engine, _inputs(book_fresh=False))
    fresh = _decide(engine, _inputs(NOW_MS + 1, previous_valid_until_ms=NOW_MS))
    after_a_fill = _book(
        engine,
        _trade(1, "-1", NOW_MS),
        _inputs(NOW_MS + 2, book_fresh=False, previous_valid_until_ms=NOW_MS + 1 + VALID_MS),
    )

    assert stale.banlist.valid_until_ms == NOW_MS and stale.banlist.expired(NOW_MS)
    assert fresh.banlist.valid_until_ms == NOW_MS + 1 + VALID_MS
    assert after_a_fill is not None
    assert after_a_fill.banlist.valid_until_ms == NOW_MS + 1 + VALID_MS  # the last end stands
    with engine.connect() as connection:
        stored = connection.scalars(
            select(banlist_versions.c.valid_until_ms).order_by(banlist_versions.c.version)
        )
        assert list(stored) == [NOW_MS, NOW_MS + 1 + VALID_MS, NOW_MS + 1 + VALID_MS]


# --- what the actor shows ------------------------------------------------------------------


def test_live_equity_needs_every_rule_asset_with_its_unrealized_pnl() -> None:
    def view(*balances: BalanceRecord) -> BookView:
        return BookView(NOW_MS, (), balances, ())

    usdt = BalanceRecord("USDT", Decimal(1000), NOW_MS, unrealized_pnl=Decimal(-50))
    unknown = dataclasses.replace(usdt, unrealized_pnl=None)
    bnb = BalanceRecord("BNB", Decimal(3), NOW_MS, unrealized_pnl=Decimal(0))

    assert live_equity(RULES, view(usdt, bnb)) == EquityPoint(NOW_MS, Decimal(950))
    assert live_equity(RULES, view(unknown)) is None
    assert live_equity(RULES, view(bnb)) is None


def test_a_lock_card_shows_its_rules_figures_and_the_loss() -> None:
    rule_lock = dataclasses.replace(lock("BTCUSDT"), source=SYMBOL_4H)
    pnl = {(SYMBOL_4H, "BTCUSDT", "both", ""): Decimal(-200)}

    assert lock_figures(RULES, pnl, rule_lock) == {
        "window": "4h",
        "threshold_usdt": "-150",
        "pnl_usdt": "-200",
    }
    assert lock_figures(RULES, {}, dataclasses.replace(rule_lock, source=ALICE)) == {}


def test_an_exposure_breach_reduces_and_locks_and_both_end_when_it_clears(engine: Engine) -> None:
    rules = RulesConfig.model_validate(
        {"rules": [{"id": "lev", "kind": "leverage", "max_leverage": "2"}]}
    )
    over = Exposure({"BTCUSDT": Decimal(30_000)}, Decimal(10_000))

    with engine.begin() as connection:
        breached = decide(connection, dataclasses.replace(_inputs(rules=rules), exposure=over))
    assert breached.state is TradingState.REDUCING
    assert [(lock.symbol, lock.until_ms) for lock in breached.banlist.locks] == [
        (ALL, NOW_MS + VALID_MS)
    ]

    later_ms = NOW_MS + VALID_MS
    within = Exposure({"BTCUSDT": Decimal(5_000)}, Decimal(10_000))
    with engine.begin() as connection:
        cleared = decide(
            connection, dataclasses.replace(_inputs(later_ms, rules=rules), exposure=within)
        )
    assert (cleared.state, cleared.banlist.locks) == (TradingState.ACTIVE, ())


def test_a_flatten_rule_asks_for_a_flatten_once_when_its_lock_is_created(engine: Engine) -> None:
    rule = {"id": "robot_loss", "kind": "account_pnl", "window_ms": HOUR_MS}
    rule |= {"threshold_usdt": "-100", "scope": "robot", "action": "flatten"}
    rules = RulesConfig.model_validate({"rules": [rule]})
    robots = Attribution([("c-", "alpha")])  # _trade's client ids are c-<trade id>
    inputs = dataclasses.replace(_inputs(rules=rules), attribution=robots)

    first = _book(engine, _trade(1, "-200", NOW_MS - MINUTE_MS), inputs)
    with engine.begin() as connection:
        again = decide(connection, dataclasses.replace(inputs, now_ms=NOW_MS + 1))

    assert first is not None
    assert [(lock.robot, lock.source) for lock in first.flattens] == [("alpha", "rule:robot_loss")]
    assert [(lock.robot, lock.symbol) for lock in first.banlist.locks] == [("alpha", ALL)]
    assert first.state is TradingState.ACTIVE  # a robot's flatten leaves the others trading
    assert again.flattens == ()
