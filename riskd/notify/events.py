"""What each job reports to the Alerter: riskd's facts turned into alert events. Pure.

Level-triggered facts (a lock, a trading state, an unhealthy job, a silent source) are reported
on every pass while they hold and resolved when they end (``still_firing`` keeps track); an
alert not reported again resolves by itself after the route's ``resolve_timeout_ms``. One-off
facts (a restart, riskd starting) are reported as firing and resolved at once, so their card
says when it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, Final

from riskd.exchange.guard import IpEvent, IpEventKind
from riskd.exchange.key_safety import FindingCode, FindingSeverity, KeyCheck, KeyVerdict
from riskd.health import JobStatus
from riskd.notify.alerts import AlertEvent, Severity, labels_of
from riskd.pnl.daily import DayFigures
from riskd.pnl.report import decimal_text
from riskd.protect.flatten import FlattenOutcome, FlattenReport, FlattenScope, StepStatus
from riskd.risk.banlist import BanListLock
from riskd.risk.locks import ALL, TradingState, operator_source

_IP_ALERTS = {
    IpEventKind.RATE_LIMITED: ("RateLimited", Severity.WARNING, True, "backed_off"),
    IpEventKind.RATE_LIMIT_ENDED: ("RateLimited", Severity.WARNING, False, "none"),
    IpEventKind.BANNED: ("IpBanned", Severity.CRITICAL, True, "paused_ip"),
    IpEventKind.BAN_ENDED: ("IpBanned", Severity.CRITICAL, False, "none"),
}
DAILY_SUMMARY: Final = "DailySummary"


def event(
    name: str,
    severity: Severity,
    firing: bool,
    at_ms: int,
    labels: Mapping[str, str],
    figures: Mapping[str, str] | None = None,
    action: str = "",
    *,
    once: bool = False,
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
        once,
    )


def one_shot(
    name: str,
    severity: Severity,
    at_ms: int,
    labels: Mapping[str, str],
    action: str = "",
    *,
    figures: Mapping[str, str] | None = None,
    once: bool = False,
) -> list[AlertEvent]:
    """A fact that happened once: firing and resolved at *at_ms*; told once ever if *once*."""
    return [
        event(name, severity, firing, at_ms, labels, figures, action, once=once)
        for firing in (True, False)
    ]


def _seconds(ms: int) -> str:
    return str(Decimal(max(ms, 0)) / 1000)


def ip_alert(ip_event: IpEvent, account: str) -> AlertEvent:
    """A 429 (RateLimited) or 418 (IpBanned) on an egress IP, or its end."""
    name, severity, firing, action = _IP_ALERTS[ip_event.kind]
    figures = {"retry_after_s": _seconds(ip_event.until_ms - ip_event.at_ms)} if firing else {}
    labels = {"account": account, "ip": ip_event.ip}
    return event(name, severity, firing, ip_event.at_ms, labels, figures, action)


def _lock_alert(
    account: str, lock: BanListLock, firing: bool, at_ms: int, figures: Mapping[str, str]
) -> AlertEvent:
    labels = {"account": account, "side": lock.side, "source": lock.source}
    if lock.robot:  # one robot's lock: the others trade on
        labels["robot"] = lock.robot
    if lock.symbol == ALL:
        name, severity = "AllLocked", Severity.WARNING if lock.robot else Severity.CRITICAL
    else:
        name, severity = "SymbolLocked", Severity.WARNING
        labels["symbol"] = lock.symbol
    shown = dict(figures)
    if lock.until_ms is not None and firing:
        shown["until_ms"] = str(lock.until_ms)
    return event(name, severity, firing, at_ms, labels, shown, "locked" if firing else "unlocked")


def lock_alerts(
    account: str,
    before: Iterable[BanListLock],
    now: Iterable[BanListLock],
    at_ms: int,
    figures_of: Callable[[BanListLock], Mapping[str, str]] = lambda lock: {},
) -> list[AlertEvent]:
    """Every published lock (firing again), and every lock in *before* no longer published;
    a lock's card shows ``figures_of(lock)`` (its rule's window, threshold, the loss)."""
    current = {lock.id: lock for lock in now}
    ended = [lock for lock in before if lock.id not in current]
    return [_lock_alert(account, lock, False, at_ms, figures_of(lock)) for lock in ended] + [
        _lock_alert(account, lock, True, at_ms, figures_of(lock)) for lock in current.values()
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


def still_firing(
    firing: Iterable[AlertEvent], before: Mapping[str, AlertEvent], at_ms: int
) -> tuple[list[AlertEvent], dict[str, AlertEvent]]:
    """*firing* (what fires now, reported again) plus a resolve for each alert of *before*
    that no longer fires; and what fires now, by fingerprint, for the next call."""
    now = {alert.fingerprint: alert for alert in firing}
    resolved = [
        replace(alert, firing=False, at_ms=at_ms, figures=(), action="none")
        for key, alert in before.items()
        if key not in now
    ]
    return [*now.values(), *resolved], now


def health_alerts(rows: Iterable[JobStatus], at_ms: int) -> list[AlertEvent]:
    """JobUnhealthy for every job that cannot vouch for its data."""
    events: list[AlertEvent] = []
    for row in rows:
        if row.healthy():
            continue
        lag_ms = (row.health or {}).get("lag_ms")
        figures = {"lag_s": _seconds(lag_ms)} if isinstance(lag_ms, int) else {}
        figures["status"] = row.state.upper()
        labels = _job_labels(row)
        events.append(
            event("JobUnhealthy", Severity.WARNING, True, at_ms, labels, figures, "retrying")
        )
    return events


def book_alerts(account: str, health: Mapping[str, Any], at_ms: int) -> list[AlertEvent]:
    """What an account's PositionBook cannot vouch for (``PositionBookActor.health``): each
    silent source, recent disagreements between sources, changes the user stream missed."""
    events = [
        event(
            "SourceStale",
            Severity.WARNING,
            True,
            at_ms,
            {"account": account, "source": source},
            action="ban_list_expiring",
        )
        for source in health.get("silent", ())
    ]
    for name, key in (("SourceDisagree", "disagreements"), ("StreamMissed", "stream_missed")):
        problems = health.get(key) or ()
        if problems:
            figures = {"count": str(len(problems))}
            events.append(
                event(name, Severity.WARNING, True, at_ms, {"account": account}, figures, "none")
            )
    return events


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


def ladder_failed_alert(account: str, symbol: str, code: int, at_ms: int) -> AlertEvent:
    """A stop rung Binance refused: the position may lack its stop until a pass succeeds."""
    labels = {"account": account, "symbol": symbol}
    figures = {"code": str(code)}
    return event("StopLadderFailed", Severity.CRITICAL, True, at_ms, labels, figures, "retrying")


def market_reduce_alerts(
    account: str, symbol: str, quantity: Decimal, at_ms: int
) -> list[AlertEvent]:
    """A rung refused with −2021 (the price is past it), reduced at market instead: once."""
    labels = {"account": account, "symbol": symbol}
    figures = {"qty": f"{quantity:f}"}
    return [
        event("MarketReduce", Severity.WARNING, firing, at_ms, labels, figures, "market_reduced")
        for firing in (True, False)
    ]


def database_alert(account: str, job: str, failing: bool, failures: int, at_ms: int) -> AlertEvent:
    """A job's pass failed on SQL (firing, with the failures in a row), or works again."""
    labels = {"account": account, "job": job}
    figures = {"failures": str(failures)} if failing else {}
    action = "retrying" if failing else "none"
    return event("DatabaseError", Severity.CRITICAL, failing, at_ms, labels, figures, action)


_KEY_SEVERITY: Final = {KeyVerdict.UNSAFE: Severity.CRITICAL, KeyVerdict.WARNING: Severity.WARNING}


def api_key_alerts(check: KeyCheck, at_ms: int) -> list[AlertEvent]:
    """ApiKeyUnsafe while the account's key, as last read, has a critical finding (critical)
    or a warning (warning): the findings' codes and, when it is one, the trading authority's
    end; nothing while it is safe or unchecked (``still_firing`` resolves it)."""
    severity = _KEY_SEVERITY.get(check.verdict)
    if severity is None:
        return []
    shown = [f.code for f in check.findings if f.severity is not FindingSeverity.INFO]
    figures = {"findings": ",".join(code.upper() for code in shown)}
    expiry_ms = check.trading_authority_expiration_ms
    if FindingCode.TRADING_AUTHORITY_EXPIRES in shown and expiry_ms is not None:
        figures["until_ms"] = str(expiry_ms)
    labels = {"account": check.account}
    return [event("ApiKeyUnsafe", severity, True, at_ms, labels, figures, "fix_key")]


def stream_silent_alert(route: str, silent_ms: int, at_ms: int, *, firing: bool) -> AlertEvent:
    """A market-data connection that pushed nothing for *silent_ms* was reconnected (firing),
    or its replacement delivers data again (resolved)."""
    labels = {"job": "market_stream:ws", "source": route}
    figures = {"age_s": _seconds(silent_ms)} if firing else {}
    action = "reconnected" if firing else "none"
    return event("MarketStreamSilent", Severity.WARNING, firing, at_ms, labels, figures, action)


def order_refused_alert(
    account: str, robot: str, symbol: str, refusal: str, at_ms: int
) -> AlertEvent:
    """The pre-trade gate refused a robot's order (once; grouped per account like others)."""
    labels = {"account": account, "robot": robot, "symbol": symbol}
    figures = {"status": refusal}
    return event("OrderRefused", Severity.WARNING, True, at_ms, labels, figures, "refused")


def _flatten_labels(account: str, scope: FlattenScope, operator: str) -> dict[str, str]:
    return {
        "account": account,
        "symbol": scope.symbol,
        "robot": scope.robot,
        "source": operator_source(operator),
    }


def flatten_started_alerts(
    account: str, scope: FlattenScope, operator: str, at_ms: int
) -> list[AlertEvent]:
    """An operator's flatten started (once): new risk stops, orders go, positions close."""
    labels = _flatten_labels(account, scope, operator)
    return one_shot("FlattenStarted", Severity.WARNING, at_ms, labels, "flattening")


def flatten_finished_alerts(scope: FlattenScope, report: FlattenReport) -> list[AlertEvent]:
    """A flatten ended (once): FlattenFinished when the exchange confirmed it flat, else
    FlattenIncomplete (critical) with what is left: how many positions, why (the first's
    reason, or the step that failed), and the symbol, amount and exchange code of a lone one."""
    labels = _flatten_labels(report.account, scope, report.operator)
    at_ms = report.ended_ms
    if report.outcome is FlattenOutcome.FLAT:
        figures = {"count": str(report.closed)}
        return [
            event("FlattenFinished", Severity.INFO, firing, at_ms, labels, figures, "flattened")
            for firing in (True, False)
        ]
    failed = [s for s in report.steps if s.status not in (StepStatus.DONE, StepStatus.SKIPPED)]
    why = report.left[0].reason.value if report.left else f"{failed[0].step.value}_failed"
    figures = {"count": str(len(report.left)), "status": why.upper()}
    if len(report.left) == 1:
        lone = report.left[0]
        labels["symbol"] = lone.symbol
        figures["qty"] = f"{abs(lone.amount):f}"
        codes = [
            s.code for s in report.slices if s.slice.symbol == lone.symbol and s.code is not None
        ]
        if codes:
            figures["code"] = str(codes[-1])
    return [
        event(
            "FlattenIncomplete",
            Severity.CRITICAL,
            firing,
            at_ms,
            labels,
            figures,
            "flatten_incomplete",
        )
        for firing in (True, False)
    ]


def _summary_figures(row: DayFigures) -> dict[str, str]:
    figures = {
        "realized_pnl": decimal_text(row.realized_pnl),
        "commission": decimal_text(row.commission),
        "funding": decimal_text(row.funding),
        "net": decimal_text(row.net),
        "trades": str(row.trades),
    }
    if row.win_rate is not None:
        figures["win_rate"] = decimal_text(row.win_rate * 100)
    if row.worst_symbol:
        figures["worst_symbol"] = row.worst_symbol
    return figures


def daily_summary_alerts(
    account: str, figures: Sequence[DayFigures], at_ms: int
) -> list[AlertEvent]:
    """The summary of one UTC day of *account* from its total rows (one per asset): a one-off
    info alert per asset with a flow or a trade that day, or of the first row alone when none
    had (a quiet day's card still shows riskd watched it). Each is told once ever (``once``):
    reported again on every pass until the Alerter's record shows it, or after a restart, it
    makes no second card."""
    active = [
        row for row in figures if row.trades or row.realized_pnl or row.commission or row.funding
    ]
    return [
        alert
        for row in active or figures[:1]
        for alert in one_shot(
            DAILY_SUMMARY,
            Severity.INFO,
            at_ms,
            {"account": account, "day": row.day, "asset": row.asset},
            figures=_summary_figures(row),
            once=True,
        )
    ]


def summarized_days(account: str, told: Iterable[Mapping[str, str]]) -> set[str]:
    """The days whose summary of *account* was told, from the labels of told DailySummary
    alerts (``riskd.notify.alert_store.told_labels``)."""
    return {labels.get("day", "") for labels in told if labels.get("account") == account} - {""}
