"""The pre-trade gate's decisions in SQL (``order_decisions``): every order a robot sent, passed
or refused, with its reason. Sync functions of a Connection, for ``SqlRunner.run``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, func, insert, select, update

from riskd.store.dml import from_row
from riskd.store.schema import order_decisions

MAX_LISTED: Final = 1_000
_DETAIL_CHARS: Final = 512


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One order a robot sent and what the gate decided; ``order_id`` once it was placed."""

    account: str
    robot: str
    symbol: str
    side: str
    position_side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    reduce_only: bool
    passed: bool
    refusal: str | None
    detail: str
    client_order_id: str | None
    decided_ms: int
    order_id: int | None = None
    id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """As ``GET /v1/orders`` shows it: amounts as decimal strings without trailing zeros
        (the same from SQLite and MySQL, whose DECIMAL column pads them)."""
        row = asdict(self)
        row["quantity"] = _plain(self.quantity)
        row["price"] = None if self.price is None else _plain(self.price)
        return row


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def record_decisions(
    connection: Connection, records: Sequence[DecisionRecord]
) -> list[DecisionRecord]:
    """Store *records*; they come back with their ids."""
    stored = []
    for record in records:
        row = asdict(record)
        del row["id"]
        row["detail"] = record.detail[:_DETAIL_CHARS]
        result = connection.execute(insert(order_decisions).values(row))
        stored.append(replace(record, id=result.inserted_primary_key[0]))
    return stored


def set_order_id(connection: Connection, decision_id: int, order_id: int) -> None:
    """The exchange's id of the order a passed decision placed."""
    connection.execute(
        update(order_decisions).where(order_decisions.c.id == decision_id).values(order_id=order_id)
    )


def decisions(
    connection: Connection,
    *,
    account: str | None = None,
    robot: str | None = None,
    limit: int = 100,
) -> list[DecisionRecord]:
    """The newest *limit* decisions (at most MAX_LISTED), of *account* and *robot* if given."""
    if not 1 <= limit <= MAX_LISTED:
        raise ValueError(f"limit: must be 1 to {MAX_LISTED}, not {limit}")
    query = select(order_decisions).order_by(order_decisions.c.id.desc()).limit(limit)
    if account is not None:
        query = query.where(order_decisions.c.account == account)
    if robot is not None:
        query = query.where(order_decisions.c.robot == robot)
    return [from_row(DecisionRecord, row) for row in connection.execute(query).mappings()]


@dataclass(frozen=True, slots=True)
class RobotDecisions:
    """How many of a robot's orders the gate passed and refused in a window, and its latest
    refusal in it (None without one)."""

    robot: str
    passed: int
    refused: int
    last_refusal: str | None = None
    last_refused_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """As ``GET /v1/orders/summary`` shows it."""
        return asdict(self)


def decision_counts(
    connection: Connection, account: str, robots: Sequence[str], since_ms: int
) -> list[RobotDecisions]:
    """Per robot of *account* (each of *robots*, and any other the window holds), the gate's
    decisions from *since_ms* on, by robot name."""
    window = (order_decisions.c.account == account, order_decisions.c.decided_ms >= since_ms)
    counts = {robot: [0, 0] for robot in robots}
    for robot, passed, count in connection.execute(
        select(order_decisions.c.robot, order_decisions.c.passed, func.count())
        .where(*window)
        .group_by(order_decisions.c.robot, order_decisions.c.passed)
    ):
        counts.setdefault(robot, [0, 0])[0 if passed else 1] += count
    latest = {
        row.robot: row
        for row in connection.execute(
            select(order_decisions.c.robot, order_decisions.c.refusal, order_decisions.c.decided_ms)
            .where(*window, order_decisions.c.passed.is_(False))
            .order_by(order_decisions.c.id)
        )
    }
    return [
        RobotDecisions(
            robot,
            passed,
            refused,
            latest[robot].refusal if robot in latest else None,
            latest[robot].decided_ms if robot in latest else None,
        )
        for robot, (passed, refused) in sorted(counts.items())
    ]
