"""What each job reports to the Alerter: riskd's facts turned into alert events. Pure.

Level-triggered facts (a lock, a trading state, an unhealthy job) are reported on every pass
while they hold and resolved when they end; an alert not reported again resolves by itself
after the route's ``resolve_timeout_ms``. One-off facts (a restart, riskd starting) are
reported as firing and resolved at once, so their card says when it happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from riskd.alerts import AlertEvent, Severity, labels_of
from riskd.banlist import BanListLock
from riskd.exchange.guard import IpEvent, IpEventKind
from riskd.health import JobStatus
from riskd.locks import ALL, TradingState

_IP_ALERTS = {
    IpEventKind.RATE_LIMITED: ("RateLimited", Severity.WARNING, True, "backed_off"),
    IpEventKind.RATE_LIMIT_ENDED: ("RateLimited", Severity.WARNING, False, "none"),
    IpEventKind.BANNED: ("IpBanned", Severity.CRITICAL, True, "paused_ip"),
    IpEventKind.BAN_ENDED: ("IpBanned", Severity.CRITICAL, False, "none"),
}


def event(
    name: str,
    severity: Severity,
    firing: bool,
    at_ms: int,
    labels: Mapping[str, str],
    figures: Mapping[str, str] | None = None,
    action: str = "",
) -> AlertEvent:
    """An alert event; labels with an empty value are left out."""
    shown = {key: value for key, value in labels.items() if value}
    return AlertEvent(
        name,
        labels_of(name, shown),
        severity,
        firing,
        at_ms,
        tuple(sorted((figures or {}).items())),
        action,
    )


def one_shot(
    name: str, severity: Severity, at_ms: int, labels: Mapping[str, str], action: str = ""
) -> list[AlertEvent]:
    """A fact that happened once: firing and resolved at *at_ms*."""
    return [event(name, severity, firing, at_ms, labels, action=action) for firing in (True, False)]


def _seconds(ms: int) -> str:
    return str(Decimal(max(ms, 0)) / 1000)


def ip_alert(ip_event: IpEvent, account: str) -> AlertEvent:
    """A 429 (RateLimited) or 418 (IpBanned) on an egress IP, or its end."""
    name, severity, firing, action = _IP_ALERTS[ip_event.kind]
    figures = {"retry_after_s": _seconds(ip_event.until_ms - ip_event.at_ms)} if firing else {}
    labels = {"account": account, "ip": ip_event.ip}
    return event(name, severity, firing, ip_event.at_ms, labels, figures, action)


def _lock_alert(account: str, lock: BanListLock, firing: bool, at_ms: int) -> AlertEvent:
    labels = {"account": account, "side": lock.side, "source": lock.source}
    if lock.symbol == ALL:
        name, severity = "AllLocked", Severity.CRITICAL
    else:
        name, severity = "SymbolLocked", Severity.WARNING
        labels["symbol"] = lock.symbol
    figures = {"until_ms": str(lock.until_ms)} if lock.until_ms is not None and firing else {}
    return event(name, severity, firing, at_ms, labels, figures, "locked" if firing else "unlocked")


def lock_alerts(
    account: str, before: Iterable[BanListLock], now: Iterable[BanListLock], at_ms: int
) -> list[AlertEvent]:
    """Every published lock (firing again), and every lock in *before* no longer published."""
    current = {lock.id: lock for lock in now}
    ended = [lock for lock in before if lock.id not in current]
    return [_lock_alert(account, lock, False, at_ms) for lock in ended] + [
        _lock_alert(account, lock, True, at_ms) for lock in current.values()
    ]


def state_alert(account: str, state: TradingState, at_ms: int) -> AlertEvent:
    """The account's trading state: firing while it is not ACTIVE."""
    firing = state is not TradingState.ACTIVE
    action = {TradingState.HALTED: "halted", TradingState.REDUCING: "reducing"}.get(state, "none")
    severity = Severity.CRITICAL if state is TradingState.HALTED else Severity.WARNING
    labels = {"account": account, "state": "" if not firing else state.value}
    return event("TradingState", severity, firing, at_ms, labels, action=action)


def _job_labels(row: JobStatus) -> dict[str, str]:
    egress = (row.health or {}).get("egress") or ""
    return {"account": row.account, "job": row.job, "ip": str(egress)}


def health_alerts(
    rows: Iterable[JobStatus], unhealthy_before: Iterable[str], at_ms: int
) -> tuple[list[AlertEvent], set[str]]:
    """JobUnhealthy for every job that cannot vouch for its data (firing again while it
    cannot), resolved for those in *unhealthy_before* that recovered; and the unhealthy
    jobs' names now (``job:account``)."""
    events: list[AlertEvent] = []
    unhealthy: set[str] = set()
    recovered = set(unhealthy_before)
    for row in rows:
        name = f"{row.job}:{row.account}"
        if row.healthy():
            if name in recovered:
                events.append(
                    event("JobUnhealthy", Severity.WARNING, False, at_ms, _job_labels(row))
                )
            continue
        unhealthy.add(name)
        lag_ms = (row.health or {}).get("lag_ms")
        figures = {"lag_s": _seconds(lag_ms)} if isinstance(lag_ms, int) else {}
        figures["status"] = row.state.upper()
        events.append(
            event(
                "JobUnhealthy", Severity.WARNING, True, at_ms, _job_labels(row), figures, "retrying"
            )
        )
    return events, unhealthy


def restart_alerts(
    rows: Iterable[JobStatus], restarts_before: Mapping[str, int], at_ms: int
) -> list[AlertEvent]:
    """ActorRestarted, once, for every job whose restart count grew."""
    events: list[AlertEvent] = []
    for row in rows:
        if row.restarts > restarts_before.get(f"{row.job}:{row.account}", row.restarts):
            labels = {"account": row.account, "job": row.job}
            events += one_shot("ActorRestarted", Severity.WARNING, at_ms, labels, "restarted")
    return events
