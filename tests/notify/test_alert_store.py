"""The Alerter's state, outbox and silences, on SQLite and MySQL/MariaDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, insert

from riskd.notify.alert_store import (
    Told,
    add_silence,
    claim_batch,
    current_silences,
    enqueue,
    expire_silence,
    load_state,
    mark_failed,
    mark_sent,
    next_attempt_ms,
    pending_count,
    prune_sent,
    recent_notifications,
    save_state,
)
from riskd.notify.alerts import (
    Alert,
    AlertEvent,
    Dispatcher,
    Matcher,
    Notification,
    RouteConfig,
    Severity,
    labels_of,
)
from riskd.store.schema import init_schema, silences

T = TypeVar("T")
T0 = 1_700_000_000_000
ROUTE = RouteConfig()


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    init_schema(sql_engine, T0)
    return sql_engine


def _run(engine: Engine, fn: Callable[..., T], *args: Any) -> T:
    with engine.begin() as conn:
        return fn(conn, *args)


def _event(symbol: str, at_ms: int = T0, firing: bool = True) -> AlertEvent:
    labels = labels_of("SymbolLocked", {"account": "main", "symbol": symbol})
    figures = (("pnl_usdt", "-200"),)
    return AlertEvent("SymbolLocked", labels, Severity.WARNING, firing, at_ms, figures, "locked")


def _notifications(dispatcher: Dispatcher, symbols: list[str], at_ms: int = T0) -> list:
    for symbol in symbols:
        dispatcher.observe(_event(symbol, at_ms))
    return dispatcher.flush(at_ms + ROUTE.group_wait_ms)


def test_a_restarted_dispatcher_continues_from_the_stored_state(engine: Engine) -> None:
    before = Dispatcher(ROUTE)
    before.observe(_event("BTCUSDT"))
    before.observe(_event("ETHUSDT"))
    before.flush(T0 + 30_000)
    before.observe(_event("BTCUSDT", T0 + 60_000, firing=False))
    _run(engine, save_state, before.take_changes())

    alerts, groups = _run(engine, load_state)
    after = Dispatcher(ROUTE, alerts=alerts, groups=groups)

    assert after.alerts == before.alerts and after.groups == before.groups
    (told,) = after.flush(T0 + 330_000)
    assert [a.label("symbol") for a in told.firing] == ["ETHUSDT"]
    assert [a.label("symbol") for a in told.resolved] == ["BTCUSDT"]
    _run(engine, save_state, after.take_changes())
    alerts, groups = _run(engine, load_state)
    (only,) = alerts.values()
    assert alerts == after.alerts and only.label("symbol") == "ETHUSDT"
    assert groups == after.groups


def test_forgotten_alerts_and_groups_leave_the_store(engine: Engine) -> None:
    dispatcher = Dispatcher(ROUTE)
    dispatcher.observe(_event("BTCUSDT"))
    dispatcher.observe(_event("BTCUSDT", T0 + 1, firing=False))
    dispatcher.flush(T0 + 30_000)
    _run(engine, save_state, dispatcher.take_changes())

    assert _run(engine, load_state) == ({}, {})


def test_a_batch_is_sent_once_and_marked(engine: Engine) -> None:
    notifications = _notifications(Dispatcher(ROUTE), ["BTCUSDT"])
    assert _run(engine, enqueue, notifications, ["feishu", "console"], T0) == 2

    batch = _run(engine, claim_batch, "feishu", 5, "riskd-prod", T0)
    assert batch is not None and batch.notifications == tuple(notifications)
    _run(engine, mark_sent, batch, T0 + 10)

    assert _run(engine, claim_batch, "feishu", 5, "riskd-prod", T0 + 20) is None
    assert _run(engine, pending_count, "feishu") == 0
    assert _run(engine, pending_count, "console") == 1


def test_a_failed_batch_is_retried_unchanged_under_its_uuid_after_its_back_off(
    engine: Engine,
) -> None:
    first = _notifications(Dispatcher(ROUTE), ["BTCUSDT"])
    _run(engine, enqueue, first, ["feishu"], T0)
    batch = _run(engine, claim_batch, "feishu", 1, "riskd-prod", T0)
    _run(engine, mark_failed, batch, "feishu: HTTP 503", T0 + 1_000)
    later = _notifications(Dispatcher(ROUTE), ["ETHUSDT", "SOLUSDT"], T0 + 500)
    _run(engine, enqueue, later, ["feishu"], T0 + 500)

    assert _run(engine, claim_batch, "feishu", 5, "riskd-prod", T0 + 999) is None
    assert _run(engine, next_attempt_ms, "feishu") == T0 + 500  # the later rows are due
    again = _run(engine, claim_batch, "feishu", 5, "riskd-prod", T0 + 1_000)  # a "restart"
    assert (again.uuid, again.ids, again.attempts) == (batch.uuid, batch.ids, 1)
    _run(engine, mark_sent, again, T0 + 1_001)
    rest = _run(engine, claim_batch, "feishu", 5, "riskd-prod", T0 + 1_002)
    assert rest.uuid != batch.uuid and len(rest.notifications) == 1  # one group, two alerts
    assert len(rest.notifications[0].firing) == 2


def test_sent_rows_are_pruned_after_their_retention(engine: Engine) -> None:
    _run(engine, enqueue, _notifications(Dispatcher(ROUTE), ["BTCUSDT"]), ["feishu"], T0)
    batch = _run(engine, claim_batch, "feishu", 1, "p", T0)
    _run(engine, mark_sent, batch, T0 + 5)

    assert _run(engine, prune_sent, T0 + 5) == 0
    assert _run(engine, prune_sent, T0 + 6) == 1


def test_recent_notifications_are_one_receivers_newest_first_within_the_window(
    engine: Engine,
) -> None:
    dispatcher = Dispatcher(ROUTE)
    old = _notifications(dispatcher, ["BTCUSDT"])
    _run(engine, enqueue, old, ["feishu", "console"], T0)
    for n, symbol in enumerate(["ETHUSDT", "SOLUSDT", "DOGEUSDT"], 1):
        told = _notifications(Dispatcher(ROUTE), [symbol], T0 + n * 60_000)
        _run(engine, enqueue, told, ["feishu", "console"], T0 + n * 60_000)
    batch = _run(engine, claim_batch, "feishu", 1, "p", T0 + 60_000)
    _run(engine, mark_sent, batch, T0 + 60_001)

    recent = _run(engine, recent_notifications, "feishu", T0 + 1, 2)
    everything = _run(engine, recent_notifications, "console", T0, 10)

    assert [(t.created_ms, t.status) for t in recent] == [
        (T0 + 180_000, "pending"),
        (T0 + 120_000, "pending"),
    ]
    assert [t.notification.firing[0].label("symbol") for t in recent] == ["DOGEUSDT", "SOLUSDT"]
    assert len(everything) == 4 and everything[-1].notification == old[0]
    assert _run(engine, recent_notifications, "feishu", T0, 10)[-1].status == "sent"


def test_a_told_notification_rows_say_firing_resolved_or_notice() -> None:
    labels = labels_of("IpBanned", {"ip": "127.0.0.2"})
    firing = Alert("IpBanned", labels, Severity.CRITICAL, T0, T0)
    resolved = Alert("IpBanned", labels, Severity.CRITICAL, T0, T0 + 5, ends_ms=T0 + 5)
    notice = Alert("RiskdStarted", (), Severity.INFO, T0, T0, ends_ms=T0)
    told = Told(T0 + 9, "failed", Notification("g", (), (firing,), (resolved, notice), T0 + 9))

    rows = told.rows()

    assert [(r["name"], r["state"], r["ends_ms"]) for r in rows] == [
        ("IpBanned", "firing", None),
        ("IpBanned", "resolved", T0 + 5),
        ("RiskdStarted", "notice", T0),
    ]
    assert rows[0] | {"state": "-"} == {
        "told_ms": T0 + 9, "delivery": "failed", "name": "IpBanned",
        "labels": {"alertname": "IpBanned", "ip": "127.0.0.2"}, "severity": "critical",
        "state": "-", "starts_ms": T0, "ends_ms": None,
    }  # fmt: skip


def test_silences_are_stored_listed_and_expired_early(engine: Engine) -> None:
    matchers = (Matcher.parse("symbol=~BTC.*"), Matcher.parse("account=main"))
    silence = _run(engine, add_silence, matchers, T0, T0 + 3_600_000, "alice", "known", T0)

    assert _run(engine, current_silences, T0 + 10) == [silence]
    ended = _run(engine, expire_silence, silence.id, "bob", T0 + 60_000)
    assert ended.ends_ms == T0 + 60_000
    assert _run(engine, current_silences, T0 + 60_000) == []
    with pytest.raises(ValueError, match="already ended"):
        _run(engine, expire_silence, silence.id, "bob", T0 + 70_000)
    with pytest.raises(LookupError, match="no silence 999"):
        _run(engine, expire_silence, 999, "bob", T0)


def test_a_silence_without_a_comment_is_refused(engine: Engine) -> None:
    matchers = (Matcher.parse("symbol=BTCUSDT"),)
    with pytest.raises(ValueError, match="creator and a comment"):
        _run(engine, add_silence, matchers, T0, T0 + 1, "alice", "", T0)


def test_a_stored_silence_re2_refuses_is_ignored_not_fatal(engine: Engine) -> None:
    matchers = (Matcher.parse("symbol=BTCUSDT"),)
    kept = _run(engine, add_silence, matchers, T0, T0 + 60_000, "alice", "kept", T0)
    with engine.begin() as conn:  # as riskd stored it before it matched with RE2
        conn.execute(
            insert(silences).values(
                matchers=json.dumps([{"label": "symbol", "op": "=~", "value": "(?=B)B.*"}]),
                starts_ms=T0,
                ends_ms=T0 + 60_000,
                created_by="old",
                comment="lookahead",
                created_ms=T0,
            )
        )
    assert _run(engine, current_silences, T0 + 10) == [kept]
