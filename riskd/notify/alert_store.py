"""The Alerter's durable state in SQL: alerts, groups' notification logs, the outbox, silences,
and the ``once`` alerts taken in (by fingerprint: a day's summary is told once ever).

Sync functions of a Connection, for ``SqlRunner.run``; the caller owns the transaction. A flush
saves the groups it told and queues its notifications in one transaction, so a restart neither
loses nor repeats one. Before its first attempt a batch of outbox rows gets a uuid that stays
with it through every retry, also after a restart: Feishu drops a repeated uuid, so a message
whose success was not recorded before a crash is still shown once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, delete, func, insert, select, update

from riskd.notify.alerts import (
    Alert,
    AlertEvent,
    DispatcherChanges,
    GroupState,
    Matcher,
    Notification,
    Severity,
    Silence,
)
from riskd.store.dml import insert_ignore
from riskd.store.schema import alert_groups, alert_once, alert_outbox, alerts, silences

log = logging.getLogger(__name__)

PENDING: Final = "pending"
SENT: Final = "sent"
_ERROR_WIDTH: Final = 512


# ---------------------------------------------------------------- JSON forms


def _pairs(pairs: Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(value)) for name, value in pairs)


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "name": alert.name,
        "labels": [list(pair) for pair in alert.labels],
        "severity": alert.severity.value,
        "starts_ms": alert.starts_ms,
        "updated_ms": alert.updated_ms,
        "ends_ms": alert.ends_ms,
        "figures": [list(pair) for pair in alert.figures],
        "action": alert.action,
    }


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    return Alert(
        name=data["name"],
        labels=_pairs(data["labels"]),
        severity=Severity(data["severity"]),
        starts_ms=data["starts_ms"],
        updated_ms=data["updated_ms"],
        ends_ms=data["ends_ms"],
        figures=_pairs(data["figures"]),
        action=data["action"],
    )


def notification_to_json(notification: Notification) -> str:
    return json.dumps(
        {
            "group_key": notification.group_key,
            "group_labels": [list(pair) for pair in notification.group_labels],
            "firing": [alert_to_dict(a) for a in notification.firing],
            "resolved": [alert_to_dict(a) for a in notification.resolved],
            "at_ms": notification.at_ms,
        },
        separators=(",", ":"),
    )


def notification_from_json(text: str) -> Notification:
    data = json.loads(text)
    return Notification(
        group_key=data["group_key"],
        group_labels=_pairs(data["group_labels"]),
        firing=tuple(alert_from_dict(a) for a in data["firing"]),
        resolved=tuple(alert_from_dict(a) for a in data["resolved"]),
        at_ms=data["at_ms"],
    )


def _group_to_json(group: GroupState) -> str:
    return json.dumps(
        {
            "labels": [list(pair) for pair in group.labels],
            "due_ms": group.due_ms,
            "sent_firing": sorted(group.sent_firing),
            "sent_ms": group.sent_ms,
            "pending_resolved": sorted(group.pending_resolved),
        },
        separators=(",", ":"),
    )


def _group_from_json(text: str) -> GroupState:
    data = json.loads(text)
    return GroupState(
        labels=_pairs(data["labels"]),
        due_ms=data["due_ms"],
        sent_firing=frozenset(data["sent_firing"]),
        sent_ms=data["sent_ms"],
        pending_resolved=set(data["pending_resolved"]),
    )


# ---------------------------------------------------------------- the dispatcher's state


def save_state(conn: Connection, changes: DispatcherChanges) -> None:
    """Store the alerts and groups that changed as they now stand; delete the forgotten."""
    rows = [
        {
            "fingerprint": a.fingerprint,
            "name": a.name,
            "body": json.dumps(alert_to_dict(a), separators=(",", ":")),
            "updated_ms": a.updated_ms,
        }
        for a in changes.alerts.values()
        if a is not None
    ]
    if changes.alerts:
        conn.execute(delete(alerts).where(alerts.c.fingerprint.in_(list(changes.alerts))))
    if rows:
        conn.execute(insert(alerts), rows)
    group_rows = [
        {"group_key": key, "body": _group_to_json(group), "due_ms": group.due_ms}
        for key, group in changes.groups.items()
        if group is not None
    ]
    if changes.groups:
        conn.execute(delete(alert_groups).where(alert_groups.c.group_key.in_(list(changes.groups))))
    if group_rows:
        conn.execute(insert(alert_groups), group_rows)


def load_state(conn: Connection) -> tuple[dict[str, Alert], dict[str, GroupState]]:
    """Every stored alert by fingerprint and every group by key."""
    stored_alerts = {
        row.fingerprint: alert_from_dict(json.loads(row.body))
        for row in conn.execute(select(alerts.c.fingerprint, alerts.c.body))
    }
    groups = {
        row.group_key: _group_from_json(row.body)
        for row in conn.execute(select(alert_groups.c.group_key, alert_groups.c.body))
    }
    return stored_alerts, groups


# ---------------------------------------------------------------- alerts told once ever


def record_told(conn: Connection, events: Sequence[AlertEvent], now_ms: int) -> None:
    """Record that the ``once`` alerts of *events* were told (kept: a few rows a day)."""
    rows = [
        {
            "fingerprint": e.fingerprint,
            "name": e.name,
            "labels": json.dumps(dict(e.labels), separators=(",", ":")),
            "told_ms": now_ms,
        }
        for e in {e.fingerprint: e for e in events}.values()
    ]
    if rows:
        conn.execute(insert_ignore(alert_once, rows, conn.dialect.name))


def told_fingerprints(conn: Connection) -> set[str]:
    """The fingerprints of every ``once`` alert told."""
    return set(conn.scalars(select(alert_once.c.fingerprint)))


def told_labels(conn: Connection, name: str, since_ms: int) -> list[dict[str, str]]:
    """The labels of the ``once`` alerts called *name* told since *since_ms*."""
    rows = conn.scalars(
        select(alert_once.c.labels).where(
            alert_once.c.name == name, alert_once.c.told_ms >= since_ms
        )
    )
    return [json.loads(labels) for labels in rows]


# ---------------------------------------------------------------- the outbox


@dataclass(frozen=True, slots=True)
class Batch:
    """Outbox rows sent as one message under ``uuid``; ``attempts`` so far."""

    uuid: str
    ids: tuple[int, ...]
    notifications: tuple[Notification, ...]
    attempts: int


def enqueue(
    conn: Connection, notifications: Iterable[Notification], receivers: Sequence[str], now_ms: int
) -> int:
    """Queue every notification for every receiver; return the rows queued."""
    rows = [
        {
            "receiver": receiver,
            "created_ms": now_ms,
            "notification": notification_to_json(notification),
            "status": PENDING,
            "batch_uuid": None,
            "attempts": 0,
            "next_attempt_ms": now_ms,
            "sent_ms": None,
            "last_error": "",
        }
        for notification in notifications
        for receiver in receivers
    ]
    if rows:
        conn.execute(insert(alert_outbox), rows)
    return len(rows)


def pending_count(conn: Connection, receiver: str) -> int:
    """How many notifications wait for *receiver* (due or backing off)."""
    return conn.scalar(
        select(func.count())
        .select_from(alert_outbox)
        .where(alert_outbox.c.receiver == receiver, alert_outbox.c.status == PENDING)
    )


def claim_batch(
    conn: Connection, receiver: str, size: int, uuid_prefix: str, now_ms: int
) -> Batch | None:
    """The next message for *receiver* due at *now_ms*, or None.

    A batch claimed before (one that failed, or whose send a restart interrupted) goes first
    and unchanged, under its uuid. Otherwise the oldest *size* unclaimed rows become a batch.
    """
    due = (alert_outbox.c.receiver == receiver) & (alert_outbox.c.status == PENDING)
    claimed = conn.execute(
        select(alert_outbox.c.batch_uuid)
        .where(due, alert_outbox.c.batch_uuid.is_not(None))
        .order_by(alert_outbox.c.id)
        .limit(1)
    ).scalar()
    if claimed is None:
        ids = list(
            conn.scalars(
                select(alert_outbox.c.id)
                .where(due, alert_outbox.c.batch_uuid.is_(None))
                .order_by(alert_outbox.c.id)
                .limit(size)
            )
        )
        if not ids:
            return None
        claimed = f"{uuid_prefix}-{ids[0]}-{ids[-1]}"
        conn.execute(
            update(alert_outbox).where(alert_outbox.c.id.in_(ids)).values(batch_uuid=claimed)
        )
    rows = conn.execute(
        select(
            alert_outbox.c.id,
            alert_outbox.c.notification,
            alert_outbox.c.attempts,
            alert_outbox.c.next_attempt_ms,
        )
        .where(alert_outbox.c.batch_uuid == claimed)
        .order_by(alert_outbox.c.id)
    ).all()
    if rows[0].next_attempt_ms > now_ms:
        return None
    return Batch(
        uuid=claimed,
        ids=tuple(row.id for row in rows),
        notifications=tuple(notification_from_json(row.notification) for row in rows),
        attempts=rows[0].attempts,
    )


def next_attempt_ms(conn: Connection, receiver: str) -> int | None:
    """When *receiver*'s next pending row is due; None when nothing waits."""
    return conn.scalar(
        select(func.min(alert_outbox.c.next_attempt_ms)).where(
            alert_outbox.c.receiver == receiver, alert_outbox.c.status == PENDING
        )
    )


def mark_sent(conn: Connection, batch: Batch, now_ms: int) -> None:
    conn.execute(
        update(alert_outbox)
        .where(alert_outbox.c.batch_uuid == batch.uuid)
        .values(status=SENT, sent_ms=now_ms, attempts=batch.attempts + 1, last_error="")
    )


def mark_failed(conn: Connection, batch: Batch, error: str, retry_at_ms: int) -> None:
    """The batch failed; it is tried again, under the same uuid, at *retry_at_ms*."""
    conn.execute(
        update(alert_outbox)
        .where(alert_outbox.c.batch_uuid == batch.uuid)
        .values(
            attempts=batch.attempts + 1,
            next_attempt_ms=retry_at_ms,
            last_error=error[:_ERROR_WIDTH],
        )
    )


class Told(NamedTuple):
    """A notification queued for a receiver at *created_ms*, and how its delivery stands."""

    created_ms: int
    status: str  # pending | sent | failed
    notification: Notification

    def rows(self) -> list[dict[str, Any]]:
        """One row per alert it told of (``GET /v1/alerts/recent``): its state then (firing,
        resolved, or notice for a one-off fact, fired and resolved at once) and the delivery's."""
        return [
            {
                "told_ms": self.created_ms,
                "delivery": self.status,
                "name": alert.name,
                "labels": dict(alert.labels),
                "severity": alert.severity.value,
                "state": _told_state(alert),
                "starts_ms": alert.starts_ms,
                "ends_ms": alert.ends_ms,
            }
            for alert in (*self.notification.firing, *self.notification.resolved)
        ]


def _told_state(alert: Alert) -> str:
    if alert.firing:
        return "firing"
    return "notice" if alert.ends_ms == alert.starts_ms else "resolved"


def recent_notifications(conn: Connection, receiver: str, since_ms: int, limit: int) -> list[Told]:
    """The newest *limit* notifications queued for *receiver* from *since_ms* on (the outbox
    keeps sent ones for its retention), newest first."""
    rows = conn.execute(
        select(alert_outbox.c.created_ms, alert_outbox.c.status, alert_outbox.c.notification)
        .where(alert_outbox.c.receiver == receiver, alert_outbox.c.created_ms >= since_ms)
        .order_by(alert_outbox.c.id.desc())
        .limit(limit)
    )
    return [Told(row[0], row[1], notification_from_json(row[2])) for row in rows]


def prune_sent(conn: Connection, before_ms: int) -> int:
    """Delete rows sent before *before_ms* (the log's retention); return how many."""
    done = conn.execute(
        delete(alert_outbox).where(
            alert_outbox.c.status == SENT, alert_outbox.c.sent_ms < before_ms
        )
    )
    return done.rowcount


# ---------------------------------------------------------------- silences


def _silence(row: Any) -> Silence:
    return Silence(
        id=row.id,
        matchers=tuple(Matcher(**m) for m in json.loads(row.matchers)),
        starts_ms=row.starts_ms,
        ends_ms=row.ends_ms,
        created_by=row.created_by,
        comment=row.comment,
    )


def add_silence(
    conn: Connection,
    matchers: Sequence[Matcher],
    starts_ms: int,
    ends_ms: int,
    created_by: str,
    comment: str,
    now_ms: int,
) -> Silence:
    """Store a silence; ValueError names what is wrong with it."""
    Silence(0, tuple(matchers), starts_ms, ends_ms, created_by, comment)  # validates
    if len(created_by) > 96 or len(comment) > 512:
        raise ValueError("created_by is at most 96 characters and comment at most 512")
    result = conn.execute(
        insert(silences).values(
            matchers=json.dumps([m.model_dump() for m in matchers], separators=(",", ":")),
            starts_ms=starts_ms,
            ends_ms=ends_ms,
            created_by=created_by,
            comment=comment,
            created_ms=now_ms,
            expired_by=None,
        )
    )
    return Silence(
        result.inserted_primary_key[0], tuple(matchers), starts_ms, ends_ms, created_by, comment
    )


def current_silences(conn: Connection, now_ms: int) -> list[Silence]:
    """Silences not yet ended at *now_ms* (active now, or starting later), by id. A stored
    silence whose matchers are no longer valid (a regex RE2 refuses, kept from before riskd
    matched with RE2) is left out with a warning, never a reason for the Alerter to fail."""
    rows = conn.execute(select(silences).where(silences.c.ends_ms > now_ms).order_by(silences.c.id))
    found = []
    for row in rows:
        try:
            found.append(_silence(row))
        except ValueError as exc:  # pydantic's ValidationError is one
            log.warning("silence %s is ignored: %s", row.id, " ".join(str(exc).split()))
    return found


def expire_silence(conn: Connection, silence_id: int, by: str, now_ms: int) -> Silence:
    """End a silence now. LookupError: no such silence; ValueError: it already ended."""
    row = conn.execute(select(silences).where(silences.c.id == silence_id)).first()
    if row is None:
        raise LookupError(f"no silence {silence_id}")
    if row.ends_ms <= now_ms:
        raise ValueError(f"silence {silence_id} already ended")
    conn.execute(
        update(silences)
        .where(silences.c.id == silence_id)
        .values(ends_ms=now_ms, starts_ms=min(row.starts_ms, now_ms - 1), expired_by=by)
    )
    return _silence(conn.execute(select(silences).where(silences.c.id == silence_id)).one())
