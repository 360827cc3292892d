"""Cards show whitelisted fields only, in Chinese or English."""

from __future__ import annotations

import json

import pytest

from riskd.notify.alerts import Alert, Notification, Severity, labels_of
from riskd.notify.card import render

T0 = 1_790_000_000_000  # 2026-09-21 14:13:20 UTC
SECRET = "sk_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def _alert(
    name: str = "SymbolLocked",
    ends_ms: int | None = None,
    severity: Severity = Severity.WARNING,
    figures: dict[str, str] | None = None,
    action: str = "locked",
    **labels: str,
) -> Alert:
    return Alert(
        name=name,
        labels=labels_of(name, {"account": "main", **labels}),
        severity=severity,
        starts_ms=T0,
        updated_ms=T0,
        ends_ms=ends_ms,
        figures=tuple(sorted((figures or {}).items())),
        action=action,
    )


def _notification(*alerts: Alert, name: str = "SymbolLocked") -> Notification:
    firing = tuple(a for a in alerts if a.firing)
    resolved = tuple(a for a in alerts if not a.firing)
    group = (("alertname", name), ("account", "main"))
    return Notification("g1", group, firing, resolved, T0 + 30_000)


def test_a_ban_card_shows_the_account_symbol_figures_and_what_riskd_did() -> None:
    alert = _alert(
        symbol="BTCUSDT",
        side="both",
        source="rule:symbol_4h",
        figures={"pnl_usdt": "-200.5", "window": "4h", "until_ms": str(T0 + 3_600_000)},
    )

    message = render([_notification(alert)], "u-1", "prod", "en")

    assert message.uuid == "u-1"
    assert message.card["header"] == {
        "template": "orange",
        "title": {"tag": "plain_text", "content": "[FIRING 1] Symbol locked · main"},
    }
    body = message.card["elements"][0]["text"]["content"]
    assert "Symbol BTCUSDT" in body and "PnL -200.5 USDT" in body and "Window 4h" in body
    assert "Until 2026-09-21 15:13:20 UTC" in body
    assert "riskd: opening is banned" in body
    assert message.text.splitlines()[0] == "[FIRING 1] Symbol locked · main"


def test_the_card_speaks_chinese_when_configured() -> None:
    message = render([_notification(_alert(symbol="BTCUSDT"))], "u-1", "prod", "zh")

    assert message.card["header"]["title"]["content"] == "[告警 1] 品种禁止开仓 · main"
    assert "处理: 已禁止开仓" in message.card["elements"][0]["text"]["content"]


def test_a_resolved_only_card_is_green() -> None:
    message = render([_notification(_alert(ends_ms=T0 + 5_000, symbol="BTCUSDT"))], "u", "p", "en")

    assert message.card["header"]["template"] == "green"
    assert "[RESOLVED 1]" in message.card["header"]["title"]["content"]
    assert "ended 2026-09-21 14:13:25 UTC" in message.text


def test_a_critical_alert_makes_the_card_red() -> None:
    alert = _alert("IpBanned", severity=Severity.CRITICAL, ip="10.0.0.5", action="paused_ip")

    message = render([_notification(alert, name="IpBanned")], "u", "p", "en")

    assert message.card["header"]["template"] == "red"


@pytest.mark.parametrize(
    "alert",
    [
        _alert(symbol="BTCUSDT", detail=SECRET),  # an unknown label
        _alert(symbol=SECRET),  # a value that is not a symbol
        _alert(job=f"ledger:{SECRET}"),  # too long for a name
        _alert(symbol="BTCUSDT", figures={"pnl_usdt": SECRET, "note": SECRET}),
        _alert(symbol="BTCUSDT", action=SECRET),
        _alert(SECRET, symbol="BTCUSDT"),  # even as the alert's name
    ],
)
def test_a_secret_in_an_event_never_reaches_the_card(alert: Alert) -> None:
    message = render([_notification(alert, name=alert.name)], "u", SECRET, "en")

    assert SECRET not in json.dumps(message.card, ensure_ascii=False)
    assert SECRET not in message.text


def test_several_groups_coalesce_into_one_digest_card() -> None:
    locked = _notification(_alert(symbol="BTCUSDT"), _alert(symbol="ETHUSDT"))
    banned = _notification(
        _alert("IpBanned", severity=Severity.CRITICAL, ip="10.0.0.5"), name="IpBanned"
    )

    message = render([locked, banned], "u", "prod", "en")

    assert message.card["header"]["title"]["content"] == "riskd · 2 updates"
    assert message.card["header"]["template"] == "red"
    headings = [
        e["text"]["content"]
        for e in message.card["elements"]
        if e["tag"] == "div" and e["text"]["content"].startswith("**")
    ]
    assert headings == [
        "**[FIRING 2] Symbol locked · main**",
        "**[FIRING 1] IP banned (418) · main**",
    ]


def test_nothing_to_render_is_an_error() -> None:
    with pytest.raises(ValueError, match="nothing to render"):
        render([], "u", "p", "en")


def test_a_one_off_fact_is_a_notice_in_its_severitys_colour_not_a_recovery() -> None:
    fact = _alert("FlattenIncomplete", T0, Severity.CRITICAL, {"count": "1"}, "flatten_incomplete")

    message = render([_notification(fact, name="FlattenIncomplete")], "u", "p", "en")

    assert message.card["header"]["template"] == "red"
    assert message.card["header"]["title"]["content"] == "[NOTICE 1] Flatten incomplete · main"
    assert "🔔 Account main · Count 1 | at 2026-09-21 14:13:20 UTC" in message.text


@pytest.mark.parametrize(
    ("language", "title", "findings", "action"),
    [
        (
            "en",
            "[FIRING 1] API key unsafe · main",
            "Findings withdrawals enabled, no IP restriction",
            "riskd: tighten the key's permissions in Binance's API management",
        ),
        (
            "zh",
            "[告警 1] API 密钥权限不安全 · main",
            "问题 已开启提现、未限制 IP",
            "处理: 请在币安 API 管理中收紧此密钥的权限",
        ),
    ],
)
def test_an_unsafe_key_card_names_what_is_wrong_in_either_language(
    language: str, title: str, findings: str, action: str
) -> None:
    codes = "WITHDRAWALS_ENABLED,NO_IP_RESTRICTION,TELEPORT_ENABLED"  # the last: not a finding
    alert = _alert("ApiKeyUnsafe", None, Severity.CRITICAL, {"findings": codes}, "fix_key")

    message = render([_notification(alert, name="ApiKeyUnsafe")], "u", "p", language)

    assert message.card["header"] == {
        "template": "red",
        "title": {"tag": "plain_text", "content": title},
    }
    assert findings in message.text and action in message.text
    assert "TELEPORT" not in message.text
