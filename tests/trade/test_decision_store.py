"""The gate's decisions in SQL, on SQLite and MariaDB."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from riskd.store.schema import init_schema
from riskd.trade.decision_store import (
    DecisionRecord,
    RobotDecisions,
    decision_counts,
    decisions,
    record_decisions,
    set_order_id,
)

PASSED = DecisionRecord(
    account="main",
    robot="r1",
    symbol="BTCUSDT",
    side="BUY",
    position_side="BOTH",
    order_type="LIMIT",
    quantity=Decimal("0.010"),
    price=Decimal("60000.10"),
    reduce_only=False,
    passed=True,
    refusal=None,
    detail="",
    client_order_id="rb-r1-1",
    decided_ms=1_000,
)
REFUSED = replace(
    PASSED,
    robot="r2",
    passed=False,
    refusal="BANNED_SYMBOL",
    detail="BTCUSDT long is locked",
    client_order_id=None,
    price=None,
    order_type="MARKET",
    decided_ms=2_000,
)


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    init_schema(sql_engine, now_ms=0)
    return sql_engine


def test_decisions_come_back_newest_first_with_their_amounts_exact(engine: Engine) -> None:
    with engine.begin() as connection:
        stored = record_decisions(connection, [PASSED, REFUSED])
        set_order_id(connection, stored[0].id, 2**62)
    with engine.connect() as connection:
        listed = decisions(connection)
    assert listed == [stored[1], replace(stored[0], order_id=2**62)]
    assert listed[1].to_dict()["quantity"] == "0.01"
    assert listed[1].to_dict()["price"] == "60000.1"
    assert listed[0].to_dict()["price"] is None


def test_decisions_filter_by_account_and_robot(engine: Engine) -> None:
    with engine.begin() as connection:
        record_decisions(connection, [PASSED, REFUSED, replace(PASSED, account="other")])
    with engine.connect() as connection:
        assert [d.robot for d in decisions(connection, robot="r2")] == ["r2"]
        assert [d.account for d in decisions(connection, account="other")] == ["other"]
        assert len(decisions(connection, account="main", limit=1)) == 1


def test_a_limit_outside_its_range_is_refused_naming_it(engine: Engine) -> None:
    with engine.connect() as connection, pytest.raises(ValueError, match="limit"):
        decisions(connection, limit=0)


def test_counts_per_robot_over_the_window_with_the_latest_refusal(engine: Engine) -> None:
    later = replace(REFUSED, refusal="ROBOT_NOTIONAL", decided_ms=3_000)
    before = replace(REFUSED, refusal="STATE", decided_ms=500)  # before the window
    elsewhere = replace(REFUSED, account="other", decided_ms=4_000)
    with engine.begin() as connection:
        record_decisions(connection, [PASSED, PASSED, REFUSED, later, before, elsewhere])
    with engine.connect() as connection:
        counts = decision_counts(connection, "main", ["idle", "r1"], since_ms=1_000)
    assert counts == [
        RobotDecisions("idle", 0, 0),
        RobotDecisions("r1", 2, 0),
        RobotDecisions("r2", 0, 2, "ROBOT_NOTIONAL", 3_000),
    ]
    assert counts[2].to_dict()["last_refusal"] == "ROBOT_NOTIONAL"
