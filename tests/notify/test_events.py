"""riskd's facts as alert events: IP bans, locks, trading state, job health and restarts."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from riskd.exchange.guard import IpEvent, IpEventKind
from riskd.exchange.key_safety import KeyCheck
from riskd.health import JobState, JobStatus
from riskd.notify.alerts import Severity
from riskd.notify.events import (
    api_key_alerts,
    book_alerts,
    database_alert,
    health_alerts,
    ip_alert,
    ladder_failed_alert,
    lock_alerts,
    market_reduce_alerts,
    one_shot,
    restart_alerts,
    state_alert,
    still_firing,
)
from riskd.risk.banlist import BanListLock
from riskd.risk.locks import TradingState
from tests.kit.gateway import SAFE_KEY

T0 = 1_700_000_000_000


def test_a_418_fires_ip_banned_with_its_wait_and_its_end_resolves_it() -> None:
    banned = ip_alert(IpEvent(IpEventKind.BANNED, "10.0.0.5", T0, T0 + 120_000), "main")
    ended = ip_alert(IpEvent(IpEventKind.BAN_ENDED, "10.0.0.5", T0 + 120_000, T0 + 120_000), "main")

    assert (banned.name, banned.severity, banned.firing) == ("IpBanned", Severity.CRITICAL, True)
    assert dict(banned.figures) == {"retry_after_s": "120"}
    assert banned.action == "paused_ip"
    assert (ended.fingerprint, ended.firing) == (banned.fingerprint, False)


def _lock(lock_id: int, symbol: str, until_ms: int | None = T0 + 60_000) -> BanListLock:
    return BanListLock(
        lock_id, symbol, "both", "symbol_pnl", "text", "rule:symbol_4h", T0, until_ms
    )


def test_published_locks_fire_again_and_ended_ones_resolve() -> None:
    before = [_lock(1, "BTCUSDT"), _lock(2, "ETHUSDT")]
    now = [_lock(2, "ETHUSDT"), _lock(3, "ALL", None)]

    def figures(lock: BanListLock) -> dict[str, str]:
        return {"window": "4h", "threshold_usdt": "-150"}

    events = lock_alerts("main", before, now, T0, figures)

    assert [(e.name, dict(e.labels).get("symbol"), e.firing) for e in events] == [
        ("SymbolLocked", "BTCUSDT", False),
        ("SymbolLocked", "ETHUSDT", True),
        ("AllLocked", None, True),
    ]
    assert dict(events[1].figures) == {
        "until_ms": str(T0 + 60_000),
        "window": "4h",
        "threshold_usdt": "-150",
    }
    assert events[2].severity is Severity.CRITICAL
    assert dict(events[2].figures) == {"window": "4h", "threshold_usdt": "-150"}  # no end


def test_two_robots_locks_of_one_symbol_are_two_alerts_and_a_robots_all_lock_warns() -> None:
    def robots(lock_id: int, symbol: str, robot: str) -> BanListLock:
        return dataclasses.replace(_lock(lock_id, symbol), robot=robot)

    events = lock_alerts(
        "main",
        [],
        [robots(1, "ETHUSDT", "a"), robots(2, "ETHUSDT", "b"), robots(3, "ALL", "a")],
        T0,
    )

    assert [dict(e.labels).get("robot") for e in events] == ["a", "b", "a"]
    assert len({e.fingerprint for e in events}) == 3
    assert events[2].severity is Severity.WARNING


def test_the_trading_state_fires_unless_active() -> None:
    halted = state_alert("main", TradingState.HALTED, T0)
    active = state_alert("main", TradingState.ACTIVE, T0)

    assert (halted.firing, dict(halted.labels)["state"], halted.action) == (
        True,
        "HALTED",
        "halted",
    )
    assert active.firing is False and "state" not in dict(active.labels)


def _row(job: str, late: bool, restarts: int = 0, state: JobState = JobState.RUNNING) -> JobStatus:
    health = {"late": late, "lag_ms": 12_500, "egress": "10.0.0.5", "last_error": "boom"}
    return JobStatus(job, "main", state, restarts, health)


def test_unhealthy_jobs_fire_and_recovered_ones_resolve() -> None:
    first = health_alerts([_row("ledger", late=True), _row("stop_ladder", late=True)], T0)
    events, firing = still_firing(first, {}, T0)
    assert [dict(e.labels)["job"] for e in events] == ["ledger", "stop_ladder"]
    assert dict(events[0].figures) == {"lag_s": "12.5", "status": "RUNNING"}
    assert dict(events[0].labels)["ip"] == "10.0.0.5"

    later = health_alerts([_row("ledger", late=True), _row("stop_ladder", late=False)], T0 + 1)
    events, firing = still_firing(later, firing, T0 + 1)

    assert [(dict(e.labels)["job"], e.firing, e.at_ms) for e in events] == [
        ("ledger", True, T0 + 1),
        ("stop_ladder", False, T0 + 1),
    ]
    assert list(firing) == [events[0].fingerprint]


def test_a_books_silent_source_disagreement_and_missed_change_fire() -> None:
    health = {"silent": ["position_risk"], "disagreements": ["a", "b"], "stream_missed": []}

    events = book_alerts("main", health, T0)

    assert [(e.name, dict(e.labels).get("source"), dict(e.figures)) for e in events] == [
        ("SourceStale", "position_risk", {}),
        ("SourceDisagree", None, {"count": "2"}),
    ]
    assert book_alerts("main", {"silent": [], "disagreements": []}, T0) == []


def test_a_refused_rung_fires_and_a_market_reduce_is_told_once() -> None:
    failed = ladder_failed_alert("main", "BTCUSDT", -4045, T0)
    fired, resolved = market_reduce_alerts("main", "BTCUSDT", Decimal("0.010"), T0)

    assert (failed.severity, dict(failed.figures), failed.action) == (
        Severity.CRITICAL,
        {"code": "-4045"},
        "retrying",
    )
    assert (fired.firing, resolved.firing, dict(fired.figures)) == (True, False, {"qty": "0.010"})


def test_a_restart_is_reported_once_fired_and_resolved() -> None:
    rows = [_row("ledger", late=False, restarts=2), _row("heartbeat", late=False, restarts=1)]

    events = restart_alerts(rows, {"ledger:main": 1, "heartbeat:main": 1}, T0)

    assert [(e.name, dict(e.labels)["job"], e.firing) for e in events] == [
        ("ActorRestarted", "ledger", True),
        ("ActorRestarted", "ledger", False),
    ]
    assert restart_alerts(rows, {}, T0) == []  # first sight: nothing to compare with


def test_a_one_shot_fires_and_resolves_at_the_same_time() -> None:
    fired, resolved = one_shot("RiskdStarted", Severity.INFO, T0, {"account": ""})

    assert (fired.firing, resolved.firing, fired.at_ms, resolved.at_ms) == (True, False, T0, T0)
    assert fired.labels == (("alertname", "RiskdStarted"),)


def test_a_database_failure_fires_with_its_count_and_resolves_when_a_pass_works() -> None:
    failing = database_alert("main", "ledger", True, 3, T0)
    works = database_alert("main", "ledger", False, 3, T0 + 1)

    assert (failing.name, failing.severity, dict(failing.figures)) == (
        "DatabaseError",
        Severity.CRITICAL,
        {"failures": "3"},
    )
    assert (works.fingerprint, works.firing) == (failing.fingerprint, False)


def test_an_unsafe_key_fires_critical_with_its_findings_and_resolves_once_safe() -> None:
    unsafe = dataclasses.replace(SAFE_KEY, enable_withdrawals=True, ip_restrict=False)
    check = KeyCheck("main").read(unsafe, T0)

    (fired,) = api_key_alerts(check, T0)
    events, firing = still_firing([fired], {}, T0)
    resolved, _ = still_firing(api_key_alerts(check.read(SAFE_KEY, T0 + 1), T0 + 1), firing, T0 + 1)

    assert (fired.name, fired.severity, fired.firing, fired.action) == (
        "ApiKeyUnsafe",
        Severity.CRITICAL,
        True,
        "fix_key",
    )
    assert dict(fired.labels) == {"alertname": "ApiKeyUnsafe", "account": "main"}
    assert dict(fired.figures) == {"findings": "WITHDRAWALS_ENABLED,NO_IP_RESTRICTION"}
    assert events == [fired]
    assert [(e.fingerprint, e.firing) for e in resolved] == [(fired.fingerprint, False)]


def test_an_ending_trading_authority_warns_with_its_end_and_info_fires_nothing() -> None:
    ending = dataclasses.replace(SAFE_KEY, trading_authority_expiration_ms=T0 + 86_400_000)
    far = dataclasses.replace(ending, trading_authority_expiration_ms=T0 + 30 * 86_400_000)

    (warned,) = api_key_alerts(KeyCheck("main").read(ending, T0), T0)

    assert warned.severity == Severity.WARNING
    assert dict(warned.figures) == {
        "findings": "TRADING_AUTHORITY_EXPIRES",
        "until_ms": str(T0 + 86_400_000),
    }
    assert api_key_alerts(KeyCheck("main").read(far, T0), T0) == []
    assert api_key_alerts(KeyCheck("main").failed("down", T0), T0) == []
