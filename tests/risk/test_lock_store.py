from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from riskd.risk.lock_store import (
    StateRecord,
    active_locks,
    add_operator_lock,
    apply_lock_changes,
    latest_banlist_version,
    lock_history,
    operator_unlocks,
    save_banlist_version,
    set_trading_state,
    trading_state,
    unlock,
)
from riskd.risk.locks import ALL, Lock, LockChanges, LockRequest, TradingState, reconcile
from riskd.store.engine import make_engine
from riskd.store.schema import init_schema

NOW = 1_700_000_000_000
ACCOUNT = "main"


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    init_schema(sql_engine, NOW)
    return sql_engine


def _rule_lock(until_ms: int | None, symbol: str = "BTCUSDT") -> LockRequest:
    return LockRequest(symbol, "both", "symbol_pnl", "PnL -160 over 4h", "rule:symbol_4h", until_ms)


def _operator_lock(until_ms: int | None = None) -> LockRequest:
    return LockRequest(ALL, "long", "operator", "news at 14:00", "operator:alice", until_ms)


def _sync(engine: Engine, wanted: list[LockRequest], now_ms: int) -> list[Lock]:
    """What the RiskRules job does on each evaluation."""
    with engine.begin() as conn:
        changes = reconcile(active_locks(conn, ACCOUNT), wanted, now_ms)
        return apply_lock_changes(conn, ACCOUNT, changes, now_ms, "riskrules")


def _actions(engine: Engine) -> list[tuple[int, str, str, int | None]]:
    with engine.connect() as conn:
        history = lock_history(conn, ACCOUNT, 100)
    return [(e.lock_id, e.action, e.actor, e.until_ms) for e in reversed(history)]


def test_created_locks_are_active_and_audited(engine: Engine) -> None:
    (lock,) = _sync(engine, [_rule_lock(NOW + 1000)], NOW)

    assert (lock.account, lock.symbol, lock.source, lock.until_ms, lock.created_ms) == (
        ACCOUNT,
        "BTCUSDT",
        "rule:symbol_4h",
        NOW + 1000,
        NOW,
    )
    assert lock.active
    assert _actions(engine) == [(lock.id, "created", "riskrules", NOW + 1000)]


def test_a_restart_finds_the_same_locks(engine: Engine) -> None:
    created = _sync(engine, [_rule_lock(NOW + 1000), _rule_lock(None, "ETHUSDT")], NOW)
    url = engine.url.render_as_string(hide_password=False)

    restarted = make_engine(url)
    try:
        with restarted.connect() as conn:
            assert active_locks(conn, ACCOUNT) == created
            assert active_locks(conn, "other") == []
    finally:
        restarted.dispose()


def test_locks_only_extend(engine: Engine) -> None:
    (lock,) = _sync(engine, [_rule_lock(NOW + 1000)], NOW)

    _sync(engine, [_rule_lock(NOW + 500)], NOW + 10)
    (shorter,) = _sync(engine, [], NOW + 20)
    (longer,) = _sync(engine, [_rule_lock(NOW + 5000)], NOW + 30)

    assert (shorter.id, shorter.until_ms) == (lock.id, NOW + 1000)
    assert (longer.id, longer.until_ms) == (lock.id, NOW + 5000)
    assert _actions(engine)[-1] == (lock.id, "extended", "riskrules", NOW + 5000)


def test_an_extension_that_would_shorten_is_refused_by_sql_too(engine: Engine) -> None:
    (lock,) = _sync(engine, [_rule_lock(NOW + 1000)], NOW)
    stale = LockChanges(extend=((lock, NOW + 10),))

    with engine.begin() as conn:
        (after,) = apply_lock_changes(conn, ACCOUNT, stale, NOW + 1, "riskrules")

    assert after.until_ms == NOW + 1000
    assert [action for _, action, _, _ in _actions(engine)] == ["created"]


def test_a_lock_expires_at_its_end_and_history_is_kept(engine: Engine) -> None:
    (lock,) = _sync(engine, [_rule_lock(NOW + 1000)], NOW)

    assert _sync(engine, [], NOW + 1000) == []
    assert _actions(engine) == [
        (lock.id, "created", "riskrules", NOW + 1000),
        (lock.id, "expired", "riskrules", NOW + 1000),
    ]


def test_an_operator_lock_is_audited_under_the_operator(engine: Engine) -> None:
    with engine.begin() as conn:
        lock = add_operator_lock(conn, ACCOUNT, _operator_lock(), NOW)

    assert (lock.symbol, lock.side, lock.until_ms, lock.active) == (ALL, "long", None, True)
    assert _actions(engine) == [(lock.id, "created", "operator:alice", None)]


def test_an_operator_lock_needs_an_operator_source_and_a_future_end(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="operator:<name>, not 'rule:symbol_4h'"):
            add_operator_lock(conn, ACCOUNT, _rule_lock(None), NOW)
        with pytest.raises(ValueError, match="would end at"):
            add_operator_lock(conn, ACCOUNT, _operator_lock(NOW), NOW)


def test_unlock_ends_the_lock_and_is_audited(engine: Engine) -> None:
    with engine.begin() as conn:
        lock = add_operator_lock(conn, ACCOUNT, _operator_lock(), NOW)
    with engine.begin() as conn:
        ended = unlock(conn, ACCOUNT, lock.id, "operator:bob", "news passed", NOW + 5)

    assert ended == replace(lock, active=False)
    with engine.connect() as conn:
        assert active_locks(conn, ACCOUNT) == []
        (event, *_) = lock_history(conn, ACCOUNT, 1)
    assert (event.lock_id, event.action, event.actor, event.at_ms, event.detail) == (
        lock.id,
        "unlocked",
        "operator:bob",
        NOW + 5,
        "news passed",
    )


def test_unlock_of_an_unknown_or_ended_lock_says_which(engine: Engine) -> None:
    with engine.begin() as conn:
        lock = add_operator_lock(conn, ACCOUNT, _operator_lock(), NOW)
        unlock(conn, ACCOUNT, lock.id, "operator:bob", "done", NOW + 5)

    with engine.begin() as conn:
        with pytest.raises(LookupError, match=f"account 'main' has no lock {lock.id + 1}"):
            unlock(conn, ACCOUNT, lock.id + 1, "operator:bob", "again", NOW + 6)
        with pytest.raises(LookupError, match=f"account 'other' has no lock {lock.id}"):
            unlock(conn, "other", lock.id, "operator:bob", "again", NOW + 6)
        with pytest.raises(
            ValueError, match=f"lock {lock.id} is not active: it ended at {NOW + 5}"
        ):
            unlock(conn, ACCOUNT, lock.id, "operator:bob", "again", NOW + 6)
        with pytest.raises(ValueError, match="needs a reason"):
            unlock(conn, ACCOUNT, lock.id, "operator:bob", " ", NOW + 6)


def test_history_is_newest_first_and_limited(engine: Engine) -> None:
    _sync(engine, [_rule_lock(NOW + 100)], NOW)
    _sync(engine, [_rule_lock(NOW + 200)], NOW + 1)
    _sync(engine, [], NOW + 200)

    with engine.connect() as conn:
        history = lock_history(conn, ACCOUNT, 2)

    assert [(e.action, e.at_ms) for e in history] == [("expired", NOW + 200), ("extended", NOW + 1)]


def test_trading_state_defaults_to_active_and_keeps_the_latest(engine: Engine) -> None:
    with engine.begin() as conn:
        assert trading_state(conn, ACCOUNT) == StateRecord(TradingState.ACTIVE, "", "", 0)
        set_trading_state(conn, ACCOUNT, TradingState.HALTED, "drawdown", "rule:dd", NOW)
        set_trading_state(conn, ACCOUNT, TradingState.REDUCING, "easing", "operator:alice", NOW)

    with engine.connect() as conn:
        assert trading_state(conn, ACCOUNT) == StateRecord(
            TradingState.REDUCING, "easing", "operator:alice", NOW
        )
        assert trading_state(conn, "other").state is TradingState.ACTIVE


def test_banlist_versions_are_stored_once_and_the_latest_is_known(engine: Engine) -> None:
    with engine.begin() as conn:
        assert latest_banlist_version(conn, ACCOUNT) == 0
        save_banlist_version(conn, ACCOUNT, 1, NOW, NOW + 5000, '{"version":1}')
        save_banlist_version(conn, ACCOUNT, 2, NOW + 1, NOW + 5001, '{"version":2}')
        save_banlist_version(conn, "other", 7, NOW, NOW + 5000, "{}")

    with engine.connect() as conn:
        assert latest_banlist_version(conn, ACCOUNT) == 2
    with pytest.raises(IntegrityError), engine.begin() as conn:
        save_banlist_version(conn, ACCOUNT, 2, NOW + 2, NOW + 5002, "{}")


def test_operator_unlocks_name_each_rule_locks_latest_unlock(engine: Engine) -> None:
    first, other = _sync(
        engine, [_rule_lock(NOW + 10_000), _rule_lock(NOW + 10_000, "ETHUSDT")], NOW
    )
    with engine.begin() as conn:
        unlock(conn, ACCOUNT, first.id, "operator:alice", "checked", NOW + 100)
        operator = add_operator_lock(conn, ACCOUNT, _operator_lock(), NOW + 150)
        unlock(conn, ACCOUNT, operator.id, "operator:alice", "over", NOW + 160)
    (again,) = [
        lock
        for lock in _sync(engine, [_rule_lock(NOW + 20_000)], NOW + 200)
        if lock.symbol == "BTCUSDT"
    ]
    with engine.begin() as conn:
        unlock(conn, ACCOUNT, again.id, "operator:bob", "checked again", NOW + 300)
    _sync(engine, [], NOW + 10_000)  # the ETHUSDT lock expires: not an unlock

    with engine.connect() as conn:
        assert operator_unlocks(conn, ACCOUNT, NOW) == {
            ("rule:symbol_4h", "BTCUSDT", "both", ""): NOW + 300
        }
        assert operator_unlocks(conn, ACCOUNT, NOW + 300) == {}
        assert operator_unlocks(conn, "other", NOW) == {}
    assert other.symbol == "ETHUSDT"


def test_two_robots_locks_of_one_rule_are_stored_extended_and_unlocked_apart(
    engine: Engine,
) -> None:
    def robots(robot: str, until_ms: int) -> LockRequest:
        return replace(_rule_lock(until_ms), robot=robot)

    a, b = _sync(engine, [robots("a", NOW + 1000), robots("b", NOW + 1000)], NOW)
    (a_later, b_same) = _sync(engine, [robots("a", NOW + 5000)], NOW + 1)
    with engine.begin() as conn:
        unlock(conn, ACCOUNT, b.id, "operator:alice", "b is fine", NOW + 2)
        left = active_locks(conn, ACCOUNT)
        unlocked = operator_unlocks(conn, ACCOUNT, NOW)

    assert [(lock.robot, lock.until_ms) for lock in (a_later, b_same)] == [
        ("a", NOW + 5000),
        ("b", NOW + 1000),
    ]
    assert [(lock.id, lock.robot) for lock in left] == [(a.id, "a")]
    assert unlocked == {("rule:symbol_4h", "BTCUSDT", "both", "b"): NOW + 2}
