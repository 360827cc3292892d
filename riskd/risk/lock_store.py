"""Locks, their audit trail, trading state and ban-list versions in SQL.

Sync functions of a Connection, for ``SqlRunner.run``; the caller owns the transaction. Every
act on a lock writes one ``lock_events`` row (created | extended | expired | unlocked). Locks
are never deleted: an ended lock stays with ``active`` false and its ``ended_ms``. An
extension is guarded in SQL as well, so a lock's end never moves earlier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

from sqlalchemy import Connection, and_, func, insert, select, update

from riskd.risk.locks import (
    OPERATOR_PREFIX,
    REASON_CHARS,
    RULE_PREFIX,
    Lock,
    LockChanges,
    LockKey,
    LockRequest,
    TradingState,
)
from riskd.store.dml import from_row
from riskd.store.schema import banlist_versions, lock_events, locks, trading_states

LockAction = Literal["created", "extended", "expired", "unlocked"]
# Column widths in riskd.store.schema.
_WIDTHS: Final = {
    "symbol": 32,
    "reason_code": 32,
    "reason_text": 512,
    "source": 96,
    "robot": 16,
}
_ACTOR_WIDTH: Final = 96
_DETAIL_WIDTH: Final = 512


@dataclass(frozen=True, slots=True)
class LockEvent:
    """One audited act on a lock."""

    id: int
    lock_id: int
    account: str
    at_ms: int
    action: LockAction
    actor: str
    until_ms: int | None
    detail: str


class StateRecord(NamedTuple):
    """The account's trading state, who set it, when and why."""

    state: TradingState
    reason: str
    actor: str
    at_ms: int

    @property
    def set_by_operator(self) -> bool:
        """Whether an operator set this state (it then holds until new evidence)."""
        return self.actor.startswith(OPERATOR_PREFIX)


def _lock(row: Mapping[str, Any]) -> Lock:
    return from_row(Lock, {**row, "active": bool(row["active"])})


def _check_width(field: str, value: str, width: int) -> None:
    if len(value) > width:
        raise ValueError(f"{field} is {len(value)} characters long; at most {width} are stored")


def _event(
    conn: Connection,
    lock: Lock | int,
    account: str,
    action: LockAction,
    actor: str,
    until_ms: int | None,
    detail: str,
    now_ms: int,
) -> None:
    conn.execute(
        insert(lock_events).values(
            lock_id=lock if isinstance(lock, int) else lock.id,
            account=account,
            at_ms=now_ms,
            action=action,
            actor=actor,
            until_ms=until_ms,
            detail=detail[:_DETAIL_WIDTH],
        )
    )


def _create(conn: Connection, account: str, request: LockRequest, actor: str, now_ms: int) -> Lock:
    for field, width in _WIDTHS.items():
        _check_width(field, getattr(request, field), width)
    _check_width("actor", actor, _ACTOR_WIDTH)
    values: dict[str, Any] = {
        "account": account,
        "symbol": request.symbol,
        "side": request.side,
        "reason_code": request.reason_code,
        "reason_text": request.reason_text,
        "source": request.source,
        "robot": request.robot,
        "created_ms": now_ms,
        "until_ms": request.until_ms,
        "active": True,
        "ended_ms": None,
    }
    inserted = conn.execute(insert(locks).values(values)).inserted_primary_key
    lock = _lock({"id": inserted[0], **values})
    _event(conn, lock, account, "created", actor, lock.until_ms, request.reason_text, now_ms)
    return lock


def active_locks(conn: Connection, account: str) -> list[Lock]:
    """The account's active locks, oldest first (some may be past their end: see reconcile)."""
    rows = conn.execute(
        select(locks).where(locks.c.account == account, locks.c.active).order_by(locks.c.id)
    ).mappings()
    return [_lock(row) for row in rows]


def apply_lock_changes(
    conn: Connection, account: str, changes: LockChanges, now_ms: int, actor: str
) -> list[Lock]:
    """Create, extend and expire locks as *changes* say; return the active locks after.

    An extension applies only to a lock still active whose end is earlier (None is forever),
    and an expiry only to a lock still active: a change that lost a race is skipped, unaudited.
    """
    for request in changes.create:
        _create(conn, account, request, actor, now_ms)
    for lock, until_ms in changes.extend:
        later = (
            locks.c.until_ms.is_not(None)
            if until_ms is None
            else and_(locks.c.until_ms.is_not(None), locks.c.until_ms < until_ms)
        )
        done = conn.execute(
            update(locks)
            .where(locks.c.id == lock.id, locks.c.account == account, locks.c.active, later)
            .values(until_ms=until_ms)
        )
        if done.rowcount == 1:
            detail = f"from {lock.until_ms} to {until_ms}"
            _event(conn, lock, account, "extended", actor, until_ms, detail, now_ms)
    for lock in changes.expire:
        done = conn.execute(
            update(locks)
            .where(locks.c.id == lock.id, locks.c.account == account, locks.c.active)
            .values(active=False, ended_ms=now_ms)
        )
        if done.rowcount == 1:
            detail = f"ended at {lock.until_ms}"
            _event(conn, lock, account, "expired", actor, lock.until_ms, detail, now_ms)
    return active_locks(conn, account)


def add_operator_lock(conn: Connection, account: str, request: LockRequest, now_ms: int) -> Lock:
    """Create an operator's lock (source ``operator:<name>``), audited under that name."""
    if not request.source.startswith(OPERATOR_PREFIX) or request.source == OPERATOR_PREFIX:
        raise ValueError(f"an operator lock's source is operator:<name>, not {request.source!r}")
    if request.until_ms is not None and request.until_ms <= now_ms:
        raise ValueError(f"the lock would end at {request.until_ms}, not after now ({now_ms})")
    return _create(conn, account, request, request.source, now_ms)


def unlock(
    conn: Connection, account: str, lock_id: int, operator: str, reason: str, now_ms: int
) -> Lock:
    """End an active lock now: an operator's audited act. Returns the ended lock.

    LookupError when the account has no lock *lock_id*; ValueError when it already ended, or
    when *operator* or *reason* is blank.
    """
    if not operator.strip():
        raise ValueError("an unlock needs the operator's name")
    if not reason.strip():
        raise ValueError("an unlock needs a reason")
    _check_width("operator", operator, _ACTOR_WIDTH)
    row = (
        conn.execute(select(locks).where(locks.c.id == lock_id, locks.c.account == account))
        .mappings()
        .first()
    )
    if row is None:
        raise LookupError(f"account {account!r} has no lock {lock_id}")
    if not row["active"]:
        raise ValueError(f"lock {lock_id} is not active: it ended at {row['ended_ms']}")
    conn.execute(
        update(locks)
        .where(locks.c.id == lock_id, locks.c.active)
        .values(active=False, ended_ms=now_ms)
    )
    _event(conn, lock_id, account, "unlocked", operator, row["until_ms"], reason, now_ms)
    return _lock({**row, "active": False})


def operator_unlocks(conn: Connection, account: str, since_ms: int) -> dict[LockKey, int]:
    """When an operator last unlocked each rule's lock (by key), for unlocks after *since_ms*."""
    rows = conn.execute(
        select(
            locks.c.source,
            locks.c.symbol,
            locks.c.side,
            locks.c.robot,
            func.max(lock_events.c.at_ms),
        )
        .join(lock_events, lock_events.c.lock_id == locks.c.id)
        .where(
            locks.c.account == account,
            locks.c.source.startswith(RULE_PREFIX),
            lock_events.c.action == "unlocked",
            lock_events.c.at_ms > since_ms,
        )
        .group_by(locks.c.source, locks.c.symbol, locks.c.side, locks.c.robot)
    )
    return {(source, symbol, side, robot): at_ms for source, symbol, side, robot, at_ms in rows}


def lock_history(conn: Connection, account: str, limit: int) -> list[LockEvent]:
    """The account's latest *limit* acts on locks, newest first."""
    rows = conn.execute(
        select(lock_events)
        .where(lock_events.c.account == account)
        .order_by(lock_events.c.at_ms.desc(), lock_events.c.id.desc())
        .limit(limit)
    ).mappings()
    return [
        LockEvent(
            id=row["id"],
            lock_id=row["lock_id"],
            account=row["account"],
            at_ms=row["at_ms"],
            action=row["action"],
            actor=row["actor"],
            until_ms=row["until_ms"],
            detail=row["detail"],
        )
        for row in rows
    ]


def set_trading_state(
    conn: Connection, account: str, state: TradingState, reason: str, actor: str, now_ms: int
) -> None:
    """Record *state* as the account's trading state from now on (earlier states are kept)."""
    _check_width("reason", reason, REASON_CHARS)
    _check_width("actor", actor, _ACTOR_WIDTH)
    conn.execute(
        insert(trading_states).values(
            account=account,
            state=TradingState(state).value,
            reason=reason,
            actor=actor,
            at_ms=now_ms,
        )
    )


def trading_state(conn: Connection, account: str) -> StateRecord:
    """The account's latest trading state; ACTIVE, set by nobody at 0, when none was set."""
    row = (
        conn.execute(
            select(trading_states)
            .where(trading_states.c.account == account)
            .order_by(trading_states.c.at_ms.desc(), trading_states.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return StateRecord(TradingState.ACTIVE, "", "", 0)
    return StateRecord(TradingState(row["state"]), row["reason"], row["actor"], row["at_ms"])


def save_banlist_version(
    conn: Connection,
    account: str,
    version: int,
    generated_at_ms: int,
    valid_until_ms: int,
    body: str,
) -> None:
    """Store a published ban list; a version stored already raises IntegrityError."""
    conn.execute(
        insert(banlist_versions).values(
            account=account,
            version=version,
            generated_at_ms=generated_at_ms,
            valid_until_ms=valid_until_ms,
            body=body,
        )
    )


def latest_banlist_version(conn: Connection, account: str) -> int:
    """The account's latest stored ban-list version; 0 when none."""
    latest = conn.scalar(
        select(func.max(banlist_versions.c.version)).where(banlist_versions.c.account == account)
    )
    return 0 if latest is None else int(latest)
