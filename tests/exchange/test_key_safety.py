"""An API key's restrictions as Binance answers them, judged against the seed's advice, and
the check riskd keeps of it over time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from riskd.core.clock import DAY_MS, HOUR_MS
from riskd.exchange.key_safety import (
    ApiRestrictions,
    FindingCode,
    FindingSeverity,
    KeyCheck,
    KeyVerdict,
    judge,
    parse_api_restrictions,
)
from riskd.exchange.parse import PayloadError

NOW_MS = 1_790_000_000_000  # 2026-09-21 14:13:20 UTC
# Binance's documented example (GET /sapi/v1/account/apiRestrictions).
DOCUMENTED = {
    "ipRestrict": False,
    "createTime": 1698645219000,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": False,
    "enableFutures": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableSpotAndMarginTrading": False,
    "enablePortfolioMarginTrading": False,
    "tradingAuthorityExpirationTime": 1628985600000,
}
SAFE = ApiRestrictions(
    ip_restrict=True,
    enable_reading=True,
    enable_withdrawals=False,
    enable_futures=True,
    create_time_ms=NOW_MS - DAY_MS,
)
CRITICAL, WARNING, INFO = FindingSeverity.CRITICAL, FindingSeverity.WARNING, FindingSeverity.INFO


def test_binances_documented_answer_is_read() -> None:
    assert parse_api_restrictions(DOCUMENTED) == ApiRestrictions(
        ip_restrict=False,
        enable_reading=True,
        enable_withdrawals=False,
        enable_futures=False,
        create_time_ms=1698645219000,
        trading_authority_expiration_ms=1628985600000,
    )


@pytest.mark.parametrize("expiry", ["left out", None, 0])
def test_a_trading_authority_left_out_null_or_0_is_not_reported(expiry: object) -> None:
    body = {k: v for k, v in DOCUMENTED.items() if k != "tradingAuthorityExpirationTime"}
    if expiry != "left out":
        body["tradingAuthorityExpirationTime"] = expiry

    assert parse_api_restrictions(body).trading_authority_expiration_ms is None


def test_other_permissions_are_named_and_unknown_fields_ignored() -> None:
    body = DOCUMENTED | {"enableInternalTransfer": True, "enableFixApiTrade": True}
    del body["enableVanillaOptions"]  # an optional permission Binance leaves out: not enabled

    assert parse_api_restrictions(body).extra_permissions == ("enableInternalTransfer",)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([DOCUMENTED], "body: a list is not an object"),
        ({**DOCUMENTED, "ipRestrict": None}, "ipRestrict: null is not a boolean"),
        ({**DOCUMENTED, "enableWithdrawals": "false"}, "enableWithdrawals: a string is not a"),
        (
            {k: v for k, v in DOCUMENTED.items() if k != "enableFutures"},
            "enableFutures: is missing",
        ),
        ({**DOCUMENTED, "createTime": -1}, "createTime: an integer is not a time in ms"),
        ({**DOCUMENTED, "enableMargin": 1}, "enableMargin: an integer is not a boolean"),
        (
            {**DOCUMENTED, "tradingAuthorityExpirationTime": "soon"},
            "tradingAuthorityExpirationTime: a string is not a time in ms",
        ),
    ],
)
def test_a_bad_answer_names_the_field_in_one_line(body: object, error: str) -> None:
    with pytest.raises(PayloadError) as refused:
        parse_api_restrictions(body)

    assert str(refused.value).startswith(f"GET /sapi/v1/account/apiRestrictions: {error}")
    assert "\n" not in str(refused.value)


def test_a_key_for_reading_and_futures_bound_to_ips_is_safe() -> None:
    check = KeyCheck("main").read(SAFE, NOW_MS)

    assert (check.findings, check.verdict, check.ok) == ((), KeyVerdict.SAFE, True)
    assert check.summary() == "safe"


@pytest.mark.parametrize(
    ("change", "code", "severity", "verdict"),
    [
        ({"enable_withdrawals": True}, FindingCode.WITHDRAWALS_ENABLED, CRITICAL, "unsafe"),
        ({"ip_restrict": False}, FindingCode.NO_IP_RESTRICTION, CRITICAL, "unsafe"),
        ({"enable_reading": False}, FindingCode.READING_DISABLED, CRITICAL, "unsafe"),
        ({"enable_futures": False}, FindingCode.FUTURES_DISABLED, WARNING, "warning"),
        (
            {"extra_permissions": ("enableSpotAndMarginTrading", "permitsUniversalTransfer")},
            FindingCode.EXTRA_PERMISSIONS,
            INFO,
            "safe",
        ),
    ],
)
def test_each_finding_has_its_severity_and_decides_the_verdict(
    change: dict, code: FindingCode, severity: FindingSeverity, verdict: str
) -> None:
    check = KeyCheck("main").read(replace(SAFE, **change), NOW_MS)

    assert [(f.code, f.severity) for f in check.findings] == [(code, severity)]
    assert check.verdict == KeyVerdict(verdict)
    assert check.ok == (verdict == "safe")


def test_findings_come_most_severe_first_and_the_summary_gives_what_is_wrong() -> None:
    key = replace(SAFE, enable_futures=False, enable_withdrawals=True, ip_restrict=False)

    check = KeyCheck("main").read(replace(key, extra_permissions=("enableMargin",)), NOW_MS)

    assert [f.severity for f in check.findings] == [CRITICAL, CRITICAL, WARNING, INFO]
    assert check.summary() == (
        "unsafe: withdrawals are enabled: whoever has the key can move the funds off Binance; "
        "no IP restriction: the key works from any address; futures trading is not enabled: "
        "riskd cannot place or cancel stop-losses"
    )
    assert check.findings[-1].text == "enabled beyond reading and futures trading: margin"


@pytest.mark.parametrize(
    ("ends_in_ms", "severity", "text"),
    [
        (7 * DAY_MS + 1, INFO, "ends 2026-09-28 14:13:20Z"),
        (7 * DAY_MS, WARNING, "ends 2026-09-28 14:13:20Z"),
        (-1, WARNING, "ended 2026-09-21 14:13:19Z"),
    ],
)
def test_the_trading_authoritys_end_is_info_until_a_week_before_it(
    ends_in_ms: int, severity: FindingSeverity, text: str
) -> None:
    key = replace(SAFE, trading_authority_expiration_ms=NOW_MS + ends_in_ms)

    (finding,) = judge(key, NOW_MS)

    assert (finding.code, finding.severity) == (FindingCode.TRADING_AUTHORITY_EXPIRES, severity)
    assert finding.text == f"the trading authority {text}"


def test_a_key_is_unchecked_and_due_until_read_then_due_an_hour_after_each_attempt() -> None:
    fresh = KeyCheck("main")
    assert (fresh.verdict, fresh.ok, fresh.due(NOW_MS)) == (KeyVerdict.UNCHECKED, False, True)
    assert fresh.summary() == "not checked yet"

    read = fresh.read(SAFE, NOW_MS)
    failed = read.failed("GET /sapi/v1/account/apiRestrictions: cannot connect", NOW_MS + HOUR_MS)

    assert not read.due(NOW_MS + HOUR_MS - 1) and read.due(NOW_MS + HOUR_MS)
    assert not failed.due(NOW_MS + 2 * HOUR_MS - 1) and failed.due(NOW_MS + 2 * HOUR_MS)


def test_a_failed_read_keeps_what_was_known_and_is_not_ok() -> None:
    unsafe = KeyCheck("main").read(replace(SAFE, enable_withdrawals=True), NOW_MS)

    failed = unsafe.failed("HTTP 401 code -2015: Invalid API-key", NOW_MS + HOUR_MS)

    assert (failed.verdict, failed.checked_ms, failed.attempted_ms) == (
        KeyVerdict.UNSAFE,
        NOW_MS,
        NOW_MS + HOUR_MS,
    )
    assert failed.summary().endswith(
        "(the last check failed: HTTP 401 code -2015: Invalid API-key)"
    )
    assert not KeyCheck("main").read(SAFE, NOW_MS).failed("timeout", NOW_MS).ok


def test_a_never_read_key_says_why_and_an_error_loses_url_queries_and_controls() -> None:
    error = "GET http://127.0.0.1:8765/sapi/v1/x?signature=abc123 \x1b[2J down"

    check = KeyCheck("main").failed(error, NOW_MS)

    assert check.summary() == "unchecked: GET http://127.0.0.1:8765/sapi/v1/x?… \\x1b[2J down"
    assert "abc123" not in str(check.to_dict())


def test_the_check_as_shown_is_plain_data() -> None:
    key = replace(SAFE, ip_restrict=False, trading_authority_expiration_ms=NOW_MS + DAY_MS)

    shown = KeyCheck("main").read(key, NOW_MS).to_dict()

    assert shown == {
        "account": "main",
        "verdict": "unsafe",
        "ok": False,
        "summary": "unsafe: no IP restriction: the key works from any address; "
        "the trading authority ends 2026-09-22 14:13:20Z",
        "findings": [
            {
                "code": "no_ip_restriction",
                "severity": "critical",
                "text": "no IP restriction: the key works from any address",
            },
            {
                "code": "trading_authority_expires",
                "severity": "warning",
                "text": "the trading authority ends 2026-09-22 14:13:20Z",
            },
        ],
        "checked_ms": NOW_MS,
        "trading_authority_expiration_ms": NOW_MS + DAY_MS,
        "attempted_ms": NOW_MS,
        "error": None,
    }
