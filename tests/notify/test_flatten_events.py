"""The emergency flatten's alerts (``riskd.notify.events``): started, finished flat, and
incomplete with what is left; each a one-shot whose card shows only whitelisted fields."""

from __future__ import annotations

from decimal import Decimal

from riskd.notify.alerts import Alert, AlertEvent, Severity
from riskd.notify.card import shown_fields, title_of
from riskd.notify.events import flatten_finished_alerts, flatten_started_alerts
from riskd.positions import PositionKey
from riskd.protect.flatten import FlattenProgress, FlattenStep, SliceStatus, StepStatus
from tests.kit.flatten import SMALL_LOTS, STARTED_MS, request


def _card_fields(event: AlertEvent) -> dict[str, str]:
    alert = Alert(
        event.name, event.labels, event.severity, STARTED_MS, STARTED_MS, figures=event.figures
    )
    return dict(shown_fields(alert, "en"))


def test_a_started_flatten_is_told_once_with_its_scope_and_operator() -> None:
    wanted = request("BTCUSDT", "r1")
    firing, resolved = flatten_started_alerts("main", wanted.scope, "alice", STARTED_MS)
    assert (firing.name, firing.severity, firing.firing, resolved.firing) == (
        "FlattenStarted",
        Severity.WARNING,
        True,
        False,
    )
    assert dict(firing.labels) == {
        "alertname": "FlattenStarted",
        "account": "main",
        "symbol": "BTCUSDT",
        "robot": "r1",
        "source": "operator:alice",
    }
    assert title_of("FlattenStarted", "en") == "Flatten started"
    assert _card_fields(firing)["Robot"] == "r1"


def test_a_flat_flatten_is_finished_and_an_incomplete_one_is_critical_with_what_is_left() -> None:
    wanted = request("BTCUSDT")
    flat = FlattenProgress("main", wanted, STARTED_MS)
    flat.step(FlattenStep.STOP, StepStatus.DONE)
    flat.cancels_finished()
    flat.positions_read({})
    (firing, _) = flatten_finished_alerts(wanted.scope, flat.report(STARTED_MS + 10))
    assert (firing.name, firing.severity, firing.action) == (
        "FlattenFinished",
        Severity.INFO,
        "flattened",
    )

    left = FlattenProgress("main", wanted, STARTED_MS)
    left.step(FlattenStep.STOP, StepStatus.DONE)
    left.cancels_finished()
    left.positions_read({PositionKey("BTCUSDT", "BOTH"): Decimal("-0.3")})
    (order,) = left.next_slices({"BTCUSDT": SMALL_LOTS}, attempt=1)
    left.attempts = 1
    left.sending(order)
    left.answered(order, SliceStatus.REJECTED, code=-2022, message="ReduceOnly Order is rejected.")
    left.positions_read({PositionKey("BTCUSDT", "BOTH"): Decimal("-0.3")})
    firing, resolved = flatten_finished_alerts(wanted.scope, left.report(STARTED_MS + 900))
    assert (firing.name, firing.severity, firing.action, resolved.firing) == (
        "FlattenIncomplete",
        Severity.CRITICAL,
        "flatten_incomplete",
        False,
    )
    assert dict(firing.figures) == {
        "count": "1",
        "status": "REJECTED",
        "qty": "0.3",
        "code": "-2022",
    }
    shown = _card_fields(firing)
    assert (shown["Symbol"], shown["Quantity"], shown["Code"], shown["Status"]) == (
        "BTCUSDT",
        "0.3",
        "-2022",
        "REJECTED",
    )
