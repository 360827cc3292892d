"""Flattens in SQL (``flattens``): each one an operator asked for, written when it starts and
again with its report when it ends, so an audit finds every flatten, even one whose Trader
died midway (outcome ``running``, no end). Sync functions of a Connection, for
``SqlRunner.run``."""

from __future__ import annotations

import json
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, insert, select, update

from riskd.protect.flatten import FlattenOutcome, FlattenReport, FlattenRequest
from riskd.store.schema import flattens

MAX_LISTED: Final = 100


class FlattenRecord(NamedTuple):
    """One stored flatten; ``report`` is the report's JSON as a dict ({} while running)."""

    id: int
    account: str
    scope: str
    operator: str
    reason: str
    started_ms: int
    ended_ms: int | None
    outcome: str
    report: dict[str, Any]


def start_flatten(conn: Connection, account: str, request: FlattenRequest, started_ms: int) -> int:
    """Record that a flatten of *account* started; its id."""
    result = conn.execute(
        insert(flattens).values(
            account=account,
            scope=str(request.scope),
            operator=request.operator,
            reason=request.reason,
            started_ms=started_ms,
            ended_ms=None,
            outcome=FlattenOutcome.RUNNING.value,
            report="{}",
        )
    )
    return int(result.inserted_primary_key[0])


def finish_flatten(conn: Connection, flatten_id: int, report: FlattenReport) -> None:
    """Record how flatten *flatten_id* ended, and its report."""
    conn.execute(
        update(flattens)
        .where(flattens.c.id == flatten_id)
        .values(
            ended_ms=report.ended_ms,
            outcome=report.outcome.value,
            report=json.dumps(report.to_dict(), separators=(",", ":")),
        )
    )


def recent_flattens(conn: Connection, account: str, limit: int = MAX_LISTED) -> list[FlattenRecord]:
    """The newest *limit* flattens of *account*, newest first."""
    rows = conn.execute(
        select(flattens)
        .where(flattens.c.account == account)
        .order_by(flattens.c.started_ms.desc(), flattens.c.id.desc())
        .limit(min(limit, MAX_LISTED))
    ).mappings()
    return [
        FlattenRecord(**{**row, "report": json.loads(row["report"])})  # type: ignore[arg-type]
        for row in rows
    ]
